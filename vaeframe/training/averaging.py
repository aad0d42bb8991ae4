"""Weight averaging: an exponential moving average of the model's weights (Polyak & Juditsky
1992), updated inside the step on the device, with no host sync."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

#: with TensorFlow's ``ExponentialMovingAverage(num_updates=...)``, the decay of update ``n``
#: (counting from 1) is ``min(decay, (1 + n) / (10 + n))``, so that a short run is not an
#: average dominated by its initial weights
WARMUP_OFFSET = 10.0


class WeightAverage:
    """``averaged ← d·averaged + (1 - d)·weights`` after every optimizer step, with
    ``d = min(decay, (1 + n) / (10 + n))`` at the ``n``-th update; buffers (normalisation
    statistics, if any) are copied. ``model`` is the averaged copy, always in eval mode."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.source = model
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.updates = torch.zeros((), device=next(model.parameters()).device)
        self._pairs = [(a, p) for a, p in zip(self.model.parameters(), model.parameters(),
                                              strict=True)]
        self._buffers = list(zip(self.model.buffers(), model.buffers(), strict=True))

    @torch.no_grad()
    def update(self) -> None:
        self.updates += 1
        decay = torch.clamp((1 + self.updates) / (WARMUP_OFFSET + self.updates), max=self.decay)
        averaged = [a for a, _ in self._pairs]
        torch._foreach_mul_(averaged, decay)
        torch._foreach_add_(averaged, torch._foreach_mul([p.detach() for _, p in self._pairs],
                                                         1 - decay))
        for averaged_buffer, buffer in self._buffers:
            averaged_buffer.copy_(buffer)

    def tensors(self) -> list[torch.Tensor]:
        """Every tensor an update changes (for the CUDA-graph capture's snapshot)."""
        return [self.updates, *self.model.parameters(), *self.model.buffers()]

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "updates": self.updates.clone()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.updates.copy_(state["updates"])
