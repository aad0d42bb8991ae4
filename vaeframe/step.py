"""One optimisation step of the β-VAE: the parts that the eager loop and the fast path share.

The step reads β and the training progress from device tensors that the trainer updates in
place, and returns its statistics as one detached tensor, so it never syncs with the host.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from vaeframe.api import Progress
from vaeframe.declarations import takes_progress
from vaeframe.kl import kl_per_dim
from vaeframe.plugin_calls import plugin_failure

STEP_SCALARS = ("loss", "recon_loss", "kl_loss", "kl_raw")


def kl_term(regularizer: Any, progress: Progress) -> Callable[[torch.Tensor], torch.Tensor]:
    """The regularizer's ``kl_loss`` as a function of the KL alone; the progress is passed to
    regularizers that take it (``kl_loss(kl, progress)``)."""
    method = regularizer.params.kl_loss
    if takes_progress(method):
        return lambda kl: method(kl, progress)
    return method


class TrainingStep:
    """Loss, backward and optimizer step of one batch.

    ``loss_weight`` is this rank's share of the global batch times the world size under
    torchrun (1 in one process); ``skipped`` counts the steps skipped for a non-finite loss.
    """

    def __init__(self, *, network: nn.Module, optimizer: torch.optim.Optimizer,
                 loss: Any, regularizer: Any, beta: torch.Tensor, progress: Progress,
                 bf16: bool, parallel: bool, skip_nonfinite: bool,
                 transforms: Sequence[Any] = ()) -> None:
        self.network = network
        self.transforms = list(transforms)
        self.optimizer = optimizer
        self.loss = loss
        self.regularizer = regularizer
        self.beta = beta
        self.progress = progress
        self.kl_term = kl_term(regularizer, progress)
        self.reads_progress = takes_progress(regularizer.params.kl_loss)
        self.bf16 = bf16
        self.parallel = parallel
        self.skip_nonfinite = skip_nonfinite
        self.loss_weight = 1.0
        self.skipped = 0

    @property
    def device_type(self) -> str:
        return self.beta.device.type

    def loss_and_stats(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The β-VAE loss of ``batch`` and, detached, loss, recon, KL used, KL raw, KL per dim."""
        for transform in self.transforms:
            try:
                batch = transform.params.apply(batch)
            except Exception as exc:
                raise plugin_failure(transform, "apply", exc) from exc
        with torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.bf16):
            logits, mu, logvar = self.network(batch)
        try:
            recon = self.loss.params.loss(logits.float(), batch)
        except Exception as exc:
            raise plugin_failure(self.loss, "loss", exc) from exc
        kl = kl_per_dim(mu.float(), logvar.float())
        try:
            kl_used = self.kl_term(kl)
        except Exception as exc:
            raise plugin_failure(self.regularizer, "kl_loss", exc) from exc
        loss = recon + self.beta * kl_used
        scalars = torch.stack([loss, recon, kl_used, kl.sum(1).mean()]).detach()
        return loss, torch.cat([scalars, kl.detach().mean(0)])

    def optimise(self, batch: torch.Tensor) -> torch.Tensor:
        """Loss, backward and optimizer step (gradients must be cleared); returns the stats."""
        loss, stats = self.loss_and_stats(batch)
        (loss * self.loss_weight if self.parallel else loss).backward()
        self.optimizer.step()
        return stats

    def __call__(self, batch: torch.Tensor) -> torch.Tensor | None:
        """One eager step; with ``skip_nonfinite`` a step whose loss is not finite is skipped
        (one host sync a step) and ``None`` is returned."""
        self.optimizer.zero_grad(set_to_none=True)
        if not self.skip_nonfinite:
            return self.optimise(batch)
        loss, stats = self.loss_and_stats(batch)
        if not torch.isfinite(loss):
            self.skipped += 1
            return None
        loss.backward()
        self.optimizer.step()
        return stats
