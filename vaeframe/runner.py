"""A run from start to end: its directory, its loggers, the trainer, summary.json."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import tomli_w

from vaeframe import distributed
from vaeframe.api import Logger, RunInfo
from vaeframe.checkpoint import load_checkpoint
from vaeframe.config import ComponentConfig, RunConfig
from vaeframe.distributed import World, world_from_environment
from vaeframe.engine import Interrupted, Trainer, resolve_device
from vaeframe.errors import PluginError, VaeframeError
from vaeframe.fastpath import check_fast_path
from vaeframe.interrupts import StopRequest
from vaeframe.plugin_calls import call_plugin
from vaeframe.rundir import CONFIG_FILE, SUMMARY_FILE, checkpoint_path
from vaeframe.summary import run_summary


def check_settings(config: RunConfig, world: World) -> None:
    """Refuse settings that cannot work here (fast path, torchrun) before anything is made."""
    t = config.train
    check_fast_path(t.compile, t.precision, t.on_nonfinite, resolve_device(t.device))
    distributed.check_parallel_settings(world, t.compile, t.on_nonfinite)


def create_run_dir(output_dir: str, name: str) -> Path:
    """A new directory ``output_dir/name-YYYYmmdd-HHMMSS[-N]``; never an existing one."""
    base = Path(output_dir)
    try:
        base.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for attempt in range(1000):
            candidate = base / (f"{name}-{stamp}" + (f"-{attempt}" if attempt else ""))
            try:
                candidate.mkdir()
                return candidate
            except FileExistsError:
                continue
    except OSError as exc:
        raise VaeframeError(f"run.output_dir = {output_dir!r}: cannot create a run directory "
                            f"there ({exc.strerror}); choose a writable directory") from None
    raise VaeframeError(f"run.output_dir = {output_dir!r}: too many runs named {name!r}")


def history_file(loggers: list[ComponentConfig]) -> dict[str, str]:
    """``{"history_file": path}`` from the first logger that declares it writes the run's
    history as JSON lines (``history_file()``), for reports; ``{}`` if none does."""
    for logger in loggers:
        if callable(getattr(logger.params, "history_file", None)):
            return {"history_file": str(call_plugin(logger, "history_file"))}
    return {}


def close_loggers(loggers: list[ComponentConfig], summary: Mapping[str, Any],
                  status: str) -> list[str]:
    """Close every logger, even when one fails; returns the failures' messages."""
    failures = []
    for logger in loggers:
        try:
            call_plugin(logger, "close", summary, status)
        except VaeframeError as exc:
            failures.append(str(exc))
    return failures


def run(config: RunConfig, resume_dir: Path | None = None,
        watchers: Sequence[Logger] = (), started: float | None = None) -> dict[str, Any]:
    """Train ``config`` into a new run directory, or continue the run in ``resume_dir``.

    Under torchrun every rank trains; rank 0 alone writes the run directory and logs.
    ``watchers`` are loggers of the caller's own (not in the run file or its config.toml),
    such as a sweep's progress file. ``started`` is the ``time.perf_counter()`` at which the
    run started, for ``time_s.startup`` (the CLI passes vaeframe's import; default: now).
    Returns the summary written to ``summary.json``; its ``status`` is ``finished``,
    ``interrupted`` (with ``signal``) or ``failed``.
    """
    started = time.perf_counter() if started is None else started
    world = world_from_environment()
    check_settings(config, world)
    distributed.start(world, resolve_device(config.train.device))
    try:
        return _run(config, resume_dir, world, watchers, started)
    finally:
        distributed.stop(world)


def _agreed_run_dir(config: RunConfig, resume_dir: Path | None, world: World) -> Path:
    """Rank 0 makes (or takes) the run directory and tells the others, or its error."""
    found: Path | str = ""
    if world.is_main:
        try:
            found = resume_dir or create_run_dir(config.run.output_dir, config.run.name)
        except VaeframeError as exc:
            found = str(exc)
    found = world.broadcast(found)
    if isinstance(found, str):
        raise VaeframeError(found)
    return found


def _watcher_configs(watchers: Sequence[Logger]) -> list[ComponentConfig]:
    """The caller's watchers in the form the trainer calls loggers in."""
    return [ComponentConfig("loggers", type(w).__name__, w) for w in watchers]


def _run(config: RunConfig, resume_dir: Path | None, world: World,
         watchers: Sequence[Logger], started: float) -> dict[str, Any]:
    run_dir = _agreed_run_dir(config, resume_dir, world)
    last = checkpoint_path(run_dir, "last")
    checkpoint = None if resume_dir is None else load_checkpoint(last)
    resolved = config.to_dict()
    if world.is_main:
        (run_dir / CONFIG_FILE).write_text(tomli_w.dumps(resolved), encoding="utf-8")
    opened: list[ComponentConfig] = []
    status, summary, trainer, close_failures = "failed", None, None, []
    with StopRequest() as stop:
        try:
            trainer = Trainer(config, run_dir, opened, stop, world, started)
            if checkpoint is not None:
                trainer.load_state_dict(checkpoint, last)
            info = RunInfo(name=config.run.name, run_dir=run_dir, config=resolved,
                           resumed=checkpoint is not None,
                           resume_step=trainer.step if checkpoint is not None else 0)
            for logger in [*config.loggers, *_watcher_configs(watchers)] if world.is_main else []:
                call_plugin(logger, "open", info)
                opened.append(logger)
            summary = trainer.fit()
            status = "finished"
        except Interrupted as exc:
            status = "interrupted"
            summary = ({**run_summary(trainer.record(), status), "signal": exc.signum}
                       if trainer else None)
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            if summary is None:
                summary = (run_summary(trainer.record(), status) if trainer else
                           {"name": config.run.name, "status": status, "run_dir": str(run_dir)})
            summary = {**summary, **history_file(config.loggers)}
            if world.is_main:
                (run_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n",
                                                    encoding="utf-8")
            close_failures = close_loggers(opened, summary, status)
            for failure in close_failures:
                print(f"warning: {failure}", file=sys.stderr)
    if close_failures and status == "finished":
        raise PluginError("training finished, but " + "; ".join(close_failures))
    return summary
