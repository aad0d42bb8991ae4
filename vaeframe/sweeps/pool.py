"""``vaeframe sweep --jobs N``: up to N points at once, each an ordinary run in a process of
its own (``vaeframe sweep FILE --point I --dir DIR``).

Each point runs in a slot (:mod:`vaeframe.sweeps.slots`) that sets its threads and device; a
launcher starts it: :class:`ProcessLauncher` on this machine, or a cluster's
(:mod:`vaeframe.sweeps.cluster`). Its console output goes to ``DIR/logs/<run name>.log``, its
progress to a file next to it, and the parent draws one line per running point. A point
that fails does not stop the others. SIGINT or SIGTERM is passed on to every running point,
which saves a checkpoint and stops; points not yet started are left for ``--resume``.
"""

from __future__ import annotations

import collections
import contextlib
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Protocol

import attrs

from vaeframe.rundir.layout import checkpoint_path
from vaeframe.rundir.status import RunStatus
from vaeframe.sweeps.commands import point_command, set_args
from vaeframe.sweeps.progress import ProgressDisplay, progress_line, read_progress
from vaeframe.sweeps.slots import Slot
from vaeframe.sweeps.spec import Sweep, SweepPoint, point_run_name
from vaeframe.training.signals import SignalCatcher

POLL_S = 0.25
LOG_DIR = "logs"
FINISHED, FAILED, INTERRUPTED = RunStatus.FINISHED, RunStatus.FAILED, RunStatus.INTERRUPTED
NOT_STARTED = "not started"  # an outcome, not a run's status: the sweep stopped first


@attrs.frozen
class Outcome:
    """How one point ended: FINISHED, FAILED, INTERRUPTED or NOT_STARTED."""

    point: SweepPoint
    status: str
    returncode: int | None = None
    log: Path | None = None
    run_dir: str | None = None


class Running(Protocol):
    """A point that a launcher started."""

    def poll(self) -> int | None:
        """Its exit code once it has ended, else ``None``."""

    def send(self, signum: int) -> None:
        """Pass a stop signal on to it."""


class Launcher(Protocol):
    """Starts a point's command (``vaeframe`` arguments) in a slot, its output to ``log``."""

    def start(self, argv: Sequence[str], slot: Slot, log: Path) -> Running: ...

    def describe(self, slot: Slot) -> str: ...


@attrs.frozen
class LocalProcess:
    """A point in a process of its own on this machine, in its own process group."""

    process: subprocess.Popen[bytes]

    def poll(self) -> int | None:
        return self.process.poll()

    def send(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)


@attrs.frozen
class ProcessLauncher:
    """Starts points as ``python -m vaeframe ...`` with the slot's threads in the environment,
    in a session of their own so that only the parent hears the terminal's Ctrl-C."""

    def start(self, argv: Sequence[str], slot: Slot, log: Path) -> LocalProcess:
        command = [sys.executable, "-m", "vaeframe", *argv]
        environment = slot.environment({"COLUMNS": "160", **os.environ,
                                        "PYTHONUNBUFFERED": "1"})
        with log.open("a", encoding="utf-8") as handle:
            handle.write(f"# {time.strftime('%Y-%m-%d %H:%M:%S')} slot {slot.index + 1} "
                         f"({slot.describe()}): {shlex.join(command)}\n")
            handle.flush()
            return LocalProcess(subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT,
                env=environment, start_new_session=True))

    def describe(self, slot: Slot) -> str:
        return slot.describe()


@attrs.define
class Child:
    """A point running in a slot."""

    point: SweepPoint
    slot: Slot
    running: Running
    log: Path
    progress: Path
    started: float

    @property
    def label(self) -> str:
        return f"[{self.point.index}] {self.point.label or 'point'}"


class SignalForwarder(SignalCatcher):
    """While active, passes SIGINT and SIGTERM on to every running point."""

    def __init__(self, running: Callable[[], Sequence[Running]],
                 say: Callable[[str], None]) -> None:
        super().__init__()
        self._running = running
        self._say = say

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        first = self.signum is None
        self.signum = self.signum or signum
        running = self._running()
        name = signal.Signals(signum).name
        self._say(f"{name}: asking {len(running)} running point(s) to stop after the current "
                  "step and save a checkpoint" + (" (send it again to stop them at once)"
                                                  if first else " at once"))
        for point in running:
            point.send(signum)


@contextlib.contextmanager
def _stopped_on_error(running: list[Child]) -> Iterator[None]:
    """If the parent fails, its running points are asked to stop (and save), not orphaned."""
    try:
        yield
    except BaseException:
        for child in running:
            child.running.send(signal.SIGTERM)
        raise


def _outcome(child: Child, code: int, stopping: bool) -> Outcome:
    if code == 0:
        status = FINISHED
    elif stopping or code in (128 + signal.SIGINT, 128 + signal.SIGTERM):
        status = INTERRUPTED
    else:
        status = FAILED
    return Outcome(child.point, status, code, child.log, read_progress(child.progress).get(
        "run_dir"))


@attrs.define
class PointPool:
    """Runs points of ``sweep`` in ``slots``; ``plugins`` are the command's ``-p`` modules."""

    sweep: Sweep
    directory: Path
    slots: Sequence[Slot]
    plugins: Sequence[str] = ()
    resume: bool = False
    launcher: Launcher = attrs.field(factory=ProcessLauncher)
    interval_s: float = 30.0
    signum: int | None = attrs.field(init=False, default=None)  # the signal that stopped it

    def point_command(self, point: SweepPoint, slot: Slot, progress: Path) -> list[str]:
        """:func:`vaeframe.sweeps.commands.point_command`, then the slot's device, resuming
        and the progress file."""
        return [*point_command(self.sweep, point, self.directory, self.plugins),
                *["--resume"] * self.resume, *set_args(slot.sets()),
                "--progress-file", str(progress)]

    def _start(self, point: SweepPoint, slot: Slot) -> Child:
        logs = self.directory / LOG_DIR
        logs.mkdir(parents=True, exist_ok=True)
        name = point_run_name(self.sweep, point)
        log, progress = logs / f"{name}.log", logs / f"{name}.progress.json"
        progress.unlink(missing_ok=True)
        running = self.launcher.start(self.point_command(point, slot, progress), slot, log)
        return Child(point, slot, running, log, progress, time.monotonic())

    def run(self, points: Sequence[SweepPoint]) -> list[Outcome]:
        """Run ``points``, at most one a slot at a time; returns an outcome for each."""
        queue = collections.deque(points)
        free = list(self.slots)
        running: list[Child] = []
        outcomes: list[Outcome] = []
        display = ProgressDisplay(self.interval_s)
        stop = SignalForwarder(lambda: [c.running for c in running], display.event)
        with display, stop, _stopped_on_error(running):
            # once a stop signal came, the points not started yet stay queued for --resume
            while running or (queue and stop.signum is None):
                while queue and free and stop.signum is None:
                    child = self._start(queue.popleft(), free.pop(0))
                    running.append(child)
                    if stop.signum is not None:  # the signal came while it started
                        child.running.send(stop.signum)
                    display.event(f"{child.label}: started "
                                  f"({self.launcher.describe(child.slot)}); log {child.log}")
                for child in list(running):
                    code = child.running.poll()
                    if code is None:
                        continue
                    running.remove(child)
                    free = sorted([*free, child.slot], key=lambda s: s.index)
                    outcome = _outcome(child, code, stop.signum is not None)
                    outcomes.append(outcome)
                    display.event(f"{child.label}: {outcome.status} (exit code {code}) after "
                                  f"{time.monotonic() - child.started:.0f} s")
                display.update([progress_line(c.label, read_progress(c.progress),
                                              time.monotonic() - c.started,
                                              self.launcher.describe(c.slot))
                                for c in running])
                if running:
                    time.sleep(POLL_S)
            self.signum = stop.signum
        outcomes += [Outcome(point, NOT_STARTED) for point in queue]
        order = {point.index: i for i, point in enumerate(points)}
        return sorted(outcomes, key=lambda o: order[o.point.index])


def log_tail(log: Path, lines: int = 12) -> list[str]:
    """The last ``lines`` lines of a point's log."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return text.rstrip().splitlines()[-lines:]


def describe_outcomes(outcomes: Sequence[Outcome]) -> list[str]:
    """The end-of-sweep account: counts, then every point that did not finish, with the
    last lines of a failed point's log."""
    counts = collections.Counter(o.status for o in outcomes)
    lines = [", ".join(f"{counts[s]} {s}" for s in (FINISHED, FAILED, INTERRUPTED, NOT_STARTED)
                       if counts[s])]
    for outcome in outcomes:
        label = f"[{outcome.point.index}] {outcome.point.label or 'point'}"
        if outcome.status == FAILED:
            lines.append(f"{label}: failed with exit code {outcome.returncode}; last lines of "
                         f"{outcome.log}:")
            lines += [f"    {line}" for line in log_tail(outcome.log)] if outcome.log else []
        elif outcome.status == INTERRUPTED:
            saved = outcome.run_dir and checkpoint_path(Path(outcome.run_dir)).is_file()
            lines.append(f"{label}: interrupted (exit code {outcome.returncode}); "
                         + (f"its checkpoint is in {outcome.run_dir}" if saved else
                            "no checkpoint yet: --resume starts it anew"))
        elif outcome.status == NOT_STARTED:
            lines.append(f"{label}: not started")
    return lines
