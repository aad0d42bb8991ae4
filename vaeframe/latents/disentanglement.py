"""Disentanglement metrics of latent codes against known factors: MIG, DCI and SAP.

``codes`` are ``(n, d)`` floats (e.g. posterior means), ``factors`` are ``(n, k)`` integer
labels (any integers). Factors that take a single value carry no information and are left
out of every score. numpy and scikit-learn only; no torch.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import mutual_info_score

DEFAULT_BINS = 20


def _check(codes: np.ndarray, factors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    codes, factors = np.asarray(codes, dtype=np.float64), np.asarray(factors)
    if codes.ndim != 2 or factors.ndim != 2 or len(codes) != len(factors) or not len(codes):
        raise ValueError(f"need codes (n, d) and factors (n, k) with the same n >= 1, got "
                         f"{codes.shape} and {factors.shape}")
    if not np.issubdtype(factors.dtype, np.integer):
        raise ValueError(f"factors must be integer labels, got dtype {factors.dtype}")
    return codes, factors


def _varying(factors: np.ndarray) -> np.ndarray:
    """Indices of the factors that take more than one value."""
    return np.flatnonzero((factors != factors[:1]).any(0))


def discretize(codes: np.ndarray, bins: int = DEFAULT_BINS) -> np.ndarray:
    """Each code dimension cut into ``bins`` equal-width bins over its range: ``(n, d)`` ints."""
    low, high = codes.min(0), codes.max(0)
    width = np.where(high > low, high - low, 1.0)
    return np.clip(((codes - low) / width * bins).astype(np.int64), 0, bins - 1)


def mutual_information(codes: np.ndarray, factors: np.ndarray,
                       bins: int = DEFAULT_BINS) -> np.ndarray:
    """``(d, k)`` mutual information in nats between each binned code dim and each factor."""
    codes, factors = _check(codes, factors)
    binned = discretize(codes, bins)
    return np.array([[mutual_info_score(factors[:, j], binned[:, i])
                      for j in range(factors.shape[1])] for i in range(codes.shape[1])])


def mig_per_factor(codes: np.ndarray, factors: np.ndarray, bins: int = DEFAULT_BINS
                   ) -> list[dict[str, float | int] | None]:
    """Per factor (``None`` for a factor with one value): its ``gap`` (the MIG term), the
    ``dim`` most informative about it and that dim's ``share`` of the factor's entropy."""
    codes, factors = _check(codes, factors)
    found: list[dict[str, float | int] | None] = [None] * factors.shape[1]
    keep = _varying(factors)
    if not keep.size:
        return found
    entropy = np.array([mutual_info_score(f, f) for f in factors[:, keep].T])
    info = mutual_information(codes, factors[:, keep], bins)
    ranked = np.argsort(-info, axis=0)
    for column, j in enumerate(keep):
        best = info[ranked[0, column], column]
        second = info[ranked[1, column], column] if info.shape[0] > 1 else 0.0
        found[j] = {"gap": float((best - second) / entropy[column]),
                    "dim": int(ranked[0, column]), "share": float(best / entropy[column])}
    return found


def mig(codes: np.ndarray, factors: np.ndarray, bins: int = DEFAULT_BINS) -> float:
    """Mutual Information Gap (Chen et al. 2018): per factor, the gap between the two code
    dims most informative about it over the factor's entropy, averaged over factors."""
    terms = [t["gap"] for t in mig_per_factor(codes, factors, bins) if t is not None]
    if not terms:
        raise ValueError("mig: every factor takes a single value")
    return float(np.mean(terms))


def _one_minus_entropy(p: np.ndarray, base: int) -> np.ndarray:
    """1 − entropy (log ``base``) of each row of ``p``, rows normalised to sum to 1."""
    if base == 1:
        return np.ones(len(p))
    total = p.sum(1, keepdims=True)
    p = np.divide(p, total, out=np.zeros_like(p), where=total > 0)
    logs = np.log(p, out=np.zeros_like(p), where=p > 0)
    return 1.0 + (p * logs).sum(1) / np.log(base)


def dci_from_importance(importance: np.ndarray) -> tuple[float, float]:
    """Disentanglement and completeness of a ``(d, k)`` importance matrix (Eastwood & Williams
    2018): each dim's 1 − entropy over factors (base k) weighted by the dim's share of total
    importance, and each factor's 1 − entropy over dims (base d) averaged over factors."""
    importance = np.asarray(importance, dtype=np.float64)
    d, k = importance.shape
    weights = importance.sum(1) / importance.sum()
    disentanglement = float(weights @ _one_minus_entropy(importance, k))
    completeness = float(_one_minus_entropy(importance.T, d).mean())
    return disentanglement, completeness


def _forest() -> RandomForestClassifier:
    """Every split sees every dim (``max_features=None``), so importance goes to the dim that
    explains the factor rather than to whichever dims were drawn; leaves of at least 1 % of
    the samples stop the trees fitting code noise, which hands nuisance dims importance."""
    return RandomForestClassifier(n_estimators=20, max_features=None, min_samples_leaf=0.01,
                                  random_state=0)


def dci(codes_train: np.ndarray, factors_train: np.ndarray, codes_test: np.ndarray,
        factors_test: np.ndarray) -> dict[str, float]:
    """DCI (Eastwood & Williams 2018) with a random forest per factor.

    The importance of dim i for factor j is the forest's impurity-based
    ``feature_importances_``. A random forest, not gradient boosting: it is one of the
    regressors of the original paper, it needs no scaling of the codes, its importances are
    non-negative and sum to 1 per factor, and one tree serves every class where gradient
    boosting fits a tree per class per stage, so it is many times faster (about 2 s for
    n = 5000, d = 10, k = 5). Informativeness is the forests' mean test accuracy.
    """
    codes_train, factors_train = _check(codes_train, factors_train)
    codes_test, factors_test = _check(codes_test, factors_test)
    keep = _varying(factors_train)
    if not keep.size:
        raise ValueError("dci: every training factor takes a single value")
    importance = np.zeros((codes_train.shape[1], keep.size))
    accuracy = np.zeros(keep.size)
    for column, j in enumerate(keep):
        forest = _forest().fit(codes_train, factors_train[:, j])
        importance[:, column] = forest.feature_importances_
        accuracy[column] = forest.score(codes_test, factors_test[:, j])
    disentanglement, completeness = dci_from_importance(importance)
    return {"disentanglement": disentanglement, "completeness": completeness,
            "informativeness": float(accuracy.mean())}


def _binned_accuracy(train: np.ndarray, labels_train: np.ndarray, test: np.ndarray,
                     labels_test: np.ndarray, bins: int) -> float:
    """Test accuracy of predicting the label from one code dim by the majority label of its
    bin on the training set (equal-width bins over the training range)."""
    low, high = train.min(), train.max()
    width = high - low if high > low else 1.0
    where_train = np.clip(((train - low) / width * bins).astype(np.int64), 0, bins - 1)
    where_test = np.clip(((test - low) / width * bins).astype(np.int64), 0, bins - 1)
    counts = np.zeros((bins, labels_train.max() + 1))
    np.add.at(counts, (where_train, labels_train), 1)
    majority = np.bincount(labels_train).argmax()
    predict = np.where(counts.any(1), counts.argmax(1), majority)
    return float(np.mean(predict[where_test] == labels_test))


def sap(codes_train: np.ndarray, factors_train: np.ndarray, codes_test: np.ndarray,
        factors_test: np.ndarray, bins: int = DEFAULT_BINS) -> float:
    """Separated Attribute Predictability (Kumar et al. 2018), classification form: per factor,
    the gap between the two best test accuracies of one-dim classifiers, averaged over factors.

    The one-dim classifier cuts the dim into ``bins`` equal-width intervals (thresholds) and
    predicts each interval's majority training label.
    """
    codes_train, factors_train = _check(codes_train, factors_train)
    codes_test, factors_test = _check(codes_test, factors_test)
    keep = _varying(factors_train)
    if not keep.size:
        raise ValueError("sap: every training factor takes a single value")
    accuracy = np.zeros((codes_train.shape[1] + 1, keep.size))  # a zero row for d = 1
    for column, j in enumerate(keep):
        _, labels = np.unique(np.concatenate([factors_train[:, j], factors_test[:, j]]),
                                   return_inverse=True)
        labels_train, labels_test = labels[: len(codes_train)], labels[len(codes_train):]
        for i in range(codes_train.shape[1]):
            accuracy[i, column] = _binned_accuracy(codes_train[:, i], labels_train,
                                                   codes_test[:, i], labels_test, bins)
    top = -np.sort(-accuracy, axis=0)[:2]
    return float(np.mean(top[0] - top[1]))


def disentanglement_scores(codes_train: np.ndarray, factors_train: np.ndarray,
                           codes_test: np.ndarray, factors_test: np.ndarray,
                           bins: int = DEFAULT_BINS) -> dict[str, float]:
    """Every score as plain floats: ``mig`` (on the training codes), ``dci_disentanglement``,
    ``dci_completeness``, ``dci_informativeness`` and ``sap``."""
    scores = {"mig": mig(codes_train, factors_train, bins)}
    scores.update({f"dci_{name}": value for name, value in
                   dci(codes_train, factors_train, codes_test, factors_test).items()})
    scores["sap"] = sap(codes_train, factors_train, codes_test, factors_test, bins)
    return scores
