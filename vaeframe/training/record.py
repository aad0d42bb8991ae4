"""What a training run did: the trainer's record, from which the run's summary is made."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from vaeframe.registry.declarations import Declared


@attrs.frozen
class TrainingRecord:
    """The state of a run that its summary reports."""

    name: str
    run_dir: str
    device: str
    world_size: int
    ranks_agree: bool | None  # under torchrun: parameters identical on every rank at the end
    epochs: int
    epochs_completed: int
    steps: int
    skipped_steps: int
    wall_seconds: float
    train_seconds: float
    phase_seconds: Mapping[str, float]  # the phases of vaeframe.training.clock besides train
    grids_seen: int
    latent_dim: int
    dataset: Mapping[str, Any]
    history: Sequence[Mapping[str, float]]
    beta_history: Sequence[float]
    best_epoch: int
    best_metric: float
    declared: Declared
    ema_decay: float = 0.0  # train.ema_decay: evaluations used the averaged weights
    disentanglement: Mapping[str, Any] | None = None  # factor datasets: MIG, DCI, SAP at the end
