"""GPU checks of the fast path, in one process: no host sync in the step, graph = eager.

    python benchmarks/gpu_check.py configs/ultra.toml

Prints one JSON line per check. Run benchmarks/gpu_check.sh for these and the throughput
figures together.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import torch

from vaeframe.config.overrides import configure
from vaeframe.config.tomlfile import parse_toml
from vaeframe.registry.manager import get_registry
from vaeframe.training.trainer import Trainer


def trainer(run_file: Path, run_dir: Path, *sets: str) -> Trainer:
    config = configure(parse_toml(run_file), get_registry(), str(run_file),
                       sets=['train.device="cuda"', "loggers=[]", *sets])
    return Trainer(config, run_dir, [])


def no_sync_between_logging_steps(run_file: Path, run_dir: Path, mode: str) -> dict[str, object]:
    """One epoch with CUDA's sync debug mode set to "error" and no logging step in it."""
    t = trainer(run_file, run_dir, f'train.compile="{mode}"', "train.log_every_n_steps=1000000")
    t.parts.scheduler.step(1)
    t.state.epoch = 1
    t.parts.beta.fill_(0.05)
    t.epoch_loop.run()  # warm-up and capture happen outside the checked epoch
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        t.epoch_loop.run()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    return {"check": "no host sync in the step", "compile": mode, "passed": True}


def graph_matches_eager(run_file: Path, run_dir: Path, epochs: int) -> dict[str, object]:
    """Same seed, same data order: compare epoch losses and final parameters."""
    runs = {}
    for mode in ("off", "graph"):
        t = trainer(run_file, run_dir, f'train.compile="{mode}"', "train.batch_size=256")
        losses = []
        for epoch in range(1, epochs + 1):
            t.state.epoch = epoch
            t.parts.beta.fill_(t.parts.scheduler.step(epoch) + 0.05)
            means = t.epoch_loop.totals_layout.split(t.epoch_loop.run())
            losses.append(means["loss"].item())
        runs[mode] = (losses, [p.detach().clone() for p in t.model.parameters()])
    (eager_losses, eager_params), (graph_losses, graph_params) = runs["off"], runs["graph"]
    loss_rel = max(abs(a - b) / abs(a) for a, b in zip(eager_losses, graph_losses, strict=True))
    param_diff = max((a - b).abs().max().item() for a, b in zip(eager_params, graph_params,
                                                                 strict=True))
    return {"check": "graph matches eager", "epochs": epochs, "eager_losses": eager_losses,
            "graph_losses": graph_losses, "max_relative_loss_difference": loss_rel,
            "max_parameter_difference": param_diff, "tolerance": 1e-3,
            "passed": loss_rel <= 1e-3}


def main(argv: list[str]) -> int:
    run_file = Path(argv[0] if argv else "configs/ultra.toml")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for check in (lambda: no_sync_between_logging_steps(run_file, Path(tmp), "off"),
                      lambda: no_sync_between_logging_steps(run_file, Path(tmp), "graph"),
                      lambda: graph_matches_eager(run_file, Path(tmp), 3)):
            try:
                result = check()
            except Exception as exc:  # report every check, then fail
                result = {"check": "error", "passed": False,
                          "error": f"{type(exc).__name__}: {exc}"}
            ok &= bool(result["passed"])
            print(json.dumps(result), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
