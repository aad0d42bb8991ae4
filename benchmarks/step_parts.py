"""What gradient clipping and weight averaging (EMA) cost one training step, timed alone.

Whole-epoch throughput (`throughput.py`) moves by a few per cent from run to run on a shared
machine, more than these parts cost; so this times each part on its own, on the run file's
model and real training grids, interleaved round by round with the step itself (forward,
backward, Adam), and reports medians:

    python benchmarks/step_parts.py configs/ultra.toml --rounds 200

Clipping is vaeframe's call (`torch.nn.utils.clip_grad_norm_` over all parameters), the
average its `WeightAverage.update` (decay 0.999). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from vaeframe.config.overrides import configure
from vaeframe.config.tomlfile import parse_toml
from vaeframe.registry.manager import get_registry
from vaeframe.training.allocator import keep_freed_memory
from vaeframe.training.assembly import load_data
from vaeframe.training.averaging import WeightAverage
from vaeframe.training.model import build_model


def seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_file", type=Path)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--clip", type=float, default=1.0, help="the max norm clipped to")
    parser.add_argument("--decay", type=float, default=0.999, help="the EMA's decay")
    args = parser.parse_args(argv)

    config = configure(parse_toml(args.run_file), get_registry(), str(args.run_file),
                       sets=['train.device="cpu"'])
    keep_freed_memory()  # as the engine does on the CPU
    torch.manual_seed(config.run.seed)
    device = torch.device("cpu")
    batch_size = config.train.batch_size
    grids = load_data(config, device).train[:batch_size]
    model = build_model(config.model, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.optimizer.params.lr)
    parameters = list(model.parameters())
    average = WeightAverage(model, args.decay)

    def step() -> None:
        logits, mu, logvar = model(grids)
        recon = F.cross_entropy(logits, grids.long(), reduction="sum") / grids.shape[0]
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1).mean()
        optimizer.zero_grad(set_to_none=True)
        (recon + 0.1 * kl).backward()
        optimizer.step()

    def clip() -> None:
        torch.nn.utils.clip_grad_norm_(parameters, args.clip)

    for _ in range(5):  # warm-up: allocator, kernels, Adam's state
        step()
        clip()
        average.update()
    times: dict[str, list[float]] = {"step": [], "clip": [], "ema": []}
    for _ in range(args.rounds):
        times["step"].append(seconds(step))
        times["clip"].append(seconds(clip))
        times["ema"].append(seconds(average.update))
    medians = {name: statistics.median(values) for name, values in times.items()}
    result = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "batch_size": batch_size,
        "parameters": sum(p.numel() for p in parameters),
        "rounds": args.rounds,
        "step_ms": round(medians["step"] * 1e3, 3),
        "clip_ms": round(medians["clip"] * 1e3, 3),
        "ema_ms": round(medians["ema"] * 1e3, 3),
        "clip_share": round(medians["clip"] / medians["step"], 4),
        "ema_share": round(medians["ema"] / medians["step"], 4),
    }
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
