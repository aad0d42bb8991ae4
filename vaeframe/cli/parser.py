"""The ``vaeframe`` argument parser: every command, flag and help text."""

from __future__ import annotations

import argparse
from pathlib import Path

from vaeframe.version import __version__


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

    explore = commands.add_parser(
        "explore", parents=[common], help="a web page to explore a trained run's latent space",
        description="Serve a local web page over a run directory: pick or paint a grid, move "
                    "its code one latent dimension at a time, see the map of the codes and "
                    "the grids between two codes. Only reads the run directory; needs no "
                    "internet. Ctrl-C stops it.")
    explore.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    explore.add_argument("--host", default="127.0.0.1",
                         help="the address to listen on (default 127.0.0.1: this machine "
                              "only; another one warns that the page has no password)")
    explore.add_argument("--port", type=int, default=8765,
                         help="the port (default 8765; 0 picks a free one)")
    explore.add_argument("--open", dest="open_browser", action="store_true",
                         help="open the page in the default browser")
    explore.add_argument("--checkpoint", choices=("best", "last"),
                         help="the weights to explore (default best, or last when the run "
                              "has no best yet)")
    explore.add_argument("--device", default="cpu",
                         help="where to run the model (cpu, cuda, auto)")
    explore.add_argument("--map-grids", dest="map_grids", type=int, metavar="N",
                         help="grids of each split on the map and behind the slider ranges "
                              "(default 1000)")

    listing = commands.add_parser("list-plugins", parents=[common],
                                  help="list every component by kind")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    return parser
