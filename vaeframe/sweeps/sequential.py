"""A sweep's points one after another in this process (``vaeframe sweep`` without ``--jobs``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vaeframe.errors import VaeframeError
from vaeframe.registry.manager import Registry
from vaeframe.registry.types import Logger
from vaeframe.rundir.status import RunStatus
from vaeframe.runs.runner import run
from vaeframe.sweeps.spec import Sweep, SweepPoint, point_config, point_run_name
from vaeframe.sweeps.state import FINISHED, RESUMABLE, point_state, resume_config


def run_points(sweep: Sweep, points: list[SweepPoint], directory: Path, registry: Registry,
               resume: bool = False, watchers: Sequence[Logger] = (),
               started: float | None = None) -> tuple[list[str], dict[str, Any] | None]:
    """Run ``points`` one after another into ``directory``, in this process.

    With ``resume``, a finished point is skipped and a point with a checkpoint continues from
    it (see :mod:`vaeframe.sweeps.state`). Returns the labels of the points that failed (the
    next point still runs after a failure) and, if a signal stopped a run, that run's summary
    (no later point runs then). ``started`` (the ``time.perf_counter()`` at which this process
    started) counts towards the first point's ``time_s.startup``.
    """
    failed = []
    directory.mkdir(parents=True, exist_ok=True)
    for point in points:
        name = point_run_name(sweep, point)
        state = point_state(directory, name) if resume else None
        where = f"sweep {sweep.name}: point {point.index + 1}/{len(sweep.points)} {point.label!r}"
        try:
            if state is not None and state.status == FINISHED:
                print(f"{where}: finished already ({state.run_dir}); skipped", file=sys.stderr)
                continue
            if state is not None and state.status == RESUMABLE:
                assert state.run_dir is not None
                print(f"{where} → resuming {state.run_dir}", file=sys.stderr)
                config = resume_config(state.run_dir, registry, sweep.sets)
                summary = run(config, resume_dir=state.run_dir, watchers=watchers,
                              started=started)
            else:
                config = point_config(sweep, point, directory, registry)
                print(f"{where} → {config.run.name}", file=sys.stderr)
                summary = run(config, watchers=watchers, started=started)
        except VaeframeError as exc:
            print(f"error: point {point.label!r}: {exc}", file=sys.stderr)
            failed.append(point.label or str(point.index))
            continue
        finally:
            started = None  # later points start when they do
        if summary.get("status") == RunStatus.INTERRUPTED:
            return failed, summary
        if summary.get("status") != FINISHED:
            failed.append(point.label or str(point.index))
    return failed, None
