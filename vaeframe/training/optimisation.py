"""The model's optimisation: the ``[optimizer]`` component's optimizer, its learning rate as
the ``[lr_schedule]`` sets it before every step, gradient clipping and weight averaging.

Nothing here syncs with the host: the scheduled learning rate is a 0-d tensor on the device
filled from the run's :class:`~vaeframe.Progress` (so a captured CUDA graph sees the current
rate at every replay), the clipping scale stays on the device, and so does the average.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from vaeframe.config.schema import ComponentConfig, TrainSection
from vaeframe.errors import PluginError
from vaeframe.registry.calls import call_plugin
from vaeframe.registry.types import Progress
from vaeframe.training.averaging import WeightAverage


def build_optimizer(component: ComponentConfig, model: nn.Module, device: torch.device,
                    capturable: bool) -> torch.optim.Optimizer:
    """The ``[optimizer]`` component's optimizer of ``model``'s parameters."""
    optimizer = call_plugin(component, "build", model.parameters(), device, capturable)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise PluginError(f"{component.describe()}: build() must return a "
                          f"torch.optim.Optimizer, got {type(optimizer).__name__}")
    return optimizer


def is_constant(schedule: ComponentConfig) -> bool:
    """Whether a schedule declares that it keeps the optimizer's learning rate."""
    declared = getattr(schedule.params, "is_constant", None)
    return bool(call_plugin(schedule, "is_constant")) if callable(declared) else False


class LearningRate:
    """Each parameter group's learning rate, as the schedule gives it for the step in
    progress. A constant schedule leaves the optimizer's numbers alone; any other one puts a
    0-d float32 tensor on the device in every group, which :meth:`update` fills in place."""

    def __init__(self, schedule: ComponentConfig, optimizer: torch.optim.Optimizer,
                 progress: Progress) -> None:
        self.schedule = schedule
        self.optimizer = optimizer
        self.progress = progress
        self.base = [float(group["lr"]) for group in optimizer.param_groups]
        self.constant = is_constant(schedule)
        device = progress.step.device
        self.rates = [torch.tensor(base, dtype=torch.float32, device=device)
                      for base in self.base]
        if not self.constant:
            self.attach()

    def attach(self) -> None:
        """Point every group at its rate tensor (again after ``optimizer.load_state_dict``,
        which puts the checkpoint's values in their place)."""
        if self.constant:
            return
        for group, rate in zip(self.optimizer.param_groups, self.rates, strict=True):
            group["lr"] = rate

    def update(self) -> None:
        """The rates of the step in progress (no host sync)."""
        if self.constant:
            return
        for base, rate in zip(self.base, self.rates, strict=True):
            value = call_plugin(self.schedule, "lr", base, self.progress)
            rate.copy_(torch.as_tensor(value, dtype=torch.float32, device=rate.device)
                       .reshape(()))

    def logged(self) -> torch.Tensor | float:
        """The first group's rate for ``train/lr``: the number itself when constant."""
        return self.base[0] if self.constant else self.rates[0]


class Optimisation:
    """One optimizer step of the model: clip, set the learning rate, step, average."""

    def __init__(self, optimizer: torch.optim.Optimizer, schedule: ComponentConfig,
                 progress: Progress, model: nn.Module, settings: TrainSection) -> None:
        self.optimizer = optimizer
        self.learning_rate = LearningRate(schedule, optimizer, progress)
        self.clip_norm = settings.clip_grad_norm
        self.parameters = list(model.parameters())
        self.average = (WeightAverage(model, settings.ema_decay) if settings.ema_decay
                        else None)

    @property
    def reads_progress(self) -> bool:
        return not self.learning_rate.constant

    def step(self) -> None:
        if self.clip_norm:
            torch.nn.utils.clip_grad_norm_(self.parameters, self.clip_norm)
        self.learning_rate.update()
        self.optimizer.step()
        if self.average is not None:
            self.average.update()

    def zero_grad(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)

    def tensors(self) -> list[torch.Tensor]:
        """Tensors a step changes besides the parameters and the optimizer's state."""
        return self.average.tensors() if self.average is not None else []

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"optimizer": self.optimizer.state_dict()}
        if self.average is not None:
            state["averaged"] = self.average.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.learning_rate.attach()
        if self.average is not None:
            if "averaged" not in state:
                raise KeyError("the checkpoint has no averaged weights (train.ema_decay was 0 "
                               "when it was written)")
            self.average.load_state_dict(state["averaged"])
