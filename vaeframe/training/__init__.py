"""Training one run: the trainer and its collaborators.

- ``trainer``: the front end that assembles a run and runs its loops;
- ``assembly``: data, model, optimizer, β scheduler and step function of a run;
- ``fit_loop`` and ``epoch_loop``: epochs, and the batches of one epoch;
- ``loop_state``: what a checkpoint saves and restores of the loops;
- ``step`` and ``stats``: one optimisation step and its named statistics;
- ``objective``: the networks an objective trains (FactorVAE's discriminator), their optimizer;
- ``record``: what the trainer reports of a run, for its summary.json;
- ``fastpath``: the step in CUDA graphs or torch.compile;
- ``evaluation``: held-out and training accuracy, KL and active units;
- ``checkpointing``: when ``best.pt`` and ``last.pt`` are written;
- ``logging``: the run's loggers, called and timed in one place;
- ``clock``: the phases of a run's wall time;
- ``distributed``, ``signals``, ``rng``, ``allocator``, ``devices``: the process's world,
  its stop requests, its random state, its memory and its devices;
- ``data``, ``model``, ``kl``, ``beta``: dataset loading, the model contract, the KL of
  each latent dimension and the β scheduler.

Importing this package (or ``clock`` and ``beta``) does not import torch.
"""
