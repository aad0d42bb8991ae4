"""A run from start to end: its directory, its loggers, the trainer, summary.json."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import tomli_w
import torch

from vaeframe.config.schema import ComponentConfig, RunConfig
from vaeframe.errors import PluginError, VaeframeError, WriteError
from vaeframe.latents.factor_scores import factor_scores, fixed_factor_sampler
from vaeframe.registry.calls import call_plugin
from vaeframe.registry.declarations import has_networks
from vaeframe.registry.types import Logger, RunInfo
from vaeframe.rundir.checkpoint import load_checkpoint
from vaeframe.rundir.files import write_text
from vaeframe.rundir.layout import CONFIG_FILE, SUMMARY_FILE, checkpoint_path, create_run_dir
from vaeframe.rundir.status import RunStatus
from vaeframe.runs.summary import run_summary
from vaeframe.training import distributed
from vaeframe.training.devices import resolve_device
from vaeframe.training.distributed import World, world_from_environment
from vaeframe.training.fastpath import check_fast_path
from vaeframe.training.signals import Interrupted, StopRequest
from vaeframe.training.trainer import Trainer


def check_settings(config: RunConfig, world: World, device: torch.device) -> None:
    """Refuse settings that cannot work here (fast path, torchrun) before anything is made."""
    t = config.train
    check_fast_path(t.compile, t.precision, t.on_nonfinite, device,
                    config.kl.describe() if has_networks(config.kl) else None)
    distributed.check_parallel_settings(world, t.compile, t.on_nonfinite)


def history_file(loggers: list[ComponentConfig]) -> dict[str, str]:
    """``{"history_file": path}`` from the first logger that declares it writes the run's
    history as JSON lines (``history_file()``), for reports; ``{}`` if none does."""
    for logger in loggers:
        if callable(getattr(logger.params, "history_file", None)):
            return {"history_file": str(call_plugin(logger, "history_file"))}
    return {}


def close_loggers(loggers: list[ComponentConfig], summary: Mapping[str, Any],
                  status: RunStatus) -> list[str]:
    """Close every logger, even when one fails; returns the failures' messages."""
    failures = []
    for logger in loggers:
        try:
            call_plugin(logger, "close", summary, status.value)
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
    device = resolve_device(config.train.device)
    check_settings(config, world, device)
    device = distributed.start(world, device)
    try:
        return _run(config, resume_dir, world, device, watchers, started)
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


def _scored(trainer: Trainer, config: RunConfig, world: World) -> dict[str, Any]:
    """The finished run's summary, with its disentanglement scores for a factor dataset
    (rank 0 computes them)."""
    scores = None
    if world.is_main:
        with trainer.clock.phase("disentanglement"):
            scores = factor_scores(trainer.model, trainer.parts.data.source,
                                   config.train.eval_batch_size, config.run.seed,
                                   fixed_factor_sampler(config.data))
    return run_summary(trainer.record(scores), RunStatus.FINISHED)


def _run(config: RunConfig, resume_dir: Path | None, world: World, device: torch.device,
         watchers: Sequence[Logger], started: float) -> dict[str, Any]:
    # signals are caught from before the run directory is made: a SIGTERM as it appears
    # stops the run after its first step, with a checkpoint, as at any later moment
    with StopRequest() as stop:
        return _run_caught(config, resume_dir, world, device, watchers, started, stop)


def _run_caught(config: RunConfig, resume_dir: Path | None, world: World,
                device: torch.device, watchers: Sequence[Logger], started: float,
                stop: StopRequest) -> dict[str, Any]:
    run_dir = _agreed_run_dir(config, resume_dir, world)
    last = checkpoint_path(run_dir, "last")
    checkpoint = None if resume_dir is None else load_checkpoint(last)
    resolved = config.to_dict()
    # a resume is all or nothing: nothing in the run directory changes until its checkpoint
    # has loaded into this run's model and optimizer and its loggers have opened
    committed = resume_dir is None
    if world.is_main and committed:
        try:
            write_text(run_dir / CONFIG_FILE, tomli_w.dumps(resolved))
        except WriteError:
            shutil.rmtree(run_dir, ignore_errors=True)  # made here, and nothing in it yet
            raise
    opened: list[ComponentConfig] = []
    status, summary, trainer, close_failures = RunStatus.FAILED, None, None, []
    failure: BaseException | None = None  # what ends the run early, if anything
    try:
        trainer = Trainer(config, run_dir, opened, stop, world, started, device)
        if checkpoint is not None:
            trainer.load_state_dict(checkpoint, last)
        info = RunInfo(name=config.run.name, run_dir=run_dir, config=resolved,
                       resumed=checkpoint is not None,
                       resume_step=trainer.state.step if checkpoint is not None else 0)
        for logger in [*config.loggers, *_watcher_configs(watchers)] if world.is_main else []:
            call_plugin(logger, "open", info)
            opened.append(logger)
        if not committed and world.is_main:  # the checkpoint fits and every logger opened
            write_text(run_dir / CONFIG_FILE, tomli_w.dumps(resolved))
        committed = True
        trainer.fit()
        summary = _scored(trainer, config, world)
        status = RunStatus.FINISHED
    except Interrupted as exc:
        status = RunStatus.INTERRUPTED
        summary = ({**run_summary(trainer.record(), status), "signal": exc.signum}
                   if trainer else None)
    except KeyboardInterrupt as exc:
        status, failure = RunStatus.INTERRUPTED, exc
        raise
    except BaseException as exc:
        failure = exc
        raise
    finally:
        if committed:
            summary, close_failures = _close(config, run_dir, world, trainer, summary,
                                             status, opened, failure)
        else:  # a refused resume: the loggers that opened close, and nothing is written
            close_loggers(opened, summary or {"status": str(status)}, status)
    if close_failures and status == RunStatus.FINISHED:
        raise PluginError("training finished, but " + "; ".join(close_failures))
    return summary


def _close(config: RunConfig, run_dir: Path, world: World, trainer: Trainer | None,
           summary: dict[str, Any] | None, status: RunStatus, opened: list[ComponentConfig],
           failure: BaseException | None) -> tuple[dict[str, Any], list[str]]:
    """Write summary.json (a failed one where the run made none) and close the loggers;
    returns the summary and the loggers' close failures. Where the run is ending on
    ``failure``, a summary that cannot be written is a warning, so that the error the user
    sees is the one that ended the run."""
    if summary is None:
        summary = (run_summary(trainer.record(), status) if trainer else
                   {"name": config.run.name, "status": str(status), "run_dir": str(run_dir)})
    summary = {**summary, **history_file(config.loggers)}
    if world.is_main:
        try:
            write_text(run_dir / SUMMARY_FILE, json.dumps(summary, indent=2) + "\n")
        except WriteError as exc:
            close_loggers(opened, summary, status)
            if failure is None:
                raise
            print(f"warning: {exc}", file=sys.stderr)  # the run's own error comes first
            return summary, []
    close_failures = close_loggers(opened, summary, status)
    for failure in close_failures:
        print(f"warning: {failure}", file=sys.stderr)
    return summary, close_failures
