"""What the explorer page asks of a trained run: its latent dimensions, a map of its codes,
grids with their codes, and codes decoded back into grids.

Everything here is plain data (lists, floats, strings) ready for JSON; the HTTP layer
(:mod:`vaeframe.explore.server`) only parses requests and calls these methods.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from vaeframe.errors import VaeframeError
from vaeframe.grids import checked_grid
from vaeframe.latents.codes import mean_kl_per_dim
from vaeframe.latents.trained import TrainedRun, checked_codes
from vaeframe.registry.types import GridData
from vaeframe.report.arc_grids import ARC_PALETTE
from vaeframe.training.data import SPLITS, grids_of, labels_of
from vaeframe.training.evaluation import ACTIVE_UNIT_THRESHOLD

MAP_PER_SPLIT = 1000  # grids of each split encoded for the map and the slider ranges
SLIDER_QUANTILES = (0.02, 0.98)  # of the posterior means, as the traversal picture's ends
MIN_SLIDER_SPAN = 1.0  # a dimension whose means barely move still gets a usable slider
MAX_STEPS = 32  # codes along one interpolation


class BadRequest(VaeframeError):
    """A request the page (or a user's script) got wrong: answered with ``status``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _plain(value: Any) -> Any:
    """A label value as JSON can carry it."""
    return value.item() if isinstance(value, np.generic) else value


@attrs.define
class MapSample:
    """The grids drawn on the map: their split and index, posterior means and projections."""

    splits: list[str]
    rows: list[int]
    mu: np.ndarray  # (n, latent_dim)
    logvar: np.ndarray  # (n, latent_dim)
    projected: np.ndarray  # (n, 2): the first two principal components
    explained: list[float]  # share of the variance along each of the two components


def _principal_components(mu: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """The codes on their first two principal components, and the share of the variance along
    each; a component the codes do not span (one grid, one dimension) is 0 with share 0."""
    centred = mu - mu.mean(0)
    _, singular, basis = np.linalg.svd(centred, full_matrices=False)
    count = min(2, len(basis))
    components = np.zeros((len(mu), 2))
    components[:, :count] = centred @ basis[:count].T
    variance = np.zeros(2)
    variance[:count] = singular[:count] ** 2
    total = float((singular**2).sum())
    return components, (variance / total if total > 0 else variance).tolist()


class ExploreSession:
    """One trained run, its data, and a sample of its codes, shared by every request.

    Model calls hold a lock: the HTTP server answers requests on several threads."""

    def __init__(self, run: TrainedRun, data: GridData, per_split: int = MAP_PER_SPLIT,
                 seed: int = 0) -> None:
        self.run = run
        self.data = data
        self._lock = threading.Lock()
        self.sample = self._encode_sample(per_split, seed)
        self._ranges = self._slider_ranges()

    # -- the latent space -----------------------------------------------------------------

    def _encode_sample(self, per_split: int, seed: int) -> MapSample:
        rng = np.random.default_rng(seed)
        splits, rows, means, logvars = [], [], [], []
        for split in SPLITS:
            grids = grids_of(self.data, split)
            if not len(grids):
                continue
            chosen = np.sort(rng.choice(len(grids), min(per_split, len(grids)), replace=False))
            mu, logvar = self._encode([grids[i] for i in chosen])
            means.append(mu)
            logvars.append(logvar)
            splits += [split] * len(chosen)
            rows += chosen.tolist()
        mu = np.concatenate(means) if means else np.zeros((0, self.run.latent_dim), np.float32)
        if not len(mu):
            raise VaeframeError(f"{self.run.run_dir}: its dataset has no grids to explore")
        projected, explained = _principal_components(mu.astype(np.float64))
        return MapSample(splits, rows, mu, np.concatenate(logvars), projected, explained)

    def _slider_ranges(self) -> np.ndarray:
        low, high = np.quantile(self.sample.mu, SLIDER_QUANTILES, axis=0)
        centre, span = (low + high) / 2, np.maximum(high - low, MIN_SLIDER_SPAN)
        return np.stack([centre - span / 2, centre + span / 2], axis=1)

    def state(self) -> dict[str, Any]:
        """The run, its dimensions in order of KL (with slider ranges and whether each is
        active), the splits' sizes, the label columns and the disentanglement scores."""
        kl = mean_kl_per_dim(self.sample.mu, self.sample.logvar)
        active = self.sample.mu.var(0) > ACTIVE_UNIT_THRESHOLD
        summary = self.run.summary
        scores = summary.get("disentanglement") if isinstance(summary, Mapping) else None
        holds = _factors_by_dim(scores)
        dims = [{"dim": int(d), "kl": float(kl[d]), "active": bool(active[d]),
                 "low": float(self._ranges[d, 0]), "high": float(self._ranges[d, 1]),
                 "factors": holds.get(int(d), [])}
                for d in np.argsort(-kl, kind="stable")]
        splits = {split: len(grids_of(self.data, split)) for split in SPLITS}
        labels = {split: [c for c in labels_of(self.data, split)
                          if len(labels_of(self.data, split)[c]) == splits[split]]
                  for split in SPLITS}
        return {
            "run": str(self.run.record.label), "run_dir": str(self.run.run_dir),
            "model": self.run.config.model.name, "dataset": self.run.config.data.name,
            "checkpoint": self.run.checkpoint.name, "epoch": self.run.epoch,
            "device": str(self.run.device), "latent_size": self.run.latent_dim,
            "dims": dims, "splits": splits, "labels": labels,
            "factors": list(self.data.factors), "scores": _scores(scores),
            "explained": self.sample.explained,
            "palette": [colour for _, colour in ARC_PALETTE],
        }

    def map(self) -> dict[str, Any]:
        """The sampled grids' split, index, size, factor values, posterior means and first
        two principal components, one list entry per grid."""
        points = []
        for k, (split, row) in enumerate(zip(self.sample.splits, self.sample.rows,
                                             strict=True)):
            grid = grids_of(self.data, split)[row]
            labels = labels_of(self.data, split)
            points.append({
                "split": split, "index": row, "height": int(np.shape(grid)[0]),
                "width": int(np.shape(grid)[1]),
                "factors": [_plain(labels[f][row]) for f in self.data.factors],
                "pc": [round(float(v), 5) for v in self.sample.projected[k]],
                "mu": [round(float(v), 5) for v in self.sample.mu[k]],
            })
        return {"points": points, "factors": list(self.data.factors),
                "explained": self.sample.explained}

    # -- grids and codes ------------------------------------------------------------------

    def _encode(self, grids: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            return self.run.encode(grids)

    def _decode(self, codes: np.ndarray) -> list[np.ndarray]:
        with self._lock:
            return self.run.decode(codes)

    def grid(self, split: str, index: int) -> dict[str, Any]:
        """Grid ``index`` of ``split``: the grid, its labels, its code and reconstruction."""
        grids = grids_of(self.data, _split(split))
        if not 0 <= index < len(grids):
            raise BadRequest(f"index {index} is out of range: the {split} split has "
                             f"{len(grids)} grids (0-{len(grids) - 1})")
        labels = labels_of(self.data, split)
        found = self.encode(grids[index])
        return {"split": split, "index": index,
                "labels": {c: _plain(v[index]) for c, v in labels.items()
                           if len(v) == len(grids)}, **found}

    def find(self, split: str, wanted: Mapping[str, str]) -> dict[str, Any]:
        """The first grid of ``split`` whose labels equal ``wanted`` (compared as text)."""
        labels = labels_of(self.data, _split(split))
        if not wanted:
            raise BadRequest(f"find: give at least one label, one of {', '.join(labels)}")
        unknown = [key for key in wanted if key not in labels]
        if unknown:
            have = f"they have {', '.join(labels)}" if labels else "they have no labels"
            raise BadRequest(f"find: the {split} grids have no label {unknown[0]!r}; {have}")
        columns = [(np.asarray(labels[key]).astype(str), value) for key, value in wanted.items()]
        match = np.logical_and.reduce([column == value for column, value in columns])
        if not match.any():
            spelled = ", ".join(f"{k}={v}" for k, v in wanted.items())
            raise BadRequest(f"no {split} grid has {spelled}", status=404)
        return self.grid(split, int(np.flatnonzero(match)[0]))

    def random(self, split: str, rng: np.random.Generator) -> dict[str, Any]:
        count = len(grids_of(self.data, _split(split)))
        return self.grid(split, int(rng.integers(count)))

    def encode(self, grid: object) -> dict[str, Any]:
        """A grid's posterior mean and log-variance and its reconstruction (the mean
        decoded), or :class:`BadRequest` naming what is wrong with the grid."""
        try:
            array = checked_grid(grid, 0, "grid")
        except VaeframeError as exc:
            raise BadRequest(str(exc).replace("grid: grid 0", "grid")) from None
        mu, logvar = self._encode([array])
        return {"grid": array.tolist(), "code": mu[0].tolist(), "logvar": logvar[0].tolist(),
                "reconstruction": self._decode(mu)[0].tolist()}

    def decode(self, codes: object) -> list[list[list[int]]]:
        """The grids of ``codes`` (a list of codes), each cropped as ``run.decode`` crops."""
        return [g.tolist() for g in self._decode(self._codes(codes, "codes"))]

    def interpolate(self, start: object, end: object, steps: object) -> dict[str, Any]:
        """``steps`` codes evenly along the straight line from ``start`` to ``end`` (both
        included), decoded."""
        if isinstance(steps, bool) or not isinstance(steps, int) or \
                not 2 <= steps <= MAX_STEPS:
            raise BadRequest(f"steps = {steps!r}: expected a whole number from 2 to {MAX_STEPS}")
        a, b = self._codes([start], "a")[0], self._codes([end], "b")[0]
        weights = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
        codes = (1 - weights) * a[None] + weights * b[None]
        codes[0], codes[-1] = a, b  # exactly the ends, whatever the rounding
        return {"codes": codes.tolist(), "grids": [g.tolist() for g in self._decode(codes)]}

    def _codes(self, codes: object, source: str) -> np.ndarray:
        try:
            return checked_codes(codes, self.run.latent_dim, source).numpy()
        except VaeframeError as exc:
            raise BadRequest(str(exc)) from None


def _split(split: str) -> str:
    if split not in SPLITS:
        raise BadRequest(f"split = {split!r}: expected one of {', '.join(SPLITS)}")
    return split


def _scores(scores: Any) -> dict[str, Any] | None:
    """The run's disentanglement figures and per-factor table, as the page shows them."""
    if not isinstance(scores, Mapping):
        return None
    headline = {key: scores[key] for key in ("mig", "dci_disentanglement",
                                              "dci_completeness", "sap")
                if isinstance(scores.get(key), (int, float))}
    factor_vae = scores.get("factor_vae")
    if isinstance(factor_vae, Mapping) and isinstance(factor_vae.get("score"), (int, float)):
        headline["factor_vae"] = factor_vae["score"]
    per_factor = scores.get("per_factor")
    return {"headline": headline,
            "per_factor": dict(per_factor) if isinstance(per_factor, Mapping) else {}}


def _factors_by_dim(scores: Any) -> dict[int, list[dict[str, Any]]]:
    """Per latent dimension, the factors it is the most informative dimension of."""
    per_factor = scores.get("per_factor") if isinstance(scores, Mapping) else None
    holds: dict[int, list[dict[str, Any]]] = {}
    if isinstance(per_factor, Mapping):
        for factor, entry in per_factor.items():
            if isinstance(entry, Mapping) and isinstance(entry.get("dim"), int):
                holds.setdefault(entry["dim"], []).append(
                    {"factor": factor, "gap": entry.get("gap"), "share": entry.get("share")})
    return holds
