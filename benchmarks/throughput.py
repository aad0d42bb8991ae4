"""Training throughput of vaeframe's engine against a plain PyTorch loop, in one process.

Both train the same model class on the same grids, already on the device, with the same batch
size and optimizer settings; epochs alternate between the two in ABBA order so that drift in
the machine's speed (clocks, other load) hits both alike, and the median epoch counts. The
engine runs without the run file's transforms and learning-rate schedule, which the plain loop
lacks; `--set` puts one back (or EMA, or clipping) to price it. Prints one JSON line:

    python benchmarks/throughput.py configs/ultra.toml --device cpu --epochs 4
    python benchmarks/throughput.py configs/ultra.toml --device cuda --batch-size 256 \
        --compile graph --precision bf16
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from vaeframe.config.overrides import configure
from vaeframe.config.tomlfile import parse_toml
from vaeframe.registry.manager import get_registry
from vaeframe.training.trainer import Trainer


def plain_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, grids: torch.Tensor,
                batch_size: int, beta: float, free_bits: float, gamma: float) -> None:
    """What a researcher would write by hand: shuffle, forward, focal loss + β·KL, step."""
    order = torch.randperm(grids.shape[0], device=grids.device)
    for start in range(0, grids.shape[0], batch_size):
        x = grids[order[start : start + batch_size]]
        logits, mu, logvar = model(x)
        log_p = F.log_softmax(logits, 1).gather(1, x.long().unsqueeze(1))
        recon = (-((1 - log_p.exp()) ** gamma) * log_p).flatten(1).sum(1).mean()
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())
        loss = recon + beta * kl.clamp(min=free_bits).sum(1).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device) -> float:
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_file", type=Path)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=4, help="timed epochs of each")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--compile", default="off", choices=["off", "graph", "inductor"])
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--beta", type=float, default=0.05, help="β for both loops")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="a run-file override for the engine only, e.g. "
                             "'transforms=[{name=\"dihedral\"}]' or train.ema_decay=0.999 to "
                             "measure what it costs (the engine starts without the run file's "
                             "transforms and LR schedule: the plain loop has neither)")
    args = parser.parse_args(argv)

    # the plain loop never transforms and keeps its learning rate: so the engine starts from
    # the same work, and --set adds back a transform, a schedule, EMA or clipping to price it
    sets = [f'train.device="{args.device}"', f'train.compile="{args.compile}"',
            f'train.precision="{args.precision}"', 'loggers=[{name="jsonl"}]',
            'transforms=[]', 'lr_schedule={name="constant"}']
    if args.batch_size:
        sets.append(f"train.batch_size={args.batch_size}")
    sets += args.sets
    config = configure(parse_toml(args.run_file), get_registry(), str(args.run_file), sets=sets)
    threshold = getattr(config.kl.params, "threshold", 0.0)

    with tempfile.TemporaryDirectory() as run_dir:
        from vaeframe.registry.types import RunInfo

        for logger in config.loggers:
            logger.params.open(RunInfo("bench", Path(run_dir), config.to_dict()))
        engine = Trainer(config, Path(run_dir), config.loggers)
        engine.parts.scheduler.step(1)
        engine.state.epoch = 1
        engine.parts.beta.fill_(args.beta)
        device = engine.device
        batch_size = config.train.batch_size

        torch.manual_seed(config.run.seed)
        plain = config.model.params.build().to(device)  # the same architecture, built plainly
        plain_opt = torch.optim.Adam(plain.parameters(), lr=config.optimizer.params.lr)
        grids = engine.parts.data.train

        def run_plain() -> None:
            plain_epoch(plain, plain_opt, grids, batch_size, args.beta, threshold,
                        getattr(config.loss.params, "gamma", 0.0))

        def run_engine() -> None:
            engine.epoch_loop.run()

        timed(run_engine, device)  # warm-up (and graph capture) for both
        timed(run_plain, device)
        engine_times, plain_times = [], []
        for round_index in range(args.epochs):  # ABBA order: neither always goes first
            if round_index % 2 == 0:
                engine_times.append(timed(run_engine, device))
                plain_times.append(timed(run_plain, device))
            else:
                plain_times.append(timed(run_plain, device))
                engine_times.append(timed(run_engine, device))
        for logger in config.loggers:
            logger.params.close({}, "finished")

    n = grids.shape[0]
    engine_rate = n / statistics.median(engine_times)
    plain_rate = n / statistics.median(plain_times)
    result = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "grids": n,
        "batch_size": batch_size,
        "compile": args.compile,
        "precision": args.precision,
        "epochs": args.epochs,
        "engine_overrides": args.sets,
        "engine_grids_per_s": round(engine_rate, 1),
        "plain_grids_per_s": round(plain_rate, 1),
        "ratio": round(engine_rate / plain_rate, 3),
    }
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
