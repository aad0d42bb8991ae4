"""`vaeframe sweep`: the command's flow from parsed arguments to runs, a report and an exit
code. The points are run by :func:`vaeframe.sweeps.sequential.run_points` (one after
another, in this process) or by :class:`vaeframe.sweeps.pool.PointPool` (``--jobs N``, a
process each, or cluster jobs)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs

from vaeframe.errors import VaeframeError
from vaeframe.registry.manager import get_registry
from vaeframe.sweeps import slots as sweep_slots
from vaeframe.sweeps import spec as sweeps
from vaeframe.sweeps.commands import list_commands, plugin_args, set_args
from vaeframe.sweeps.pool import (
    FAILED,
    INTERRUPTED,
    Launcher,
    PointPool,
    ProcessLauncher,
    describe_outcomes,
)
from vaeframe.sweeps.progress import ProgressFile
from vaeframe.sweeps.spec import Sweep, point_run_name
from vaeframe.sweeps.state import FINISHED, point_state, report_run_dir
from vaeframe.training.clock import IMPORTED_AT
from vaeframe.training.devices import available_cpus

JobEntry = Callable[[Sequence[str], str], int]  # (vaeframe argv, log path) -> exit code


def sweep_command(args: argparse.Namespace, entry: JobEntry) -> int:
    """`vaeframe sweep`: list, run one point, or run every point (N at a time), then report.

    ``entry`` is what a cluster job runs (:func:`vaeframe.cli.app.run_point`)."""
    for flag, value in (("--jobs", args.jobs), ("--threads", args.threads)):
        if value is not None and value < 1:
            raise VaeframeError(f"{flag}: give a whole number of at least 1")
    registry = get_registry()
    plan = sweeps.load_sweep(args.run_file, registry, args.sets)
    directory = _sweep_dir(args, plan)
    if args.list:
        print("\n".join(list_commands(plan, directory, _plugins(args))))
        return 0
    if args.point is not None and (args.jobs or args.executor):
        raise VaeframeError("--point runs one point; --jobs and --executor run several: "
                            "give one")
    if args.slurm_sets and not args.executor:
        raise VaeframeError("--slurm sets what a cluster job asks for: it needs --executor")
    if args.executor and args.devices:
        raise VaeframeError(f"--devices assigns this machine's devices; with --executor "
                            f"{args.executor}, each job gets its own (see gpus_per_node)")
    if args.executor or (args.jobs or 1) > 1:
        return _sweep_in_processes(args, plan, directory, entry)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.devices:
        first = sweep_slots.parse_devices(args.devices)[0]
        plan = attrs.evolve(plan, sets=(*plan.sets, f'train.device="{first}"'))
    points = [sweeps.select(plan, args.point)] if args.point is not None else list(plan.points)
    watchers = [ProgressFile(args.progress_file)] if args.progress_file else []
    from vaeframe.sweeps.sequential import run_points  # imports torch

    failed, interrupted = run_points(plan, points, directory, registry, args.resume,
                                            watchers, IMPORTED_AT)
    if interrupted is not None:
        print(f"sweep {plan.name}: interrupted; {interrupted['run_dir']} has its checkpoint. "
              f"Resume the sweep with\n  {_resume_command(args, directory)}", file=sys.stderr)
        return 128 + int(interrupted.get("signal", 2))
    if args.point is None:
        _report(plan, directory)
    if failed:
        print(f"sweep {plan.name}: {len(failed)} point(s) failed: {', '.join(failed)}",
              file=sys.stderr)
        return 1
    return 0


def _sweep_dir(args: argparse.Namespace, plan: Sweep) -> Path:
    """--dir; with --resume and no --dir, the newest directory of this sweep."""
    if args.dir is not None:
        if args.resume and not args.dir.is_dir():
            raise VaeframeError(f"--resume --dir {args.dir}: no such sweep directory")
        return args.dir
    if not args.resume:
        return sweeps.default_dir(plan)
    latest = sweeps.latest_dir(plan)
    if latest is None:
        raise VaeframeError(f"--resume: no sweep directory {plan.output_dir}/{plan.name}-"
                            "YYYYmmdd-HHMMSS to resume; give it with --dir DIR")
    print(f"sweep {plan.name}: resuming {latest}", file=sys.stderr)
    return latest


def _plugins(args: argparse.Namespace) -> list[str]:
    """The ``-p`` modules given before and after ``sweep``."""
    return [*args.plugins, *args.command_plugins]


def _resume_command(args: argparse.Namespace, directory: Path) -> str:
    """The command that continues this sweep where it stopped."""
    words = ["vaeframe", *plugin_args(_plugins(args)), "sweep", str(args.run_file),
             "--dir", str(directory)]
    words += ["--point", args.point] if args.point is not None else []
    words += ["--jobs", str(args.jobs)] if args.jobs else []
    words += ["--executor", args.executor] if args.executor else []
    words += [w for expression in args.slurm_sets for w in ("--slurm", expression)]
    words += ["--devices", args.devices] if args.devices else []
    words += ["--threads", str(args.threads)] if args.threads else []
    words += set_args(args.sets)
    return shlex.join([*words, "--resume"])


def _sweep_in_processes(args: argparse.Namespace, plan: Sweep, directory: Path,
                        entry: JobEntry) -> int:
    """--jobs N: the points not finished yet, N at a time, then the report."""
    points = list(plan.points)
    # a cluster's job that is started again (requeued) continues from its checkpoint
    resume = args.resume or bool(args.executor)
    if resume:
        done = [p for p in points if point_state(directory, point_run_name(plan, p)).status
                == FINISHED]
        for point in done:
            print(f"sweep {plan.name}: [{point.index}] {point.label or 'point'} finished "
                  "already; skipped", file=sys.stderr)
        points = [p for p in points if p not in done]
    if not points:
        _report(plan, directory)
        return 0
    devices = sweep_slots.parse_devices(args.devices) if args.devices else ()
    threads = args.threads or sweep_slots.environment_threads(os.environ)
    jobs = args.jobs or (len(points) if args.executor else 1)
    slots = sweep_slots.plan_slots(min(jobs, len(points)), available_cpus(),
                                   devices, threads)
    launcher = _launcher(args, plan, directory, entry)
    print(f"sweep {plan.name}: {len(points)} point(s), {len(slots)} at a time into {directory} "
          f"({'; '.join(dict.fromkeys(launcher.describe(s) for s in slots))})",
          file=sys.stderr)
    pool = PointPool(plan, directory, slots, _plugins(args), resume=resume, launcher=launcher)
    outcomes = pool.run(points)
    for line in describe_outcomes(outcomes):
        print(f"sweep {plan.name}: {line}", file=sys.stderr)
    if pool.signum is not None:
        print(f"Resume the sweep with\n  {_resume_command(args, directory)}", file=sys.stderr)
        return 128 + pool.signum
    _report(plan, directory)
    stopped = [o for o in outcomes if o.status in (FAILED, INTERRUPTED)]
    return 1 if stopped else 0


def _launcher(args: argparse.Namespace, plan: Sweep, directory: Path,
              entry: JobEntry) -> Launcher:
    """Processes on this machine, or jobs of the --executor."""
    if not args.executor:
        return ProcessLauncher()
    from vaeframe.sweeps.cluster import SUBMITIT_FOLDER, cluster_launcher, slurm_options

    options = slurm_options(plan.slurm, str(plan.source), args.slurm_sets)
    directory.mkdir(parents=True, exist_ok=True)
    return cluster_launcher(args.executor, directory / SUBMITIT_FOLDER, options,
                            f"vaeframe-{plan.name}", args.threads, entry)


def _report(plan: Sweep, directory: Path) -> None:
    """The report over each point's run (its finished run, else its newest), in point order."""
    run_dirs = [d for d in (report_run_dir(directory, point_run_name(plan, p))
                            for p in plan.points) if d is not None]
    if run_dirs:
        from vaeframe.report import make_report

        report = make_report(run_dirs, directory / "report")
        print(f"sweep {plan.name}: report → {report}", file=sys.stderr)
