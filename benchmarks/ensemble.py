"""K models trained as one batched ensemble (``torch.func``) against K processes of one model.

A sweep over β (or free bits, or seeds) trains K models of the same shape. They can run as K
processes sharing the device (``vaeframe sweep --jobs K``), or as one ensemble: the K models'
parameters stacked (``torch.func.stack_module_state``), the forward pass mapped over them
with ``torch.func.vmap``, one backward pass of the summed losses, one Adam over the stacked
tensors (Adam works element by element, so this is K independent Adams). Each model draws
its own batches and its own noise and has its own β.

Prints one JSON line for each way, in grids a second summed over the K models:

    python benchmarks/ensemble.py configs/ultra.toml --models 8 --device cpu --epochs 2
    python benchmarks/ensemble.py configs/ultra.toml --models 8 --device cuda --epochs 10 --graph

``processes`` runs K copies of this script with ``--models 1`` at once, the CPU threads split
among them, as ``--jobs K`` would; ``ensemble`` is one process. vaeframe does not train
ensembles: this measures whether it should.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch.func import functional_call, stack_module_state, vmap

from vaeframe.config.overrides import configure
from vaeframe.config.tomlfile import parse_toml
from vaeframe.grids import pack_grids
from vaeframe.registry.manager import get_registry
from vaeframe.training.data import load_grid_data
from vaeframe.training.kl import kl_per_dim
from vaeframe.training.model import build_model


def setup(run_file: Path, device: torch.device, models: int):
    config = configure(parse_toml(run_file), get_registry(), str(run_file),
                       sets=["loggers=[]", 'train.device="cpu"'])
    grids = pack_grids(load_grid_data(config.data).train, "training grids").to(device)
    members = [build_model(config.model, device) for _ in range(models)]
    return config, grids, members


def ensemble_step(config, members, betas: torch.Tensor, graph: bool):
    """The ensemble's training step on a ``(K, B, 30, 30)`` batch."""
    base = copy.deepcopy(members[0]).to("meta")
    params, buffers = stack_module_state(members)
    optimizer = torch.optim.Adam(params.values(), lr=config.optimizer.params.lr, capturable=graph,
                                 fused=betas.device.type == "cuda" or None)
    loss_fn = config.loss.params.loss

    def one_model(p, b, batch, beta):
        logits, mu, logvar = functional_call(base, (p, b), (batch,))
        return loss_fn(logits, batch) + beta * kl_per_dim(mu, logvar).sum(1).mean()

    mapped = vmap(one_model, randomness="different")

    def step(batches: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        mapped(params, buffers, batches, betas).sum().backward()
        optimizer.step()

    return step


def single_step(config, model, beta: float, graph: bool):
    """One model's training step on a ``(1, B, 30, 30)`` batch: the plain eager loop."""
    optimizer = torch.optim.Adam(model.parameters(), lr=config.optimizer.params.lr,
                                 capturable=graph,
                                 fused=next(model.parameters()).device.type == "cuda" or None)
    loss_fn = config.loss.params.loss

    def step(batches: torch.Tensor) -> None:
        batch = batches[0]
        logits, mu, logvar = model(batch)
        loss = loss_fn(logits, batch) + beta * kl_per_dim(mu, logvar).sum(1).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def captured(step, example: torch.Tensor):
    """``step`` replayed from one CUDA graph (after three warm-up steps on a side stream)."""
    static = example.clone()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            step(static)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step(static)

    def replay(batches: torch.Tensor) -> None:
        static.copy_(batches)
        graph.replay()

    return replay


def grids_per_second(step, grids: torch.Tensor, models: int, batch_size: int,
                     epochs: int) -> float:
    """Train ``epochs`` timed epochs (after one untimed), each model its own order."""
    n = grids.shape[0] - grids.shape[0] % batch_size  # whole batches: one graph shape
    device = grids.device

    def epoch() -> None:
        orders = torch.stack([torch.randperm(grids.shape[0], device=device)[:n]
                              for _ in range(models)])
        for start in range(0, n, batch_size):
            step(grids[orders[:, start : start + batch_size]])

    epoch()
    if device.type == "cuda":
        torch.cuda.synchronize()
    began = time.perf_counter()
    for _ in range(epochs):
        epoch()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return models * n * epochs / (time.perf_counter() - began)


def in_processes(args: argparse.Namespace) -> float:
    """K copies of this script with one model each, at once; their grids/s summed."""
    threads = max(1, len(os.sched_getaffinity(0)) // args.models)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    command = [sys.executable, __file__, str(args.run_file), "--models", "1", "--device",
               args.device, "--epochs", str(args.epochs), "--only", "single",
               *(["--graph"] if args.graph else [])]
    workers = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
               for _ in range(args.models)]
    rates = [json.loads(w.communicate()[0].splitlines()[-1])["grids_per_s"] for w in workers]
    return sum(rates)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_file", type=Path)
    parser.add_argument("--models", type=int, default=8, help="K: models in the ensemble")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs")
    parser.add_argument("--graph", action="store_true", help="replay each step from a CUDA graph")
    parser.add_argument("--only", choices=["single", "processes", "ensemble"])
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    config, grids, members = setup(args.run_file, device, args.models)
    batch_size = config.train.batch_size
    common = {"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
              "models": args.models, "batch_size": batch_size, "graph": args.graph,
              "grids": int(grids.shape[0]), "epochs": args.epochs,
              "threads": torch.get_num_threads()}
    example = grids[:batch_size].unsqueeze(0)
    if args.only in (None, "single"):
        step = single_step(config, members[0], 0.05, args.graph)
        step = captured(step, example) if args.graph else step
        rate = grids_per_second(step, grids, 1, batch_size, args.epochs)
        print(json.dumps({**common, "way": "one model alone", "grids_per_s": round(rate, 1)}),
              flush=True)
    if args.only in (None, "processes") and args.models > 1:
        rate = in_processes(args)
        print(json.dumps({**common, "way": f"{args.models} processes at once",
                          "grids_per_s": round(rate, 1)}), flush=True)
    if args.only in (None, "ensemble"):
        betas = torch.linspace(0.01, 0.5, args.models, device=device)
        step = ensemble_step(config, members, betas, args.graph)
        example = grids[:batch_size].expand(args.models, -1, -1, -1).contiguous()
        step = captured(step, example) if args.graph else step
        rate = grids_per_second(step, grids, args.models, batch_size, args.epochs)
        print(json.dumps({**common, "way": f"ensemble of {args.models}",
                          "grids_per_s": round(rate, 1)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
