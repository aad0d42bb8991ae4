"""Start-up time of the commands that must not pay for torch: ``--help`` and ``list-plugins``.

Each command runs as a fresh process, rounds interleaved so that drift in the machine's speed
hits every command alike; the median wall time counts. Two references run beside them: the
bare interpreter (the floor) and ``import torch`` (what the commands avoid). Prints one JSON
line per command:

    python benchmarks/startup.py --rounds 7
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time

GOAL_S = 0.5  # issue 5: --help and list-plugins in at most 0.5 s


def commands() -> dict[str, list[str]]:
    vaeframe = shutil.which("vaeframe")
    if vaeframe is None:
        sys.exit("vaeframe is not on PATH: install the project (pip install -e .)")
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import torch'": [sys.executable, "-c", "import torch"],
        "vaeframe --help": [vaeframe, "--help"],
        "vaeframe list-plugins": [vaeframe, "list-plugins"],
    }


def wall_time(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    argvs = commands()
    for argv in argvs.values():  # warm the file cache once, untimed
        wall_time(argv)
    times: dict[str, list[float]] = {name: [] for name in argvs}
    for _ in range(args.rounds):
        for name, argv in argvs.items():
            times[name].append(wall_time(argv))
    for name, samples in times.items():
        line = {"command": name, "median_s": round(statistics.median(samples), 3),
                "min_s": round(min(samples), 3), "max_s": round(max(samples), 3),
                "rounds": args.rounds}
        if name.startswith("vaeframe"):
            line["goal_s"] = GOAL_S
            line["meets_goal"] = line["median_s"] <= GOAL_S
        print(json.dumps(line))


if __name__ == "__main__":
    main()
