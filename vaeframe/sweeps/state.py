"""Where each point of a sweep stands in its sweep directory, for ``--resume`` and the report.

A point's runs are the directories ``<run name>-YYYYmmdd-HHMMSS[-N]`` in the sweep directory
(:func:`vaeframe.rundir.layout.dirs_named`). A point is *finished* when one of them has a
``summary.json`` with status ``finished``; it is *resumable* when its newest run has a
checkpoint to continue from (interrupted, killed, or failed after its first epoch);
otherwise it is *new*.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import attrs

from vaeframe.config.legacy import upgrade_run_dir_config
from vaeframe.config.overrides import configure
from vaeframe.config.schema import RunConfig
from vaeframe.config.tomlfile import parse_toml
from vaeframe.registry.manager import Registry
from vaeframe.rundir.layout import CONFIG_FILE, SUMMARY_FILE, checkpoint_path, dirs_named
from vaeframe.rundir.status import RunStatus

FINISHED = RunStatus.FINISHED  # one of its runs finished
RESUMABLE = "resumable"  # its newest run has a checkpoint to continue from
NEW = "new"


@attrs.frozen
class PointState:
    """``status`` is FINISHED, RESUMABLE or NEW; ``run_dir`` the run it refers to, if any."""

    status: str
    run_dir: Path | None = None


def point_run_dirs(directory: Path, run_name: str) -> list[Path]:
    """The run directories of the point named ``run_name`` in ``directory``, oldest first."""
    return dirs_named(directory, run_name)


def run_status(run_dir: Path) -> str | None:
    """The status in ``run_dir/summary.json``; ``None`` if it has none (still running, or
    killed)."""
    try:
        summary = json.loads((run_dir / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return summary.get("status") if isinstance(summary, dict) else None


def point_state(directory: Path, run_name: str) -> PointState:
    """Whether the point named ``run_name`` is finished, can be resumed, or starts anew."""
    runs = point_run_dirs(directory, run_name)
    finished = [run for run in runs if run_status(run) == FINISHED]
    if finished:
        return PointState(FINISHED, finished[-1])
    if runs and checkpoint_path(runs[-1], "last").is_file():
        return PointState(RESUMABLE, runs[-1])
    return PointState(NEW)


def report_run_dir(directory: Path, run_name: str) -> Path | None:
    """The run that stands for the point in the report: its finished run, else its newest
    run with a summary (failed or interrupted), else ``None``."""
    state = point_state(directory, run_name)
    if state.status == FINISHED:
        return state.run_dir
    summarized = [run for run in point_run_dirs(directory, run_name) if run_status(run)]
    return summarized[-1] if summarized else None


def resume_config(run_dir: Path, registry: Registry, sets: Sequence[str] = ()) -> RunConfig:
    """The configuration a run is resumed with: its ``config.toml``, then ``sets``."""
    path = run_dir / CONFIG_FILE
    return configure(upgrade_run_dir_config(parse_toml(path)), registry, str(path), sets=sets)
