"""Where the training loops are: the part of a checkpoint that the loops save and restore."""

from __future__ import annotations

from typing import Any

import attrs
import torch


@attrs.define
class EpochInProgress:
    """An epoch stopped part-way: its order of grids, its next batch and its running sums."""

    order: torch.Tensor
    batch_index: int = 0
    totals: torch.Tensor | None = None  # the summed statistics of the steps so far
    steps_in_totals: int = 0

    def state_dict(self) -> dict[str, Any]:
        return {"order": self.order, "batch_index": self.batch_index, "totals": self.totals,
                "steps_in_totals": self.steps_in_totals}

    @classmethod
    def from_state(cls, state: dict[str, Any], device: torch.device) -> EpochInProgress:
        return cls(state["order"].to(device), int(state["batch_index"]),
                   state["totals"].to(device), int(state["steps_in_totals"]))


@attrs.define
class LoopState:
    """Epochs and steps done, the best held-out score, the history, the epoch in progress."""

    epoch: int = 0  # the epoch in progress, or the last one completed
    step: int = 0  # optimisation steps taken
    best_metric: float = -1.0
    best_epoch: int = 0
    history: list[dict[str, float]] = attrs.field(factory=list)
    grids_seen: int = 0
    in_progress: EpochInProgress | None = None

    @property
    def epochs_completed(self) -> int:
        return self.epoch - (self.in_progress is not None)

    def improved(self, score: float | None) -> bool:
        """Record ``score`` of this epoch; whether it is the best so far."""
        if score is None or score <= self.best_metric:
            return False
        self.best_metric, self.best_epoch = score, self.epoch
        return True

    def state_dict(self) -> dict[str, Any]:
        """Keys of a checkpoint (format 1), besides the counters' ``grids_seen``."""
        return {"epoch": self.epoch, "step": self.step,
                "best": {"metric": self.best_metric, "epoch": self.best_epoch},
                "epoch_in_progress": (None if self.in_progress is None
                                      else self.in_progress.state_dict()),
                "history": self.history}

    def load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.best_metric = float(state["best"]["metric"])
        self.best_epoch = int(state["best"]["epoch"])
        self.history = [dict(row) for row in state["history"]]
        self.grids_seen = int(state["counters"]["grids_seen"])
        progress = state["epoch_in_progress"]
        self.in_progress = None if progress is None else EpochInProgress.from_state(progress,
                                                                                    device)
