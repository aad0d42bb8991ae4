"""Disentanglement of a trained model's latents against a dataset's known factors."""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from vaeframe.grids import pack_grids
from vaeframe.latents.codes import encode_packed
from vaeframe.registry.types import GridData
from vaeframe.training.data import factor_matrix, grids_of

MAX_GRIDS = 5000  # per split: about 5 s of scikit-learn on one core at 32 dims, 6 factors


def _sample(count: int, seed: int) -> np.ndarray:
    if count <= MAX_GRIDS:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, MAX_GRIDS, replace=False))


def _codes(model: nn.Module, data: GridData, split: str, batch_size: int,
           seed: int) -> tuple[np.ndarray, np.ndarray]:
    grids = grids_of(data, split)
    rows = _sample(len(grids), seed)
    packed = pack_grids([grids[i] for i in rows], f"{split} grids")
    mu, _ = encode_packed(model, packed, batch_size)
    return mu.numpy(), factor_matrix(data, split)[rows]


def factor_scores(model: nn.Module, data: GridData, batch_size: int,
                  seed: int = 0) -> dict[str, Any] | None:
    """MIG, DCI and SAP of the posterior means against ``data.factors``, or ``None`` when
    the dataset records no factors, with each factor's MIG term, its most informative dim and
    that dim's share of the factor's entropy (``per_factor``). Estimators are fitted on (at
    most 5,000) training grids and tested on (at most 5,000) held-out grids."""
    if not data.factors:
        return None
    # scikit-learn takes ~1.5 s to import: only runs on datasets with factors pay for it
    from vaeframe.latents.disentanglement import disentanglement_scores, mig_per_factor

    was_training = model.training
    model.eval()
    try:
        train, train_factors = _codes(model, data, "train", batch_size, seed)
        heldout, heldout_factors = _codes(model, data, "heldout", batch_size, seed)
    finally:
        model.train(was_training)
    found: dict[str, Any] = {"factors": list(data.factors), "train_grids": len(train),
                             "heldout_grids": len(heldout)}
    try:
        found.update(disentanglement_scores(train, train_factors, heldout, heldout_factors))
    except ValueError as exc:
        found["error"] = str(exc)
        return found
    terms = mig_per_factor(train, train_factors)
    found["per_factor"] = {name: term for name, term in zip(data.factors, terms, strict=True)
                           if term is not None}
    return found
