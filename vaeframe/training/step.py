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
from vaeframe.registry.declarations import KL_ONLY, WITH_POSTERIOR, kl_loss_style
from vaeframe.registry.posterior import DataFacts, Posterior
from vaeframe.registry.types import Progress
from vaeframe.training.kl import kl_per_dim
from vaeframe.training.objective import ObjectiveNetworks
from vaeframe.training.optimisation import Optimisation
from vaeframe.training.stats import StatLayout


class TrainingStep:
    """Loss, backward and optimizer step of one batch.

    ``loss_weight`` is this rank's share of the global batch times the world size under
    torchrun (1 in one process); ``skipped`` counts the steps skipped for a non-finite loss.

    An objective that reads the posterior (``kl_loss(posterior)``, ``extra_loss`` or networks
    of its own) gets a :class:`Posterior`; the loss is ``recon + β·kl_loss + extra_loss``, and
    its networks are trained in the same backward pass by ``networks_loss``.
    """

    def __init__(self, *, network: nn.Module, optimisation: Optimisation,
                 loss: Any, regularizer: Any, beta: torch.Tensor, progress: Progress,
                 latent_dim: int, bf16: bool, parallel: bool, skip_nonfinite: bool,
                 transforms: Sequence[Any] = (), facts: DataFacts | None = None,
                 networks: ObjectiveNetworks | None = None) -> None:
        self.network = network
        self.transforms = list(transforms)
        self.optimisation = optimisation
        self.optimizer = optimisation.optimizer
        self.loss = loss
        self.regularizer = regularizer
        self.beta = beta
        self.progress = progress
        style = kl_loss_style(regularizer.params.kl_loss)
        self.extra = callable(getattr(regularizer.params, "extra_loss", None))
        self.networks = networks
        self.reads_posterior = style == WITH_POSTERIOR or self.extra or networks is not None
        self.posterior_kl = style == WITH_POSTERIOR
        self.facts = facts or DataFacts(0, 0, latent_dim)
        extras = ("extra_loss",) * self.extra + ("networks_loss",) * (networks is not None)
        self.layout = StatLayout.of_step(latent_dim, extras)
        self.reads_progress = (style != KL_ONLY or self.reads_posterior
                               or optimisation.reads_progress)
        self.kl_arguments: tuple[Progress, ...] = (progress,) if style != KL_ONLY else ()
        self.bf16 = bf16
        self.parallel = parallel
        self.skip_nonfinite = skip_nonfinite
        self.loss_weight = 1.0
        self.skipped = 0

    @property
    def device_type(self) -> str:
        return self.beta.device.type

    def loss_and_stats(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """What backward runs on for ``batch`` (the β-VAE loss, plus the objective's networks'
        loss) and, detached, the statistics (:attr:`layout`)."""
        for transform in self.transforms:
            batch = call_plugin(transform, "apply", batch)
        with torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.bf16):
            if self.reads_posterior:
                logits, mu, logvar, z = self.network(batch, return_z=True)
            else:
                logits, mu, logvar = self.network(batch)
        recon = call_plugin(self.loss, "loss", logits.float(), batch)
        kl = kl_per_dim(mu.float(), logvar.float())
        terms: dict[str, torch.Tensor] = {}
        if self.reads_posterior:
            posterior = Posterior(mu.float(), logvar.float(), z.float(), kl, self.progress,
                                  self.facts, self.beta,
                                  self.networks.networks if self.networks else {})
            kl_used = call_plugin(self.regularizer, "kl_loss", *(
                (posterior,) if self.posterior_kl else (kl, *self.kl_arguments)))
            if self.extra:
                terms["extra_loss"] = call_plugin(self.regularizer, "extra_loss", posterior)
            if self.networks is not None:
                terms["networks_loss"] = call_plugin(self.regularizer, "networks_loss",
                                                     posterior)
        else:
            kl_used = call_plugin(self.regularizer, "kl_loss", kl, *self.kl_arguments)
        loss = recon + self.beta * kl_used + terms.get("extra_loss", 0.0)
        stats = self.layout.pack({"loss": loss, "recon_loss": recon, "kl_loss": kl_used,
                                  "kl_raw": kl.sum(1).mean(), "kl_per_dim": kl.mean(0),
                                  **terms})
        return loss + terms.get("networks_loss", 0.0), stats.detach()

    def zero_grad(self) -> None:
        self.optimisation.zero_grad()
        if self.networks is not None:
            self.networks.optimizer.zero_grad(set_to_none=True)

    def backward_and_step(self, loss: torch.Tensor) -> None:
        """Backward (weighted by this rank's share under torchrun) and the optimizers' steps."""
        (loss * self.loss_weight if self.parallel else loss).backward()
        self.optimisation.step()
        if self.networks is not None:
            self.networks.optimizer.step()

    def optimise(self, batch: torch.Tensor) -> torch.Tensor:
        """Loss, backward and optimizer step (gradients must be cleared); returns the stats."""
        loss, stats = self.loss_and_stats(batch)
        self.backward_and_step(loss)
        return stats

    def __call__(self, batch: torch.Tensor) -> torch.Tensor | None:
        """One eager step; with ``skip_nonfinite`` a step whose loss is not finite is skipped
        (one host sync a step) and ``None`` is returned."""
        self.zero_grad()
        loss, stats = self.loss_and_stats(batch)
        if self.skip_nonfinite and not torch.isfinite(loss):
            self.skipped += 1
            return None
        self.backward_and_step(loss)
        return stats
