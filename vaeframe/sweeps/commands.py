"""A point's command line: one function builds it for ``--list``, ``--jobs`` and the cluster
launcher, so that a point runs the same command however it is started."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

from vaeframe.config.tomlfile import toml_value
from vaeframe.sweeps.spec import Sweep, SweepPoint


def plugin_args(modules: Sequence[str]) -> list[str]:
    """``-p MODULE`` for every plugin module the command was given."""
    return [word for module in modules for word in ("-p", module)]


def set_args(sets: Sequence[str]) -> list[str]:
    return [word for expression in sets for word in ("--set", expression)]


def point_command(sweep: Sweep, point: SweepPoint, directory: Path,
                  plugins: Sequence[str] = ()) -> list[str]:
    """The ``vaeframe`` arguments that run ``point`` of ``sweep`` into ``directory``."""
    return [*plugin_args(plugins), "sweep", str(sweep.source), "--point", str(point.index),
            "--dir", str(directory), *set_args(sweep.sets)]


def describe_overrides(point: SweepPoint) -> str:
    """``kl.threshold = 0.3, schedule = { name = "cyclical" }``: what the point changes in the
    run file, as the sweep file spells it."""
    return ", ".join(f"{key} = {toml_value(value)}" for key, value in point.overrides) or \
        "the file as it is"


def list_commands(sweep: Sweep, directory: Path, plugins: Sequence[str] = ()) -> list[str]:
    """One shell command per point, each with its overrides as a comment, then the report
    command: for a cluster scheduler (``vaeframe sweep FILE --list``)."""
    lines = [shlex.join(["vaeframe", *point_command(sweep, point, directory, plugins)])
             + f"  # {point.label or 'point'}: {describe_overrides(point)}"
             for point in sweep.points]
    lines.append(f"vaeframe report {shlex.quote(str(directory))}/{sweep.name}*/ "
                 f"--out {shlex.quote(str(directory / 'report'))}")
    return lines
