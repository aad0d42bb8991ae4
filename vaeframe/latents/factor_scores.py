"""Disentanglement of a trained model's latents against a dataset's known factors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from torch import nn

from vaeframe.grids import pack_grids
from vaeframe.latents.codes import encode_packed
from vaeframe.registry.calls import call_plugin
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


#: (factor name, count, rng) -> grids sharing one value of that factor; a dataset component's
#: optional ``fixed_factor_grids``
FixedFactorGrids = Callable[[str, int, np.random.Generator], Sequence[np.ndarray]]


def _factor_vae(model: nn.Module, data: GridData, sampler: FixedFactorGrids,
                train_codes: np.ndarray, batch_size: int, seed: int) -> dict[str, Any]:
    from vaeframe.latents.factorvae_score import factor_vae_score

    def codes_of(factor: int, count: int, rng: np.random.Generator) -> np.ndarray:
        grids = sampler(data.factors[factor], count, rng)
        mu, _ = encode_packed(model, pack_grids(list(grids), "fixed-factor grids"),
                              batch_size)
        return mu.numpy()

    return factor_vae_score(codes_of, len(data.factors), train_codes, seed=seed)


def factor_scores(model: nn.Module, data: GridData, batch_size: int,
                  seed: int = 0, sampler: FixedFactorGrids | None = None
                  ) -> dict[str, Any] | None:
    """MIG, DCI and SAP of the posterior means against ``data.factors``, or ``None`` when
    the dataset records no factors, with each factor's MIG term, its most informative dim and
    that dim's share of the factor's entropy (``per_factor``). Estimators are fitted on (at
    most 5,000) training grids and tested on (at most 5,000) held-out grids. With
    ``sampler`` (a dataset's ``fixed_factor_grids``), also the FactorVAE score
    (``factor_vae``), on fresh grids with one factor held fixed."""
    if not data.factors:
        return None
    # scikit-learn takes ~1.5 s to import: only runs on datasets with factors pay for it
    from vaeframe.latents.disentanglement import disentanglement_scores, mig_per_factor

    was_training = model.training
    model.eval()
    try:
        train, train_factors = _codes(model, data, "train", batch_size, seed)
        heldout, heldout_factors = _codes(model, data, "heldout", batch_size, seed)
        found: dict[str, Any] = {"factors": list(data.factors), "train_grids": len(train),
                                 "heldout_grids": len(heldout)}
        if sampler is not None:
            found["factor_vae"] = _factor_vae(model, data, sampler, train, batch_size, seed)
    finally:
        model.train(was_training)
    try:
        found.update(disentanglement_scores(train, train_factors, heldout, heldout_factors))
    except ValueError as exc:
        found["error"] = str(exc)
        return found
    terms = mig_per_factor(train, train_factors)
    found["per_factor"] = {name: term for name, term in zip(data.factors, terms, strict=True)
                           if term is not None}
    return found


def fixed_factor_sampler(dataset: Any) -> FixedFactorGrids | None:
    """A dataset component's ``fixed_factor_grids``, its failures naming the plugin; ``None``
    for a dataset that cannot draw such grids."""
    if not callable(getattr(dataset.params, "fixed_factor_grids", None)):
        return None
    return lambda factor, count, rng: call_plugin(dataset, "fixed_factor_grids", factor,
                                                  count, rng)
