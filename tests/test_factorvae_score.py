"""The FactorVAE score (Kim & Mnih 2018) on constructed codes, and a hand-checked vote."""

from __future__ import annotations

import numpy as np
import pytest

from vaeframe.latents.factorvae_score import factor_vae_score, votes

K = 4  # factors, each uniform on 10 values


def factors(n: int, rng: np.random.Generator, fixed: int | None = None) -> np.ndarray:
    values = rng.integers(0, 10, (n, K)).astype(np.float64)
    if fixed is not None:
        values[:, fixed] = rng.integers(0, 10)
    return values


def codes_by(transform):
    def codes_of(factor: int, batch: int, rng: np.random.Generator) -> np.ndarray:
        return transform(factors(batch, rng, factor), rng)
    return codes_of


def score(transform, seed: int = 0) -> float:
    rng = np.random.default_rng(99)
    data = transform(factors(5000, rng), rng)
    return factor_vae_score(codes_by(transform), K, data, seed=seed)["score"]


def test_one_dimension_per_factor_scores_about_one() -> None:
    assert score(lambda f, rng: f + 0.01 * rng.normal(size=f.shape)) > 0.99


def test_a_rotated_code_scores_lower() -> None:
    """45° in the planes of factors (0, 1) and (2, 3): each factor shares two dimensions."""
    half = np.sqrt(0.5)
    rotation = np.kron(np.eye(2), np.array([[half, half], [half, -half]]))
    aligned = score(lambda f, rng: f + 0.01 * rng.normal(size=f.shape))
    rotated = score(lambda f, rng: f @ rotation + 0.01 * rng.normal(size=f.shape))
    assert rotated < aligned - 0.3


def test_noise_scores_near_chance() -> None:
    found = score(lambda f, rng: rng.normal(size=(len(f), 6)))
    assert found < 1 / K + 0.15  # chance is 1/K with a majority vote over 6 noise dims


def test_collapsed_dimensions_take_no_part_and_none_active_scores_zero() -> None:
    with_dead = score(lambda f, rng: np.hstack([f, 0.001 * rng.normal(size=(len(f), 3))]))
    assert with_dead > 0.99  # a near-constant dimension would win every vote otherwise
    rng = np.random.default_rng(0)
    dead = factor_vae_score(lambda k, b, r: np.zeros((b, 3)), K, np.zeros((100, 3)))
    assert dead["score"] == 0.0 and dead["active_dims"] == 0
    assert rng is not None


def test_a_vote_counts_the_dimension_of_least_normalised_variance() -> None:
    batches = iter([np.array([[0.0, 1.0], [0.0, 3.0], [0.1, 5.0]]),  # dim 0: var 0.0033
                    np.array([[0.0, 1.0], [4.0, 1.0], [8.0, 1.0]])])  # dim 1: var 0
    chosen = iter([1, 0])

    class Rng:
        def integers(self, n: int) -> int:
            return next(chosen)

    found = votes(lambda k, b, r: next(batches), 2, np.array([1.0, 4.0]),
                  np.array([True, True]), 2, 3, Rng())
    # dim 0: 0.0033 / 1 < dim 1: 4 / 4 -> (0, factor 1); then dim 1 has zero variance
    assert found.tolist() == [[0, 1], [1, 0]]


@pytest.mark.parametrize("seed", [0, 1])
def test_the_score_is_reproducible_for_a_seed(seed: int) -> None:
    transform = lambda f, rng: f + 0.5 * rng.normal(size=f.shape)  # noqa: E731
    assert score(transform, seed) == score(transform, seed)
