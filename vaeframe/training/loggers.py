"""The run's loggers, called in one place: every call names its plugin and is timed as the
``loggers`` phase."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from vaeframe.registry.calls import call_plugin
from vaeframe.training.clock import PhaseClock


class LoggerHub:
    """Sends epoch starts and metric rows to every logger of ``loggers`` (a list the runner
    fills as it opens them)."""

    def __init__(self, loggers: Sequence[Any], clock: PhaseClock) -> None:
        self.loggers = loggers
        self.clock = clock

    def epoch_started(self, epoch: int, num_epochs: int, num_steps: int) -> None:
        with self.clock.phase("loggers"):
            for logger in self.loggers:
                call_plugin(logger, "epoch_started", epoch, num_epochs, num_steps)

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        with self.clock.phase("loggers"):
            for logger in self.loggers:
                call_plugin(logger, "log", metrics, step)
