"""Generation time of arc-shapes grids (goal: 100,000 grids of 16×16 in at most 10 s).

Each round draws the grids and their factors with a fresh generator; the median round counts.
``--load`` times the whole dataset instead: ``--grids`` training grids plus 2,000 held-out
grids, none identical to a training grid (``ArcShapes(...).load()``, as a run loads it).
Prints one JSON line:

    python benchmarks/arc_shapes_speed.py --grids 100000 --side 16 --max-objects 1 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
from vaeframe_arc.shapes import ArcShapes, generate

GOAL_S = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grids", type=int, default=100_000)
    parser.add_argument("--side", type=int, default=16)
    parser.add_argument("--max-objects", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--load", action="store_true",
                        help="time ArcShapes(...).load(): training grids and unseen held-out ones")
    args = parser.parse_args()
    times = []
    for round_ in range(args.rounds):
        started = time.perf_counter()
        if args.load:
            ArcShapes(num_train=args.grids, side=args.side, max_objects=args.max_objects,
                      seed=round_).load()
        else:
            generate(args.grids, args.side, args.max_objects, np.random.default_rng(round_))
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    print(json.dumps({"what": "load" if args.load else "generate", "grids": args.grids,
                      "side": args.side, "max_objects": args.max_objects,
                      "median_s": round(median, 3), "min_s": round(min(times), 3),
                      "max_s": round(max(times), 3), "rounds": args.rounds, "goal_s": GOAL_S,
                      "meets_goal": median <= GOAL_S}))


if __name__ == "__main__":
    main()
