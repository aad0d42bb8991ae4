"""The FactorVAE disentanglement score (Kim & Mnih 2018, "Disentangling by Factorising",
Sec. 4), for datasets that can draw grids with one factor held fixed.

One vote: pick a factor k at random, draw a batch of L grids sharing one value of k (the
other factors vary), encode them, divide each dimension's variance in the batch by its
variance over the whole data, and take the dimension with the smallest: (that dimension,
k). A majority-vote classifier maps each dimension to the factor it most often voted for;
the score is that classifier's accuracy on a second, independent set of votes. Dimensions
whose variance over the data is below 0.05 (collapsed) take no part, as in
disentanglement_lib. numpy only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

PRUNE_VARIANCE = 0.05  # disentanglement_lib's threshold for a collapsed dimension
BATCH = 64  # grids a vote (the paper: L = 200; disentanglement_lib: 64)
TRAIN_VOTES = 500  # disentanglement_lib: 10,000 and 5,000; fewer here to stay a few seconds
EVAL_VOTES = 300

#: codes_of(factor index, batch size, rng) -> (batch, d) codes of grids sharing that factor
CodesOf = Callable[[int, int, np.random.Generator], np.ndarray]


def votes(codes_of: CodesOf, num_factors: int, scale: np.ndarray, active: np.ndarray,
          count: int, batch: int, rng: np.random.Generator) -> np.ndarray:
    """``(active dims, factors)`` counts of which dimension had the least normalised
    variance in batches with each factor fixed."""
    found = np.zeros((int(active.sum()), num_factors), dtype=np.int64)
    for _ in range(count):
        factor = int(rng.integers(num_factors))
        codes = codes_of(factor, batch, rng)[:, active]
        local = codes.var(axis=0, ddof=1) / scale[active]
        found[int(np.argmin(local)), factor] += 1
    return found


def factor_vae_score(codes_of: CodesOf, num_factors: int, data_codes: np.ndarray, *,
                     batch: int = BATCH, train_votes: int = TRAIN_VOTES,
                     eval_votes: int = EVAL_VOTES, seed: int = 0) -> dict[str, Any]:
    """The score, its training accuracy and the active dimensions; ``data_codes`` are
    ``(n, d)`` codes of the data, whose per-dimension variance normalises each batch's."""
    scale = np.asarray(data_codes, dtype=np.float64).var(axis=0, ddof=1)
    active = scale >= PRUNE_VARIANCE
    result: dict[str, Any] = {"active_dims": int(active.sum()), "batch": batch,
                              "train_votes": train_votes, "eval_votes": eval_votes}
    if not active.any():
        return {**result, "score": 0.0, "train_accuracy": 0.0}
    rng = np.random.default_rng(seed)
    trained = votes(codes_of, num_factors, scale, active, train_votes, batch, rng)
    classifier = trained.argmax(axis=1)  # each active dimension's factor
    tested = votes(codes_of, num_factors, scale, active, eval_votes, batch, rng)
    rows = np.arange(len(classifier))
    return {**result,
            "score": float(tested[rows, classifier].sum() / max(tested.sum(), 1)),
            "train_accuracy": float(trained[rows, classifier].sum() / max(trained.sum(), 1)),
            "dimension_factor": [int(k) for k in classifier]}
