"""The CUDA fast path: the whole training step captured in CUDA graphs, or torch.compile.

``train.compile = "graph"`` captures forward, backward and the optimizer step in one CUDA
graph per batch shape (the full batch, and the last partial batch of an epoch if there is
one), so an epoch replays a handful of graphs instead of launching thousands of kernels.
``"inductor"`` compiles forward and loss with ``torch.compile(mode="reduce-overhead")``.
Both need CUDA; the eager step is the reference they must match.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import nn

from vaeframe.errors import VaeframeError
from vaeframe.training.step import TrainingStep

StepFunction = Callable[[torch.Tensor], "torch.Tensor | None"]

WARMUP_STEPS = 3


def check_fast_path(compile_mode: str, precision: str, on_nonfinite: str,
                    device: torch.device, networks_of: str | None = None) -> None:
    """Refuse fast-path settings that cannot work on ``device`` with a clear message;
    ``networks_of`` names an objective that trains networks of its own."""
    if compile_mode != "off" and networks_of is not None:
        raise VaeframeError(f"train.compile = {compile_mode!r}: {networks_of} trains networks "
                            "of its own with a second optimizer, which the fast path does not "
                            "capture (its warm-up would move them off the eager trajectory); "
                            "use compile = \"off\" with it")
    if device.type != "cuda":
        if compile_mode != "off":
            raise VaeframeError(f"train.compile = {compile_mode!r} needs a CUDA device (the run "
                                f"is on {device.type}); use compile = \"off\" there")
        if precision != "fp32":
            raise VaeframeError(f"train.precision = {precision!r} needs a CUDA device (the run "
                                f"is on {device.type}); use precision = \"fp32\" there")
    if compile_mode == "graph" and on_nonfinite == "skip":
        raise VaeframeError("train.on_nonfinite = \"skip\" reads the loss on the host every "
                            "step, which a captured CUDA graph cannot do; use \"stop\" with "
                            "compile = \"graph\"")


def capture_seconds(step_function: StepFunction) -> float:
    """Host seconds ``step_function`` has spent capturing graphs or compiling (0 when eager)."""
    return float(getattr(step_function, "capture_seconds", 0.0))


def make_step_function(step: TrainingStep, model: nn.Module, mode: str) -> StepFunction:
    """The step the engine runs, as ``train.compile`` (``mode``) chooses; ``model`` is the
    module whose parameters the optimizer steps."""
    if mode == "graph":
        return CapturedStep(step, model)
    if mode == "inductor":
        return CompiledStep(step)
    return step


class CapturedStep:
    """Replays one CUDA graph per batch size; captures lazily, without changing the training.

    Capture needs a few warm-up steps; the parameters, optimizer state and CUDA RNG are
    restored after them, so the run follows the same trajectory as the eager step.
    """

    def __init__(self, step: TrainingStep, model: nn.Module) -> None:
        self.step = step
        self.model = model
        self.graphs: dict[int, tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]] = {}
        self.capture_seconds = 0.0  # warm-up steps and capture, all batch sizes

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        size = batch.shape[0]
        if size not in self.graphs:
            began = time.perf_counter()
            self.graphs[size] = self._capture(batch)
            self.capture_seconds += time.perf_counter() - began
        graph, static_batch, static_stats = self.graphs[size]
        static_batch.copy_(batch)
        graph.replay()
        return static_stats

    def _capture(self, batch: torch.Tensor) -> tuple[torch.cuda.CUDAGraph, torch.Tensor,
                                                     torch.Tensor]:
        step, optimizer = self.step, self.step.optimizer
        static_batch = batch.clone()
        saved = _snapshot(self.model, optimizer, step.optimisation.tensors(), batch.device)
        side = torch.cuda.Stream(device=batch.device)
        side.wait_stream(torch.cuda.current_stream(batch.device))
        with torch.cuda.stream(side):
            for _ in range(WARMUP_STEPS):
                optimizer.zero_grad(set_to_none=True)
                step.optimise(static_batch)
        torch.cuda.current_stream(batch.device).wait_stream(side)
        _restore(self.model, optimizer, step.optimisation.tensors(), batch.device, saved)
        graph = torch.cuda.CUDAGraph()
        optimizer.zero_grad(set_to_none=True)
        with torch.cuda.graph(graph):
            static_stats = step.optimise(static_batch)
        return graph, static_batch, static_stats


class CompiledStep:
    """Forward and loss through ``torch.compile(mode="reduce-overhead")``; fused Adam step."""

    def __init__(self, step: TrainingStep) -> None:
        self.optimisation = step.optimisation
        self.loss_and_stats = torch.compile(step.loss_and_stats, mode="reduce-overhead",
                                            dynamic=False)
        self.sizes_seen: set[int] = set()
        self.capture_seconds = 0.0  # the first step at each batch size, which compiles

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        first = batch.shape[0] not in self.sizes_seen
        began = time.perf_counter()
        torch.compiler.cudagraph_mark_step_begin()
        loss, stats = self.loss_and_stats(batch)
        self.optimisation.zero_grad()
        loss.backward()  # the backward pass compiles on its first call
        self.optimisation.step()
        if first:
            self.capture_seconds += time.perf_counter() - began
            self.sizes_seen.add(batch.shape[0])
        return stats.clone()


def _snapshot(model: nn.Module, optimizer: torch.optim.Optimizer,
              others: list[torch.Tensor], device: torch.device) -> dict[str, object]:
    """What the warm-up steps change: parameters, optimizer state, ``others`` (the weight
    average) and the CUDA RNG."""
    return {
        "params": [p.detach().clone() for p in model.parameters()],
        "others": [t.detach().clone() for t in others],
        "optimizer": {id(p): {k: v.clone() for k, v in state.items()
                              if isinstance(v, torch.Tensor)}
                      for p, state in optimizer.state.items()},
        "rng": torch.cuda.get_rng_state(device),
    }


@torch.no_grad()
def _restore(model: nn.Module, optimizer: torch.optim.Optimizer,
             others: list[torch.Tensor], device: torch.device,
             saved: dict[str, object]) -> None:
    for param, value in zip([*model.parameters(), *others],
                            [*saved["params"], *saved["others"]], strict=True):
        param.copy_(value)
    previous = saved["optimizer"]
    for param, state in optimizer.state.items():
        before = previous.get(id(param), {})
        for key, tensor in state.items():
            if isinstance(tensor, torch.Tensor):
                tensor.copy_(before[key]) if key in before else tensor.zero_()
    torch.cuda.set_rng_state(saved["rng"], device)
