"""The β schedule API for notebooks and the engine; the schedules themselves are plugins."""

from __future__ import annotations

import math
from typing import Any

import attrs

from vaeframe.errors import ConfigError, PluginError
from vaeframe.registry.calls import call_named
from vaeframe.registry.kinds import KINDS
from vaeframe.registry.manager import get_registry


def make_schedule(schedule_type: str, **params: Any) -> Any:
    """Build the registered schedule ``schedule_type`` with ``params`` (unknown ones are errors)."""
    cls = get_registry().get("schedules", schedule_type).cls
    known = {field.name for field in attrs.fields(cls) if field.init}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ConfigError("get_beta_schedule", ", ".join(unknown),
                          f"not a parameter of schedule '{schedule_type}' "
                          + (f"(its parameters: {', '.join(sorted(known))})" if known
                             else "(it takes no parameters)"))
    return cls(**params)


def get_beta_schedule(epoch: int, schedule_type: str | None = None,
                      num_epochs: int | None = None, **params: Any) -> float:
    """β at ``epoch`` (1-indexed) for the registered schedule ``schedule_type`` (by default
    the run files' default schedule, ``linear_warmup``).

    ``params`` are the schedule's parameters (``max_beta``, ``warmup_epochs``, ...); omitted
    ones take the schedule's defaults. ``num_epochs`` is the run's length, which only some
    schedules use (it defaults to ``epoch``).
    """
    schedule = make_schedule(schedule_type or KINDS["schedules"].default, **params)
    return float(schedule.beta(epoch, num_epochs if num_epochs is not None else epoch))


class BetaScheduler:
    """Steps a schedule once per epoch and keeps the history of β values."""

    def __init__(self, schedule: Any, num_epochs: int, origin: str | None = None) -> None:
        """``origin`` names the schedule and its plugin in error messages."""
        self.schedule = schedule
        self.num_epochs = num_epochs
        self.origin = origin or (f"schedule {type(schedule).__name__} "
                                 f"(from {type(schedule).__module__})")
        self.current_epoch = 0
        self.beta_history: list[float] = []

    @classmethod
    def from_name(cls, schedule_type: str, num_epochs: int, **params: Any) -> BetaScheduler:
        source = get_registry().get("schedules", schedule_type).source
        return cls(make_schedule(schedule_type, **params), num_epochs,
                   f"schedule '{schedule_type}' of {source.describe()}")

    def step(self, epoch: int) -> float:
        """β for ``epoch`` (1-indexed); appended to :attr:`beta_history`."""
        beta = float(call_named(self.origin, self.schedule.beta, "beta", epoch, self.num_epochs,
                                context=f"at epoch {epoch}"))
        if not math.isfinite(beta) or beta < 0:
            raise PluginError(f"{self.origin} returned β={beta} at epoch {epoch}; "
                              "β must be a finite number >= 0")
        self.current_epoch = epoch
        self.beta_history.append(beta)
        return beta

    def state_dict(self) -> dict[str, Any]:
        return {"current_epoch": self.current_epoch, "beta_history": list(self.beta_history)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.current_epoch = int(state["current_epoch"])
        self.beta_history = [float(b) for b in state["beta_history"]]
