"""Where a run's wall time goes: the phases of ``summary.json``'s ``time_s``, and the clock
that times them.

The phases do not overlap: a phase entered inside another pauses it, so logging inside an
epoch counts as ``loggers``, not ``train``; capturing CUDA graphs (or torch.compile's first
call) is moved from ``train`` to ``capture``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from typing import Any

# ``import vaeframe`` imports this module first: start-up counts from here. The interpreter's
# own start (tens of milliseconds) is not counted. /proc's process start time would count it,
# but a process keeps that time across exec: `bash -c 'pip install ...; vaeframe run ...'`
# would count all that bash did first.
IMPORTED_AT = time.perf_counter()

SETUP_PHASES = ("startup", "data", "setup")  # paid again by every process that resumes
LOOP_PHASES = ("capture", "evaluation", "checkpoints", "loggers", "disentanglement")
PHASES = SETUP_PHASES + LOOP_PHASES


class PhaseClock:
    """Seconds spent in each phase and in ``train``, and the run's wall time.

    ``started`` is the ``time.perf_counter()`` at which the run started; the time from then
    until the clock is made is ``startup``.
    """

    def __init__(self, started: float | None = None) -> None:
        now = time.perf_counter()
        self.seconds = dict.fromkeys(("train", *PHASES), 0.0)
        self.seconds["startup"] = now - started if started is not None else 0.0
        self.wall_seconds = 0.0  # of the training loop, over every process that resumed it
        self._open: list[list[Any]] = []  # [phase, since] of the phases entered, innermost last
        self._loop_since: float | None = None

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Count the time inside the block as ``name``, pausing the phase around it."""
        self._pause_or_resume(time.perf_counter())
        self._open.append([name, time.perf_counter()])
        try:
            yield
        finally:
            now = time.perf_counter()
            phase, since = self._open.pop()
            self.seconds[phase] += now - since
            if self._open:
                self._open[-1][1] = now

    def _pause_or_resume(self, now: float) -> None:
        if self._open:
            phase, since = self._open[-1]
            self.seconds[phase] += now - since
            self._open[-1][1] = now

    def move(self, source: str, target: str, seconds: float) -> None:
        """Count ``seconds`` already counted as ``source`` as ``target`` instead."""
        self.seconds[source] -= seconds
        self.seconds[target] += seconds

    def start_loop(self) -> None:
        """The training loop starts (or continues): wall time counts from now on."""
        self._loop_since = time.perf_counter() - self.wall_seconds

    def tick(self) -> None:
        """Bring :attr:`wall_seconds` up to now."""
        if self._loop_since is not None:
            self.wall_seconds = time.perf_counter() - self._loop_since

    def state_dict(self) -> dict[str, float]:
        """The counters a checkpoint keeps (names as in checkpoints of format 1)."""
        return {"train_seconds": self.seconds["train"], "wall_seconds": self.wall_seconds,
                **{f"{phase}_seconds": self.seconds[phase] for phase in PHASES}}

    def load_state_dict(self, counters: Mapping[str, Any]) -> None:
        """Continue from a checkpoint's counters; this process's set-up phases add to them."""
        self.seconds["train"] = float(counters["train_seconds"])
        self.wall_seconds = float(counters["wall_seconds"])
        for phase in PHASES:  # absent from older checkpoints
            self.seconds[phase] = float(counters.get(f"{phase}_seconds", 0.0)) + (
                self.seconds[phase] if phase in SETUP_PHASES else 0.0)

    def phase_seconds(self) -> dict[str, float]:
        """Seconds by phase besides ``train``."""
        return {phase: self.seconds[phase] for phase in PHASES}
