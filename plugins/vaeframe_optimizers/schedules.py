"""Learning-rate schedules: pure functions of their fields, the optimizer's learning rate and
the run's :class:`vaeframe.Progress`, computed on the device inside every step."""

from __future__ import annotations

import math
from typing import Any

import attrs

from vaeframe.validators import ParameterError, at_least, at_most, greater_than


@attrs.define
class Constant:
    """The optimizer's learning rate at every step."""

    def lr(self, base_lr: float, progress: Any) -> Any:
        import torch

        return torch.full_like(progress.fraction, base_lr)

    def is_constant(self) -> bool:
        return True


@attrs.define
class Cosine:
    """Linear warm-up from 0, then cosine decay to min_lr at the end of training.

    With ``e`` the epochs done before the step (``progress.epochs_done``), ``E`` the run's
    epochs and ``W`` the warm-up in epochs (``warmup_epochs``, or ``warmup_fraction · E``):
    ``lr = base · e / W`` while ``e < W``, then
    ``lr = min_lr + (base - min_lr) · (1 + cos(π (e - W) / (E - W))) / 2``
    (Loshchilov & Hutter 2017, SGDR, Eq. 5, with one cycle and a linear warm-up).
    """

    warmup_epochs: float = attrs.field(default=0.0, validator=at_least(0.0))
    warmup_fraction: float = attrs.field(default=0.0, validator=[at_least(0.0),
                                                                 at_most(0.99)])
    min_lr: float = attrs.field(default=0.0, validator=at_least(0.0))

    def __attrs_post_init__(self) -> None:
        if self.warmup_epochs and self.warmup_fraction:
            raise ParameterError("warmup_fraction", "set warmup_epochs or warmup_fraction, "
                                 f"not both (got {self.warmup_epochs} and "
                                 f"{self.warmup_fraction})")

    def warmup(self, num_epochs: Any) -> Any:
        """The warm-up in epochs, a tensor like ``num_epochs``."""
        import torch

        if self.warmup_fraction:
            return self.warmup_fraction * num_epochs
        return torch.full_like(num_epochs, self.warmup_epochs)

    def lr(self, base_lr: float, progress: Any) -> Any:
        import torch

        done, total = progress.epochs_done, progress.num_epochs
        warmup = self.warmup(total)
        if self.min_lr > base_lr:
            raise ValueError(f"min_lr = {self.min_lr} is above the optimizer's learning rate "
                             f"{base_lr}")
        ramp = base_lr * done / warmup.clamp(min=1e-12)
        position = ((done - warmup) / (total - warmup).clamp(min=1e-12)).clamp(0.0, 1.0)
        decay = self.min_lr + (base_lr - self.min_lr) * (1 + torch.cos(math.pi * position)) / 2
        return torch.where(done < warmup, ramp, decay)

    def is_constant(self) -> bool:
        return False


@attrs.define
class Step:
    """Step decay: the learning rate times gamma after every every_epochs epochs.

    ``lr = base · gamma ** ⌊(epoch - 1) / every_epochs⌋`` (epochs 1-indexed), as torch's
    ``StepLR`` with ``step_size = every_epochs``.
    """

    every_epochs: int = attrs.field(default=30, validator=at_least(1))
    gamma: float = attrs.field(default=0.1, validator=[greater_than(0.0), at_most(1.0)])

    def lr(self, base_lr: float, progress: Any) -> Any:
        import torch

        drops = torch.div(progress.epoch - 1, self.every_epochs, rounding_mode="floor")
        return base_lr * torch.pow(progress.epoch.new_tensor(self.gamma), drops)

    def is_constant(self) -> bool:
        return self.gamma == 1.0
