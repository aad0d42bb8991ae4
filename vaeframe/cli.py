"""The ``vaeframe`` command line. Torch is imported only by commands that train."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vaeframe import __version__
from vaeframe.errors import VaeframeError
from vaeframe.plugins import KINDS, Registry, get_registry, set_extra_modules
from vaeframe.rundir import CONFIG_FILE, checkpoint_path


def _plugin_options(dest: str) -> argparse.ArgumentParser:
    # The command's -p gets its own dest: argparse would let the subcommand's default
    # replace the list of modules given before the command (`vaeframe -p mod run ...`).
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("-p", dest=dest, action="append", default=[], metavar="MODULE",
                        help="load a plugin module without packaging it (repeatable)")
    return parent


SWEEP_EPILOG = """\
points in parallel:
  --jobs N runs up to N points at once on this machine, each an ordinary run in a process of
  its own. The CPUs are divided among them (see --threads); --devices assigns GPUs. Each
  point's console output goes to DIR/logs/<run name>.log, and one line per running point
  shows its progress. A point that fails does not stop the others; it is reported at the
  end with its exit code and the last lines of its log.

cluster jobs:
  --executor slurm submits each point as a Slurm job with submitit, asking for what the
  sweep file's [sweep.slurm] table and --slurm KEY=VALUE say (partition, time_min,
  gpus_per_node, cpus_per_task, mem_gb, account, qos, constraint, setup, additional). This
  command waits for the jobs, showing one line per running point, then writes the report.
  Every job runs its point with --resume, so a job run again continues from its checkpoint.

stopping and resuming:
  Ctrl-C (SIGINT) or SIGTERM asks every running point to stop after its current step and
  save a checkpoint. A second one stops them at once. The command to resume is printed:
  vaeframe sweep FILE --dir DIR --resume skips the points whose run finished, continues
  those with a checkpoint from it, and starts the others. Without --resume, every point
  runs anew into DIR. Exit code: 0 when every point finished, 1 when one failed, 128 + the
  signal's number when stopped by a signal (130 for Ctrl-C).
"""


def build_parser() -> argparse.ArgumentParser:
    common = _plugin_options("command_plugins")
    parser = argparse.ArgumentParser(
        prog="vaeframe", parents=[_plugin_options("plugins")],
        description="Train β-VAEs on ARC-AGI grids with pluggable β schedules, KL "
                    "regularizers and loggers.")
    parser.add_argument("--version", action="version", version=f"vaeframe {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", parents=[common], help="train from a TOML run file",
                              description="Train a β-VAE as a TOML run file says.")
    run.add_argument("run_file", type=Path, nargs="?",
                     help="the run file, e.g. configs/ultra.toml")
    run.add_argument("--resume", type=Path, metavar="RUN_DIR",
                     help="continue the run in RUN_DIR from its last checkpoint (overrides "
                          "such as --epochs apply on top of its config.toml)")
    run.add_argument("--beta-schedule", metavar="NAME",
                     help="β schedule (sets schedule.name; parameters it lacks are dropped)")
    run.add_argument("--beta-max", type=float, metavar="X", help="sets schedule.max_beta")
    run.add_argument("--free-bits", type=float, metavar="NATS",
                     help="free bits: the KL floor per dimension (sets the floor of the run "
                          "file's KL regularizer, or selects free_bits with that threshold)")
    run.add_argument("--epochs", type=int, metavar="N", help="sets train.epochs")
    run.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                     help="override any key, e.g. --set train.batch_size=128 (repeatable)")

    sweep = commands.add_parser(
        "sweep", parents=[common], help="run every point of a [sweep] run file, then report",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run each point of a run file's [sweep] table as an independent run into "
                    "one sweep directory,\nthen write the comparison report into DIR/report. "
                    "See configs/ablation.toml and the README.",
        epilog=SWEEP_EPILOG)
    sweep.add_argument("run_file", type=Path, help="a run file with a [sweep] table")
    sweep.add_argument("--jobs", type=int, metavar="N",
                       help="run up to N points at once, each in a process of its own "
                            "(default 1: one after another in this process; with "
                            "--executor: every point at once)")
    sweep.add_argument("--devices", metavar="LIST",
                       help="with --jobs, put the points on these devices round-robin, e.g. "
                            "cuda:0,cuda:1 (sets train.device; default: each point's own)")
    sweep.add_argument("--threads", type=int, metavar="T",
                       help="CPU threads per point (default: OMP_NUM_THREADS if set, else "
                            "the CPUs this process may use divided among the --jobs)")
    sweep.add_argument("--resume", action="store_true",
                       help="skip finished points and continue interrupted ones from their "
                            "checkpoints, in DIR (default: the newest sweep directory of "
                            "this sweep)")
    sweep.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                       help="override a key of every point, after the point's own overrides "
                            "(repeatable)")
    sweep.add_argument("--executor", choices=["slurm", "local"],
                       help="run each point as a cluster job with submitit (pip install "
                            "'vaeframe[slurm]'); local: the same jobs on this machine")
    sweep.add_argument("--slurm", dest="slurm_sets", action="append", default=[],
                       metavar="KEY=VALUE",
                       help="with --executor: set a key of [sweep.slurm], e.g. "
                            "--slurm partition=gpu --slurm time_min=240 (repeatable)")
    sweep.add_argument("--list", action="store_true",
                       help="print one shell command per point (for a cluster scheduler), "
                            "then the report command; run nothing")
    sweep.add_argument("--point", metavar="I|NAME",
                       help="run only this point (index from 0, or its name); no report")
    sweep.add_argument("--dir", type=Path, metavar="DIR",
                       help="the sweep directory (default: run.output_dir/NAME-TIMESTAMP)")
    sweep.add_argument("--progress-file", type=Path, help=argparse.SUPPRESS)

    report = commands.add_parser(
        "report", parents=[common], help="plots and a comparison table of runs",
        description="PNG plots (β, non-black accuracy, KL per dimension, reconstructions in the "
                    "ARC palette) and a Markdown table comparing the runs side by side.")
    report.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR")
    report.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="where report.md, table.md and the PNG files go")

    encode = commands.add_parser(
        "encode", parents=[common], help="write the latents of a dataset's grids to a file",
        description="Encode every grid of a dataset with a trained run's model: μ and log σ² "
                    "of each grid with its split, index, size and labels (ARC: task id, pair, "
                    "role; arc-shapes: its factors), into an .npz or .csv file.")
    encode.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    encode.add_argument("--out", type=Path, required=True, metavar="FILE",
                        help="FILE.npz (every column) or FILE.csv (one row per grid)")
    encode.add_argument("--data", metavar="NAME",
                        help="another dataset, with its default parameters (default: the run's)")
    encode.add_argument("--set", dest="sets", action="append", default=[],
                        metavar="data.KEY=VALUE",
                        help="a dataset parameter, e.g. --set data.drop_seen=false (repeatable)")
    encode.add_argument("--split", choices=("train", "heldout", "all"), default="all")
    encode.add_argument("--checkpoint", choices=("best", "last"), default="best")
    encode.add_argument("--device", default="cpu", help="where to run the encoder (cpu, cuda)")

    listing = commands.add_parser("list-plugins", parents=[common],
                                  help="list every component by kind")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def command_run(args: argparse.Namespace) -> int:
    from vaeframe.config import parse_toml, upgrade_run_dir_config
    from vaeframe.overrides import configure

    run_file = _run_file(args)
    raw = parse_toml(run_file)
    if args.resume is not None:
        raw = upgrade_run_dir_config(raw)
    config = configure(raw, get_registry(), str(run_file), sets=args.sets,
                       beta_schedule=args.beta_schedule, beta_max=args.beta_max,
                       free_bits=args.free_bits, epochs=args.epochs)
    for note in config.notes:
        print(f"note: {note}", file=sys.stderr)

    from vaeframe.runner import run
    from vaeframe.timing import IMPORTED_AT

    summary = run(config, resume_dir=args.resume, started=IMPORTED_AT)
    if summary.get("status") == "interrupted":
        print(f"interrupted at epoch {summary.get('epochs_completed', 0) + 1}, step "
              f"{summary.get('steps', 0)}; checkpoint saved. Resume with:\n"
              f"  vaeframe run --resume {summary['run_dir']}", file=sys.stderr)
        return 128 + int(summary.get("signal", 2))
    return 0 if summary.get("status") == "finished" else 1


def _run_file(args: argparse.Namespace) -> Path:
    """The run file to read: the one given, or the resolved config.toml of --resume's run."""
    if args.resume is None:
        if args.run_file is None:
            raise VaeframeError("vaeframe run: give a run file (e.g. configs/ultra.toml) "
                                "or --resume RUN_DIR")
        return args.run_file
    if args.run_file is not None:
        raise VaeframeError("vaeframe run: give either a run file or --resume RUN_DIR, not both "
                            "(a resumed run reads RUN_DIR/config.toml; use --set to change it)")
    last = checkpoint_path(args.resume, "last")
    if not last.is_file():
        raise VaeframeError(f"--resume {args.resume}: no checkpoint to resume from "
                            f"({last} does not exist); "
                            "resume takes a run directory made by vaeframe run")
    return args.resume / CONFIG_FILE


def command_sweep(args: argparse.Namespace) -> int:
    from vaeframe.sweep_command import sweep_command

    return sweep_command(args)


def command_encode(args: argparse.Namespace) -> int:
    from vaeframe.encode import encode_command

    started = time.perf_counter()
    out, rows, latent_dim = encode_command(args.run_dir, args.out, args.data, args.sets,
                                           args.split, args.checkpoint, args.device)
    print(f"encoded {rows} grids into {latent_dim} latent dimensions in "
          f"{time.perf_counter() - started:.1f} s → {out}", file=sys.stderr)
    return 0


def command_report(args: argparse.Namespace) -> int:
    from vaeframe.report import make_report

    report = make_report(args.run_dirs, args.out)
    print(report.read_text(encoding="utf-8").split("## Plots", 1)[0].rstrip())
    print(f"\nreport → {report}", file=sys.stderr)
    return 0


def listing(registry: Registry) -> dict[str, Any]:
    """Every component by kind, with its source and parameters, as plain data."""
    result: dict[str, Any] = {}
    for kind in KINDS:
        result[kind] = [
            {
                "name": c.name,
                "description": c.description,
                "package": c.source.package,
                "version": c.source.version,
                "module": c.source.module,
                "parameters": [
                    {"name": p.name, "type": p.type, "default": p.default,
                     "required": p.required} for p in c.parameters
                ],
            }
            for c in (registry.components[kind][name] for name in registry.names(kind))
        ]
    result["problems"] = registry.problems()
    return result


def command_list_plugins(args: argparse.Namespace) -> int:
    data = listing(get_registry())
    if args.json:
        print(json.dumps(data, indent=2, default=repr))
        return 0
    for kind in KINDS:
        print(f"{kind}:")
        for entry in data[kind]:
            origin = (f"{entry['package']} {entry['version']}" if entry["package"]
                      else f"module {entry['module']}")
            print(f"  {entry['name']:<20} {entry['description']}  [{origin}]")
            for p in entry["parameters"]:
                default = "required" if p["required"] else f"= {p['default']!r}"
                print(f"      {p['name']}: {p['type']} {default}")
    if data["problems"]:
        print("problems:")
        for problem in data["problems"]:
            print(f"  {problem}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    set_extra_modules([*args.plugins, *args.command_plugins])
    try:
        commands = {"run": command_run, "sweep": command_sweep, "report": command_report,
                    "encode": command_encode,
                    "list-plugins": command_list_plugins}
        return commands[args.command](args)
    except VaeframeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`vaeframe list-plugins | head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error
        return 141  # 128 + SIGPIPE, as a shell reports it


if __name__ == "__main__":
    sys.exit(main())
