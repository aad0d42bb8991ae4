"""The latent space of a trained run: loading it, encoding grids, scoring disentanglement.

- ``trained``: ``load_run`` and ``TrainedRun`` (encode, decode, reconstruct, evaluate);
- ``codes``: batched encoding and decoding, and the crop of a decoded grid;
- ``encode``: the ``vaeframe encode`` command's table of latents (.npz, .csv);
- ``disentanglement`` and ``factor_scores``: MIG, DCI and SAP against a dataset's factors;
- ``factorvae_score``: the FactorVAE score, on grids drawn with one factor held fixed.
"""
