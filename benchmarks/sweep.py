"""A whole sweep one point after another against ``--jobs N``, in one invocation.

Runs ``vaeframe sweep FILE`` twice into fresh directories, first sequentially (one process,
the default), then with ``--jobs N``, with the same overrides, and prints one JSON line for
each and one comparing them:

    python benchmarks/sweep.py configs/ablation.toml --epochs 2 --jobs 2
    python benchmarks/sweep.py configs/ablation.toml --epochs 20 --jobs 4 --device cuda
    python benchmarks/sweep.py configs/ablation.toml --epochs 20 --jobs 8 --device cuda \
        --set 'train.compile="graph"'

``wall_s`` is the command's wall time, report included; ``points_s`` ends when the last
point's summary.json was written (before the report, which is the same work in both).
``ratio`` is sequential time / parallel time (``points_s``). The CPU check before and after
times a fixed single-threaded workload alone and N copies at once: on a machine shared with
other work, ``available`` says how much parallelism there was to gain. ``identical`` compares every
point's summary (final figures, best epoch, β history, criteria, steps) between the two:
with the same threads a point they are expected to match exactly. By default the sequential
run uses PyTorch's default threads (all CPUs) and each parallel point its share, so the
figures may differ in the last bits; ``--threads T`` gives both T threads a point.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

COMPARED = ("final", "best", "beta_history", "criteria", "epochs_completed", "steps")
# a fixed single-threaded workload, timed inside its process
WORKLOAD = ("import time, torch; torch.set_num_threads(1); a = torch.randn(384, 384); "
            "t = time.perf_counter(); [a @ a for _ in range(1000)]; "
            "print(time.perf_counter() - t)")


def cpu_check(jobs: int) -> dict[str, Any]:
    """How much parallelism the machine offers right now: a single-threaded workload alone,
    then ``jobs`` copies at once. ``available`` is jobs × alone / slowest copy (``jobs`` on
    an idle machine with that many free cores)."""
    def start() -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-c", WORKLOAD], stdout=subprocess.PIPE,
                                text=True)

    alone = float(start().communicate()[0])
    copies = [start() for _ in range(jobs)]
    together = [float(p.communicate()[0]) for p in copies]
    return {"alone_s": round(alone, 2), "at_once_s": [round(t, 2) for t in together],
            "available": round(jobs * alone / max(together), 2),
            "loadavg_1min": round(os.getloadavg()[0], 2)}


def timed_sweep(run_file: Path, directory: Path, overrides: list[str],
                flags: list[str]) -> dict[str, Any]:
    """Run one ``vaeframe sweep`` and time it."""
    command = [sys.executable, "-m", "vaeframe", "sweep", str(run_file), "--dir",
               str(directory), *overrides, *flags]
    start = time.time()
    result = subprocess.run(command, capture_output=True, text=True)
    wall = time.time() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    summaries = sorted(directory.glob("*/summary.json"))
    return {"flags": flags, "points": len(summaries), "wall_s": round(wall, 1),
            "points_s": round(max(p.stat().st_mtime for p in summaries) - start, 1)}


def summaries(directory: Path) -> dict[str, dict[str, Any]]:
    """Each point's summary by run name (the run directory without its timestamp)."""
    return {re.sub(r"-\d{8}-\d{6}(-\d+)?$", "", p.parent.name): json.loads(p.read_text())
            for p in directory.glob("*/summary.json")}


def compare(first: Path, second: Path) -> dict[str, Any]:
    """Whether every point's summary is the same in both sweeps, and where it is not."""
    one, two = summaries(first), summaries(second)
    differing = sorted(name for name in one.keys() | two.keys()
                       if name not in one or name not in two
                       or any(one[name][k] != two[name][k] for k in COMPARED))
    largest = 0.0
    for name in set(differing) & one.keys() & two.keys():
        for key, value in one[name]["final"].items():
            other = two[name]["final"][key]
            if isinstance(value, float) and isinstance(other, float):
                largest = max(largest, abs(value - other) / max(abs(value), 1e-12))
    return {"identical": not differing, "differing_points": differing,
            "largest_relative_difference_in_final": largest}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_file", type=Path, help="a sweep file, e.g. configs/ablation.toml")
    parser.add_argument("--jobs", type=int, default=2, help="points at once in the second run")
    parser.add_argument("--epochs", type=int, help="sets train.epochs of every point")
    parser.add_argument("--device", default="cpu", help="sets train.device (cpu, cuda)")
    parser.add_argument("--threads", type=int,
                        help="threads a point in both runs (default: sequential uses "
                             "PyTorch's default, parallel points share the CPUs)")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="passed to both sweeps (repeatable), e.g. 'train.compile=\"graph\"'")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="write the two sweeps here and keep them (default: a temporary "
                             "directory)")
    args = parser.parse_args(argv)

    overrides = ["--set", f'train.device="{args.device}"']
    if args.epochs:
        overrides += ["--set", f"train.epochs={args.epochs}"]
    overrides += [word for expression in args.sets for word in ("--set", expression)]
    threads = ["--threads", str(args.threads)] if args.threads else []
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    before = cpu_check(args.jobs)
    with tempfile.TemporaryDirectory() as temporary:
        root = args.keep or Path(temporary)
        sequential = timed_sweep(args.run_file, root / "sequential", overrides, threads)
        parallel = timed_sweep(args.run_file, root / "jobs", overrides,
                               ["--jobs", str(args.jobs), *threads])
        comparison = compare(root / "sequential", root / "jobs")
    after = cpu_check(args.jobs)
    common = {"run_file": str(args.run_file), "device": args.device, "epochs": args.epochs,
              "sets": args.sets,
              "cpus": cpus, "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}
    print(json.dumps({**common, "mode": "sequential", **sequential}), flush=True)
    print(json.dumps({**common, "mode": f"jobs {args.jobs}", **parallel}), flush=True)
    result = {**common, "ratio": round(sequential["points_s"] / parallel["points_s"], 3),
              "ratio_wall": round(sequential["wall_s"] / parallel["wall_s"], 3), **comparison,
              "cpu_check_before": before, "cpu_check_after": after}
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
