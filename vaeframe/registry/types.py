"""Types that plugins implement or receive. None of them needs torch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

if TYPE_CHECKING:
    import torch


@attrs.frozen
class GridData:
    """What a dataset plugin returns: grids to train on and grids held out for evaluation.

    Each grid is a 2-D integer array of colours 0-9 with sides of at most 30.

    Optional per-grid labels say where each grid comes from (``train_labels`` and
    ``heldout_labels``: column name → one value per grid, e.g. ``task_id``) or what made it.
    ``factors`` names the label columns that are generative factors (integers, in both
    splits); vaeframe measures how well the latent space separates them (MIG, DCI, SAP).
    """

    train: list[np.ndarray]
    heldout: list[np.ndarray]
    description: str = ""
    train_labels: Mapping[str, Sequence[Any]] = attrs.field(factory=dict)
    heldout_labels: Mapping[str, Sequence[Any]] = attrs.field(factory=dict)
    factors: tuple[str, ...] = ()


@attrs.frozen
class Progress:
    """Where training is, as 0-d float32 tensors on the training device.

    The engine updates them in place before every step, the way it sets β, so a component
    that reads them is a pure function of its fields and the progress: a resumed run needs
    no extra state, and a captured CUDA graph or a compiled step sees the current values.

    - ``epoch``: the epoch in progress, 1-indexed.
    - ``step``: the global optimisation step in progress, 1-indexed (the step loggers see).
    - ``num_epochs``: the run's length in epochs.
    - ``fraction``: the share of training done before this step, from 0 to 1.
    - ``epochs_done``: ``fraction · num_epochs``, epochs done as a real number.
    """

    epoch: torch.Tensor
    step: torch.Tensor
    num_epochs: torch.Tensor
    fraction: torch.Tensor

    @property
    def epochs_done(self) -> torch.Tensor:
        return self.fraction * self.num_epochs

    @classmethod
    def create(cls, num_epochs: int, device: Any = "cpu") -> Progress:
        """Progress at the start of a run of ``num_epochs`` epochs."""
        import torch

        def scalar(value: float) -> torch.Tensor:
            return torch.tensor(float(value), dtype=torch.float32, device=device)

        return cls(scalar(1), scalar(1), scalar(num_epochs), scalar(0))

    def set(self, epoch: int, step: int, num_epochs: int, fraction: float) -> None:
        """Move to ``step`` of ``epoch`` (in place; no host sync)."""
        self.epoch.fill_(epoch)
        self.step.fill_(step)
        self.num_epochs.fill_(num_epochs)
        self.fraction.fill_(fraction)


@attrs.frozen
class RunInfo:
    """What a logger learns about the run it logs."""

    name: str
    run_dir: Path
    config: Mapping[str, Any]
    resumed: bool = False
    resume_step: int = 0  # with resumed: the step of the checkpoint training continues from


class Logger:
    """Base class of logger components; every method is optional to override.

    Metrics arrive as plain Python floats keyed like ``train/loss`` or
    ``train/kl_per_dim/dim_0``; ``step`` is the global optimisation step.
    """

    def open(self, run: RunInfo) -> None:
        """Called once before the first step."""

    def epoch_started(self, epoch: int, num_epochs: int, num_steps: int) -> None:
        """Called at the start of every epoch (1-indexed)."""

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        """Called at logging steps and at the end of every epoch."""

    def close(self, summary: Mapping[str, Any], status: str) -> None:
        """Called once at the end; ``status``: ``"finished"``, ``"failed"`` or ``"interrupted"``."""
