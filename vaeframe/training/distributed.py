"""Data-parallel training under ``torchrun``: PyTorch's own process group and DDP.

A torchrun launch sets RANK, WORLD_SIZE and LOCAL_RANK. Every rank draws the same global
permutation of the grids each epoch and takes every ``world``-th grid of each global batch;
gradients are averaged by DistributedDataParallel and weighted so that a step equals the
single-process step on the same global batch, uneven last batch included.
"""

from __future__ import annotations

import gc
import importlib
import os
from typing import Any

import attrs
import torch
import torch.distributed as dist

from vaeframe.errors import VaeframeError


@attrs.frozen
class World:
    """This process's place among the ranks; one process is rank 0 of a world of 1."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def parallel(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, indices: torch.Tensor) -> tuple[torch.Tensor, float]:
        """This rank's share of a global batch and its weight ``n_local * size / n_global``.

        A rank left with no grid (a last batch smaller than the world) computes on one grid
        with weight 0, so that every rank takes part in the gradient all-reduce.
        """
        if not self.parallel:
            return indices, 1.0
        local = indices[self.rank :: self.size]
        if local.shape[0] == 0:
            return indices[:1], 0.0
        return local, local.shape[0] * self.size / indices.shape[0]

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """The sum of ``tensor`` over ranks (a no-op for one process)."""
        if self.parallel:
            dist.all_reduce(tensor)
        return tensor

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank."""
        if not self.parallel:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, value: Any) -> list[Any]:
        """Every rank's ``value``, in rank order, on every rank."""
        if not self.parallel:
            return [value]
        values: list[Any] = [None] * self.size
        dist.all_gather_object(values, value)
        return values


def world_from_environment() -> World:
    """The world torchrun describes in the environment, or a single process."""
    if "WORLD_SIZE" not in os.environ:
        return World()
    try:
        return World(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]),
                     int(os.environ.get("LOCAL_RANK", "0")))
    except (KeyError, ValueError) as exc:
        raise VaeframeError(f"RANK / WORLD_SIZE / LOCAL_RANK are set but unusable ({exc}); "
                            "launch with torchrun") from None


def start(world: World, device: torch.device) -> torch.device:
    """Join the process group (nccl on CUDA, gloo on CPU); returns this rank's device."""
    if not world.parallel:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        # DDP imports torch._dynamo; imported after the group exists, it keeps the group
        # alive past destroy_process_group (torch 2.13), so import it first
        importlib.import_module("torch._dynamo")

        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def stop(world: World) -> None:
    """Leave the process group and end its threads while the interpreter is alive.

    A group that outlives this call is destroyed during interpreter shutdown, where a gloo
    thread still releasing a finished collective's tensors aborts the process. The trainer
    that wraps the model in DDP (which holds the group) sits in a reference cycle, so it is
    collected first.
    """
    if world.parallel and dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()


def check_parallel_settings(world: World, compile_mode: str, on_nonfinite: str) -> None:
    """Refuse what data-parallel training does not support, with a clear message."""
    if not world.parallel:
        return
    if compile_mode != "off":
        raise VaeframeError(f"train.compile = {compile_mode!r} is not supported with torchrun "
                            f"(world size {world.size}): DDP's gradient all-reduce runs "
                            "outside a captured graph; use compile = \"off\" (bf16 works)")
    if on_nonfinite == "skip":
        raise VaeframeError("train.on_nonfinite = \"skip\" is not supported with torchrun: "
                            "ranks would skip different steps; use \"stop\"")
