"""Types that plugins implement or receive. None of them needs torch."""

from __future__ import annotations

import numbers
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
    - ``step``: the global optimisation step in progress, 1-indexed: the number that loggers
      receive as ``step`` for the metrics of this step (the first step of a run is 1, and
      steps count on across epochs).
    - ``num_epochs``: the run's length in epochs.
    - ``fraction``: the share of the run's optimisation steps done *before* this step, from 0
      (at the first step) towards 1, computed as
      ``(epoch - 1 + batch_index / steps_per_epoch) / num_epochs``, where ``batch_index``
      counts the epoch's steps already taken (0 at its first step) and ``steps_per_epoch``
      its steps (``⌈training grids / batch_size⌉``). Steps are counted, not grids, so a short
      last batch counts as a full step; it never reaches 1 during training.
    - ``epochs_done``: ``fraction · num_epochs``, epochs done as a real number.

    In a plugin's unit tests, make one at any point with :meth:`Progress.at`.
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

    @classmethod
    def at(cls, *, epoch: int = 1, step: int = 1, num_epochs: int = 1, fraction: float = 0.0,
           device: Any = "cpu") -> Progress:
        """A progress at that point of a run, for unit tests of components that read it.

        ``Progress.at(epoch=3, step=25, num_epochs=10, fraction=0.2)`` is what a component
        sees at the first step of epoch 3 of a 10-epoch run with 12 steps an epoch
        (``fraction = (3 - 1 + 0 / 12) / 10``; ``epochs_done`` is then 2.0). Raises
        ``ValueError`` unless ``epoch``, ``step`` and ``num_epochs`` are at least 1,
        ``epoch <= num_epochs`` and ``0 <= fraction <= 1``.
        """
        import torch

        problems = [f"{label} must be a number >= 1, got {value!r}"
                    for label, value in (("epoch", epoch), ("step", step),
                                         ("num_epochs", num_epochs))
                    if not _number(value) or value < 1]
        if not problems and epoch > num_epochs:
            problems.append(f"epoch must be <= num_epochs ({num_epochs!r}), got {epoch!r}")
        if not _number(fraction) or not 0 <= fraction <= 1:
            problems.append(f"fraction (the share of the run's steps done before this step) "
                            f"must be from 0 to 1, got {fraction!r}")
        if problems:
            raise ValueError(f"Progress.at: {'; '.join(problems)}")

        def scalar(value: float) -> torch.Tensor:
            return torch.tensor(float(value), dtype=torch.float32, device=device)

        return cls(scalar(epoch), scalar(step), scalar(num_epochs), scalar(fraction))

    def set(self, epoch: int, step: int, num_epochs: int, fraction: float) -> None:
        """Move to ``step`` of ``epoch`` (in place; no host sync)."""
        self.epoch.fill_(epoch)
        self.step.fill_(step)
        self.num_epochs.fill_(num_epochs)
        self.fraction.fill_(fraction)


def _number(value: Any) -> bool:
    """A real number, not a bool (``True`` is no epoch) nor NaN."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and value == value


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
