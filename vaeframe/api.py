"""Types that plugins implement or receive. None of them needs torch."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np


@attrs.frozen
class GridData:
    """What a dataset plugin returns: grids to train on and grids held out for evaluation.

    Each grid is a 2-D integer array of colours 0-9 with sides of at most 30.
    """

    train: list[np.ndarray]
    heldout: list[np.ndarray]
    description: str = ""


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
