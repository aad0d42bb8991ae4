"""The ``run``, ``encode``, ``report``, ``explore`` and ``list-plugins`` commands, from parsed
arguments to an exit code. Torch is imported only by the commands that need it."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from vaeframe.errors import VaeframeError
from vaeframe.registry.kinds import KINDS
from vaeframe.registry.manager import Registry, get_registry
from vaeframe.rundir.layout import CONFIG_FILE, checkpoint_path


def command_run(args: argparse.Namespace) -> int:
    from vaeframe.config.legacy import upgrade_run_dir_config
    from vaeframe.config.overrides import configure
    from vaeframe.config.tomlfile import parse_toml

    run_file = _run_file(args)
    raw = parse_toml(run_file)
    if args.resume is not None:
        raw = upgrade_run_dir_config(raw)
    config = configure(raw, get_registry(), str(run_file), sets=args.sets,
                       beta_schedule=args.beta_schedule, beta_max=args.beta_max,
                       free_bits=args.free_bits, epochs=args.epochs)
    for note in config.notes:
        print(f"note: {note}", file=sys.stderr)

    from vaeframe.runs.runner import run
    from vaeframe.training.clock import IMPORTED_AT

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


def command_encode(args: argparse.Namespace) -> int:
    from vaeframe.latents.encode import encode_command

    started = time.perf_counter()
    out, rows, latent_dim = encode_command(args.run_dir, args.out, args.data, args.sets,
                                           args.split, args.checkpoint, args.device)
    print(f"encoded {rows} grids into {latent_dim} latent dimensions in "
          f"{time.perf_counter() - started:.1f} s → {out}", file=sys.stderr)
    return 0


def command_explore(args: argparse.Namespace) -> int:
    from vaeframe.explore.command import explore_command

    return explore_command(args.run_dir, args.host, args.port, args.checkpoint, args.device,
                           args.map_grids, args.open_browser)


def command_report(args: argparse.Namespace) -> int:
    from vaeframe.report import make_report

    report = make_report(args.run_dirs, args.out)
    print(report.read_text(encoding="utf-8").split("## Plots", 1)[0].rstrip())
    print(f"\nreport → {report}", file=sys.stderr)
    return 0


def listing(registry: Registry) -> dict[str, Any]:
    """Every component by kind, with its source, its qualified name and its parameters, as
    plain data; ``ambiguous`` says which bare names several plugins register."""
    result: dict[str, Any] = {}
    for kind in KINDS:
        result[kind] = [
            {
                "name": c.name,
                "qualified": c.qualified,
                "ambiguous": registry.is_ambiguous(kind, c.name),
                "description": c.description,
                "package": c.source.package,
                "version": c.source.version,
                "module": c.source.module,
                "parameters": [
                    {"name": p.name, "type": p.type, "default": p.default,
                     "required": p.required} for p in c.parameters
                ],
            }
            for c in registry.entries(kind)
        ]
    result["ambiguous"] = registry.ambiguities()
    result["problems"] = registry.problems()
    return result


def command_list_plugins(args: argparse.Namespace) -> int:
    data = listing(get_registry())
    if args.json:
        print(json.dumps(data, indent=2, default=repr))
        return 0
    for kind in KINDS:
        print(f"{kind}:")
        shown = [entry["qualified"] if entry["ambiguous"] else entry["name"]
                 for entry in data[kind]]
        width = max([20, *map(len, shown)])
        for name, entry in zip(shown, data[kind], strict=True):
            origin = (f"{entry['package']} {entry['version']}" if entry["package"]
                      else f"module {entry['module']}")
            print(f"  {name:<{width}} {entry['description']}  [{origin}]")
            for p in entry["parameters"]:
                default = "required" if p["required"] else f"= {p['default']!r}"
                print(f"      {p['name']}: {p['type']} {default}")
    if data["ambiguous"]:
        print("ambiguous names (a run file names one by its qualified name):")
        for ambiguity in data["ambiguous"]:
            print(f"  {ambiguity}")
    if data["problems"]:
        print("problems:")
        for problem in data["problems"]:
            print(f"  {problem}")
    return 0
