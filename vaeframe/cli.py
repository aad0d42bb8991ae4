"""The ``vaeframe`` command line. Torch is imported only by commands that train."""

from __future__ import annotations

import argparse
import json
import sys
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
        description="Run each point of a run file's [sweep] table as an independent run, one "
                    "after another, into one sweep directory, then write the comparison report "
                    "into DIR/report. See configs/ablation.toml and the README.")
    sweep.add_argument("run_file", type=Path, help="a run file with a [sweep] table")
    sweep.add_argument("--list", action="store_true",
                       help="print one shell command per point (for a cluster scheduler), "
                            "then the report command; run nothing")
    sweep.add_argument("--point", metavar="I|NAME",
                       help="run only this point (index from 0, or its name); no report")
    sweep.add_argument("--dir", type=Path, metavar="DIR",
                       help="the sweep directory (default: run.output_dir/NAME-TIMESTAMP)")

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

    summary = run(config, resume_dir=args.resume)
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
    from vaeframe import sweep as sweeps

    registry = get_registry()
    plan = sweeps.load_sweep(args.run_file, registry)
    directory = args.dir or sweeps.default_dir(plan)
    if args.list:
        print("\n".join(sweeps.list_commands(plan, directory)))
        return 0
    points = [sweeps.select(plan, args.point)] if args.point is not None else list(plan.points)
    failed, interrupted = sweeps.run_points(plan, points, directory, registry)
    if interrupted is not None:
        print(f"sweep {plan.name}: interrupted; resume that point with\n"
              f"  vaeframe run --resume {interrupted['run_dir']}\n"
              "and run the points after it with --point I --dir "
              f"{directory} (see --list)", file=sys.stderr)
        return 128 + int(interrupted.get("signal", 2))
    if args.point is None:
        # in the order they ran (each run writes config.toml when it starts)
        run_dirs = sorted((p.parent for p in directory.glob("*/summary.json")),
                          key=lambda d: (d / "config.toml").stat().st_mtime)
        if run_dirs:
            from vaeframe.report import make_report

            report = make_report(run_dirs, directory / "report")
            print(f"sweep {plan.name}: report → {report}", file=sys.stderr)
    if failed:
        print(f"sweep {plan.name}: {len(failed)} point(s) failed: {', '.join(failed)}",
              file=sys.stderr)
        return 1
    return 0


def command_encode(args: argparse.Namespace) -> int:
    import time

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


if __name__ == "__main__":
    sys.exit(main())
