"""MIG, DCI and SAP: pinned on tiny hand-worked cases, and ordered right on built codes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vaeframe.latents.disentanglement import (
    dci,
    dci_from_importance,
    disentanglement_scores,
    mig,
    mig_per_factor,
    mutual_information,
    sap,
)

CARDINALITIES = (3, 5, 8)

# Tiny case: four samples, factors v1 = [0, 0, 1, 1], v2 = [0, 1, 0, 1];
# codes z1 = v1, and z2 = [0, 1, 1, 1] which is 1 unless both factors are 0.
TINY_FACTORS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
TINY_CODES = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 1.0]])


def built(n: int, rng: np.random.Generator, noise: float = 0.01
          ) -> tuple[np.ndarray, np.ndarray]:
    """Factors, and codes with one dim per factor (scaled to [0, 1] plus noise) and two
    nuisance dims of uniform noise."""
    factors = np.stack([rng.integers(0, c, n) for c in CARDINALITIES], 1)
    aligned = factors / (np.array(CARDINALITIES) - 1) + noise * rng.normal(size=factors.shape)
    return np.hstack([aligned, rng.random((n, 2))]), factors


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    codes_train, factors_train = built(1500, rng)
    codes_test, factors_test = built(500, rng)
    rotation = np.linalg.qr(rng.normal(size=(5, 5)))[0]
    return {"train": codes_train, "test": codes_test, "factors_train": factors_train,
            "factors_test": factors_test, "rotation": rotation}


def scores(data: dict[str, np.ndarray], kind: str) -> dict[str, float]:
    if kind == "noise":
        rng = np.random.default_rng(1)
        train, test = rng.random(data["train"].shape), rng.random(data["test"].shape)
    else:
        rotate = data["rotation"] if kind == "rotated" else np.eye(5)
        train, test = data["train"] @ rotate, data["test"] @ rotate
    return disentanglement_scores(train, data["factors_train"], test, data["factors_test"])


def test_mutual_information_and_mig_match_the_hand_computation() -> None:
    # H(v1) = H(v2) = ln 2. I(z1; v1) = ln 2, I(z1; v2) = 0 (every pair appears once).
    # I(z2; v1): joint (z2, v1) = (0, 0): 1/4, (1, 0): 1/4, (1, 1): 1/2, p(z2 = 1) = 3/4, so
    #   1/4 ln 2 + 1/4 ln(2/3) + 1/2 ln(4/3) = 3/2 ln 2 - 3/4 ln 3; I(z2; v2) is the same.
    partial = 1.5 * math.log(2) - 0.75 * math.log(3)
    expected = np.array([[math.log(2), 0.0], [partial, partial]])
    np.testing.assert_allclose(mutual_information(TINY_CODES, TINY_FACTORS, bins=2), expected,
                               atol=1e-12)
    # Normalised by ln 2: v1's gap is 1 - a, v2's is a - 0 with a = 3/2 - 3/4 log2 3,
    # so MIG = ((1 - a) + a) / 2 = 1/2.
    assert mig(TINY_CODES, TINY_FACTORS, bins=2) == pytest.approx(0.5)


def test_dci_from_an_importance_matrix_matches_the_hand_computation() -> None:
    importance = np.array([[0.75, 0.0], [0.25, 1.0]])  # dims × factors
    # Dim 0 is all factor 0: 1 - H = 1. Dim 1 splits (0.2, 0.8): 1 - H2 = 1 - 0.721928.
    # Weights are the dims' shares of the total importance 2: 0.375 and 0.625.
    h = -(0.2 * math.log2(0.2) + 0.8 * math.log2(0.8))
    disentanglement = 0.375 * 1.0 + 0.625 * (1 - h)
    # Factor 0 splits (0.75, 0.25) over dims, factor 1 is all dim 1: mean of the 1 - H2.
    completeness = ((1 + 0.75 * math.log2(0.75) + 0.25 * math.log2(0.25)) + 1.0) / 2
    found = dci_from_importance(importance)
    assert found == pytest.approx((disentanglement, completeness))
    assert found == pytest.approx((0.548795, 0.594361), abs=1e-6)


def test_sap_matches_the_hand_computation() -> None:
    # Accuracy of the one-dim majority-bin classifiers (train = test): z1 gives v1 exactly (1)
    # and v2 at chance (each bin ties, 1/2); z2's high bin holds v1 = 0, 1, 1 and
    # v2 = 1, 0, 1, so both come out at 3/4. Gaps: v1 1 - 3/4, v2 3/4 - 1/2; SAP = 1/4.
    assert sap(TINY_CODES, TINY_FACTORS, TINY_CODES, TINY_FACTORS) == pytest.approx(0.25)


def test_an_axis_aligned_code_scores_near_one(data: dict[str, np.ndarray]) -> None:
    found = scores(data, "aligned")
    assert found["mig"] > 0.9
    assert found["dci_disentanglement"] > 0.9 and found["dci_completeness"] > 0.9
    assert found["dci_informativeness"] > 0.95
    assert found["sap"] > 0.5
    assert all(type(value) is float for value in found.values())


def test_a_rotated_code_scores_far_lower(data: dict[str, np.ndarray]) -> None:
    aligned, rotated = scores(data, "aligned"), scores(data, "rotated")
    assert rotated["mig"] < aligned["mig"] / 3
    assert rotated["dci_disentanglement"] < aligned["dci_disentanglement"] / 2
    assert rotated["sap"] < aligned["sap"] / 2


def test_pure_noise_scores_near_zero(data: dict[str, np.ndarray]) -> None:
    found = scores(data, "noise")
    assert found["mig"] < 0.05 and found["sap"] < 0.05
    assert found["dci_disentanglement"] < 0.05 and found["dci_completeness"] < 0.05
    chance = np.mean([1 / c for c in CARDINALITIES])
    assert found["dci_informativeness"] < chance + 0.1


def test_constant_factors_are_left_out(data: dict[str, np.ndarray]) -> None:
    codes, factors = data["train"][:300], data["factors_train"][:300]
    with_constant = np.hstack([factors, np.full((300, 1), 7)])
    assert mig(codes, with_constant) == mig(codes, factors)
    assert dci(codes, with_constant, codes, with_constant) == dci(codes, factors, codes, factors)
    with pytest.raises(ValueError, match="single value"):
        mig(codes, np.zeros((300, 2), dtype=np.int64))


def test_mig_does_not_depend_on_the_order_of_code_dims(data: dict[str, np.ndarray]) -> None:
    codes, factors = data["train"], data["factors_train"]
    assert mig(codes[:, ::-1], factors) == pytest.approx(mig(codes, factors))


@pytest.mark.parametrize(("codes", "factors"), [
    (np.zeros((4, 2)), np.zeros((3, 2), dtype=np.int64)),
    (np.zeros(4), np.zeros((4, 2), dtype=np.int64)),
    (np.zeros((4, 2)), np.zeros((4, 2))),
])
def test_bad_shapes_and_float_factors_are_refused(codes: np.ndarray, factors: np.ndarray
                                                  ) -> None:
    with pytest.raises(ValueError):
        mig(codes, factors)


def test_per_factor_terms_name_the_dim_that_carries_each_factor(data: dict[str, np.ndarray]
                                                               ) -> None:
    order = [3, 0, 4, 1, 2]  # factor j sits in code dim order.index(j)
    codes = data["train"][:, order]
    terms = mig_per_factor(codes, data["factors_train"])
    assert [t["dim"] for t in terms] == [order.index(j) for j in range(3)]
    assert all(t["gap"] > 0.9 and t["share"] >= t["gap"] for t in terms)
    assert np.mean([t["gap"] for t in terms]) == pytest.approx(mig(codes, data["factors_train"]))
    tiny = mig_per_factor(TINY_CODES, TINY_FACTORS)  # by hand: see the MIG test above
    assert [t["dim"] for t in tiny] == [0, 1]
    constant = mig_per_factor(TINY_CODES, np.array([[0, 0], [0, 1], [0, 0], [0, 1]]))
    assert constant[0] is None and constant[1] is not None
