"""Where a running sweep point is: a small JSON file its process rewrites, and its one line.

A point run by ``vaeframe sweep --jobs N`` writes ``{"epoch", "epochs", "step", "steps",
"loss", "run_dir"}`` (``loss``: the last logged step's) to its progress file at the start of
every epoch and at logging steps (at most twice a second); the parent reads it to draw one
line per running point.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from vaeframe.registry.types import Logger, RunInfo

MIN_INTERVAL_S = 0.5  # between two writes of the file, except at the start of an epoch


@attrs.define
class ProgressFile(Logger):
    """Writes the run's epoch, step and last loss to ``path`` (replaced atomically)."""

    path: Path
    _state: dict[str, Any] = attrs.field(init=False, factory=dict)
    _written: float = attrs.field(init=False, default=0.0)

    def open(self, run: RunInfo) -> None:
        self._state = {"run_dir": str(run.run_dir), "step": run.resume_step}
        self._write()

    def epoch_started(self, epoch: int, num_epochs: int, num_steps: int) -> None:
        self._state.update(epoch=epoch, epochs=num_epochs, steps=num_epochs * num_steps)
        self._write()

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        self._state["step"] = step
        if "train/loss" in metrics:  # the last logged step's loss
            self._state["loss"] = metrics["train/loss"]
        elif "epoch/loss" in metrics and "loss" not in self._state:  # no step logged yet
            self._state["loss"] = metrics["epoch/loss"]
        if time.monotonic() - self._written >= MIN_INTERVAL_S:
            self._write()

    def close(self, summary: Mapping[str, Any], status: str) -> None:
        self._state["status"] = status
        self._write()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".tmp")
        partial.write_text(json.dumps(self._state), encoding="utf-8")
        os.replace(partial, self.path)
        self._written = time.monotonic()


def read_progress(path: Path) -> dict[str, Any]:
    """The last state written to ``path``; ``{}`` before the point's run has opened."""
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def progress_line(label: str, state: Mapping[str, Any], elapsed_s: float, where: str) -> str:
    """``label  epoch 3/100  step 120/5400 (2%)  loss 812.3  1m02s  cpu, 1 thread``."""
    parts = [label]
    if "epoch" in state:
        parts.append(f"epoch {state['epoch']}/{state['epochs']}")
        steps = state.get("steps") or 0
        if steps:
            parts.append(f"step {state['step']}/{steps} ({100 * state['step'] // steps}%)")
    else:
        parts.append("starting")
    if "loss" in state:
        parts.append(f"loss {state['loss']:.4g}")
    parts += [_duration(elapsed_s), where]
    return "  ".join(parts)


class ProgressDisplay:
    """The running points' lines on stderr: redrawn in place on a terminal, otherwise
    printed every ``interval_s`` seconds. ``event`` prints a line that stays."""

    def __init__(self, interval_s: float = 30.0) -> None:
        from rich.console import Console

        self.console = Console(stderr=True, highlight=False, soft_wrap=True)
        self.interval_s = interval_s
        self._printed = time.monotonic()
        self._live: Any = None
        if self.console.is_terminal:
            from rich.live import Live

            self._live = Live(console=self.console, refresh_per_second=4, transient=True)

    def __enter__(self) -> ProgressDisplay:
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()

    def event(self, text: str) -> None:
        self.console.print(text, markup=False)

    def update(self, lines: list[str]) -> None:
        if self._live is not None:
            from rich.text import Text

            self._live.update(Text("\n".join(lines), no_wrap=True, overflow="ellipsis"))
        elif lines and time.monotonic() - self._printed >= self.interval_s:
            self._printed = time.monotonic()
            for line in lines:
                self.console.print(f"  {line}", markup=False)
