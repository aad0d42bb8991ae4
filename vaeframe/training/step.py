"""One optimisation step of the β-VAE: the parts that the eager loop and the fast path share.

The step reads β and the training progress from device tensors that the trainer updates in
place, and returns its statistics as one detached tensor laid out by
:meth:`StatLayout.of_step`, so it never syncs with the host.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from vaeframe.registry.calls import call_plugin
from vaeframe.registry.declarations import takes_progress
from vaeframe.registry.types import Progress
from vaeframe.training.kl import kl_per_dim
from vaeframe.training.stats import StatLayout


class TrainingStep:
    """Loss, backward and optimizer step of one batch.

    ``loss_weight`` is this rank's share of the global batch times the world size under
    torchrun (1 in one process); ``skipped`` counts the steps skipped for a non-finite loss.
    """

    def __init__(self, *, network: nn.Module, optimizer: torch.optim.Optimizer,
                 loss: Any, regularizer: Any, beta: torch.Tensor, progress: Progress,
                 latent_dim: int, bf16: bool, parallel: bool, skip_nonfinite: bool,
                 transforms: Sequence[Any] = ()) -> None:
        self.network = network
        self.transforms = list(transforms)
        self.optimizer = optimizer
        self.loss = loss
        self.regularizer = regularizer
        self.beta = beta
        self.layout = StatLayout.of_step(latent_dim)
        self.reads_progress = takes_progress(regularizer.params.kl_loss)
        self.kl_arguments: tuple[Progress, ...] = (progress,) if self.reads_progress else ()
        self.bf16 = bf16
        self.parallel = parallel
        self.skip_nonfinite = skip_nonfinite
        self.loss_weight = 1.0
        self.skipped = 0

    @property
    def device_type(self) -> str:
        return self.beta.device.type

    def loss_and_stats(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The β-VAE loss of ``batch`` and, detached, its statistics (:attr:`layout`)."""
        for transform in self.transforms:
            batch = call_plugin(transform, "apply", batch)
        with torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.bf16):
            logits, mu, logvar = self.network(batch)
        recon = call_plugin(self.loss, "loss", logits.float(), batch)
        kl = kl_per_dim(mu.float(), logvar.float())
        kl_used = call_plugin(self.regularizer, "kl_loss", kl, *self.kl_arguments)
        loss = recon + self.beta * kl_used
        stats = self.layout.pack({"loss": loss, "recon_loss": recon, "kl_loss": kl_used,
                                  "kl_raw": kl.sum(1).mean(), "kl_per_dim": kl.mean(0)})
        return loss, stats.detach()

    def backward_and_step(self, loss: torch.Tensor) -> None:
        """Backward (weighted by this rank's share under torchrun) and the optimizer's step."""
        (loss * self.loss_weight if self.parallel else loss).backward()
        self.optimizer.step()

    def optimise(self, batch: torch.Tensor) -> torch.Tensor:
        """Loss, backward and optimizer step (gradients must be cleared); returns the stats."""
        loss, stats = self.loss_and_stats(batch)
        self.backward_and_step(loss)
        return stats

    def __call__(self, batch: torch.Tensor) -> torch.Tensor | None:
        """One eager step; with ``skip_nonfinite`` a step whose loss is not finite is skipped
        (one host sync a step) and ``None`` is returned."""
        self.optimizer.zero_grad(set_to_none=True)
        loss, stats = self.loss_and_stats(batch)
        if self.skip_nonfinite and not torch.isfinite(loss):
            self.skipped += 1
            return None
        self.backward_and_step(loss)
        return stats
