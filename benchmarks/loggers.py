"""What a tracker logger costs a run: its ``open``, each logged row and its ``close``.

Each logger gets a fresh run directory and the rows a run of ``latent_dim`` dimensions logs (a
training row and, every ``--rows-per-epoch`` rows, an epoch row), loggers alternating in ABBA
order within each round so that drift in the machine's speed hits them alike; medians count.
``jsonl`` is the reference. A fresh output directory per round means MLflow's ``open`` includes
creating its local store; ``--warm-store`` reuses one store, as later runs in one output
directory do. ``--whole-runs N`` instead times N rounds of ``vaeframe run configs/smoke.toml``
with ``jsonl`` alone and beside each tracker, one output directory per logger (so MLflow's
first run creates its store and the others reuse it). ``row_ms`` counts the epochs' starts
too (the MLflow logger sends its rows there); ``open_s`` of the first round includes importing
the tracker's package. Prints one JSON line per logger:

    python benchmarks/loggers.py --rounds 4 --rows 200
    python benchmarks/loggers.py --whole-runs 4
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vaeframe import RunInfo
from vaeframe.registry.manager import get_registry

LOGGERS = ("jsonl", "tensorboard", "mlflow")


def rows(latent_dim: int, count: int, per_epoch: int) -> list[tuple[int, dict[str, float]]]:
    """``count`` (step, metrics) rows shaped like a run's: training rows, then an epoch row."""
    dims = {f"dim_{i}": 0.01 * i for i in range(latent_dim)}
    made = []
    for index in range(count):
        step = index + 1
        if index % per_epoch == per_epoch - 1:
            figures = {"epoch": 1.0, "beta": 0.1, "epoch/loss": 1.0, "active_units": 3.0,
                       "train/nonblack_acc": 0.4, "heldout/nonblack_acc": 0.3,
                       **{f"epoch/kl_per_dim/{k}": v for k, v in dims.items()},
                       **{f"heldout/kl_per_dim/{k}": v for k, v in dims.items()}}
        else:
            figures = {"train/loss": 1.0 / step, "train/beta": 0.1, "epoch": 1.0,
                       **{f"train/kl_per_dim/{k}": v + step for k, v in dims.items()}}
        made.append((step, figures))
    return made


def measure(name: str, output: Path, data: list[tuple[int, dict[str, float]]],
            per_epoch: int) -> dict:
    component = get_registry().components["loggers"][name].cls()
    run_dir = Path(tempfile.mkdtemp(dir=output))
    config = {"run": {"name": "bench"}, "loggers": [{"name": name}]}
    started = time.perf_counter()
    component.open(RunInfo(name="bench", run_dir=run_dir, config=config))
    opened = time.perf_counter()
    for index, (step, figures) in enumerate(data):
        if index % per_epoch == 0:
            component.epoch_started(index // per_epoch + 1, len(data) // per_epoch, per_epoch)
        component.log(figures, step)
    logged = time.perf_counter()
    component.close({"steps": data[-1][0], "final": {"beta": 0.1}}, "finished")
    closed = time.perf_counter()
    return {"open_s": opened - started, "row_ms": 1000 * (logged - opened) / len(data),
            "close_s": closed - logged}


def whole_runs(rounds: int) -> None:
    """Wall time of ``vaeframe run configs/smoke.toml`` per logger beside ``jsonl``."""
    vaeframe = shutil.which("vaeframe")
    if vaeframe is None:
        sys.exit("vaeframe is not on PATH: install the project (pip install -e .)")
    smoke = Path(__file__).resolve().parent.parent / "configs" / "smoke.toml"
    times: dict[str, list[float]] = {name: [] for name in LOGGERS}
    with tempfile.TemporaryDirectory() as shared:
        for round_ in range(rounds):
            for name in LOGGERS if round_ % 2 == 0 else LOGGERS[::-1]:
                extra = "" if name == "jsonl" else f',{{name="{name}"}}'
                started = time.perf_counter()
                subprocess.run([vaeframe, "run", str(smoke), "--set",
                                f"run.output_dir={Path(shared, name)}", "--set",
                                f'loggers=[{{name="jsonl"}}{extra}]'], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                times[name].append(time.perf_counter() - started)
    for name, measured in times.items():
        print(json.dumps({"logger": name, "whole_runs": rounds, "first_s": round(measured[0], 2),
                          "median_s": round(statistics.median(measured), 2)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--rows-per-epoch", type=int, default=10)
    parser.add_argument("--latent-dim", type=int, default=32)
    parser.add_argument("--warm-store", action="store_true")
    parser.add_argument("--whole-runs", type=int, default=0)
    args = parser.parse_args()
    if args.whole_runs:
        return whole_runs(args.whole_runs)
    import torch  # noqa: F401  (a run has imported it before any logger opens)

    data = rows(args.latent_dim, args.rows, args.rows_per_epoch)
    results: dict[str, list[dict]] = {name: [] for name in LOGGERS}
    with tempfile.TemporaryDirectory() as shared:
        for round_ in range(args.rounds):
            order = LOGGERS if round_ % 2 == 0 else LOGGERS[::-1]
            for name in order:
                output = Path(shared) if args.warm_store else Path(tempfile.mkdtemp(dir=shared))
                results[name].append(measure(name, output, data, args.rows_per_epoch))
    for name, measured in results.items():
        print(json.dumps({"logger": name, "rounds": args.rounds, "rows": args.rows,
                          "figures_per_row": len(data[0][1]), "warm_store": args.warm_store,
                          **{key: round(statistics.median(m[key] for m in measured), 4)
                             for key in measured[0]}}))


if __name__ == "__main__":
    main()
