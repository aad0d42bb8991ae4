"""Evaluation on the device: non-black accuracy, KL per dimension and active units.

Evaluation produces sums (:func:`evaluation_sums`), which data-parallel ranks add up, and
:func:`summarise` turns them into the figures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from vaeframe.grids import PAD, most_likely_class
from vaeframe.registry.calls import call_plugin
from vaeframe.training.distributed import World
from vaeframe.training.kl import kl_per_dim
from vaeframe.training.stats import StatLayout, scalars

ReconLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

ACTIVE_UNIT_THRESHOLD = 0.01  # Burda et al. 2015: Var_x(E[z|x]) > 0.01


def sums_layout(latent_dim: int) -> StatLayout:
    """The parts of :func:`evaluation_sums`' vector."""
    return StatLayout((("correct", 1), ("nonblack", 1), ("recon_loss", 1), ("grids", 1),
                       ("kl", latent_dim), ("mu", latent_dim), ("mu_squared", latent_dim)))


@torch.no_grad()
def evaluation_sums(model: nn.Module, grids: torch.Tensor, batch_size: int,
                    recon_loss: ReconLoss) -> torch.Tensor:
    """Sums over ``grids``, reconstructed from their posterior means, as one float64 vector
    laid out by :func:`sums_layout`: cells right and non-black cells, the summed recon loss,
    the grids, then KL per dimension, posterior mean and squared mean."""
    was_training = model.training
    model.eval()
    layout = sums_layout(model.latent_dim)
    sums = torch.zeros(layout.width, device=grids.device, dtype=torch.float64)
    for start in range(0, grids.shape[0], batch_size):
        batch = grids[start : start + batch_size]
        mu, logvar = model.encode(batch)
        logits = model.decode(mu)
        mask = (batch != 0) & (batch != PAD)
        mu64 = mu.double()
        sums += layout.pack({
            "correct": ((most_likely_class(logits) == batch) & mask).sum().double(),
            "nonblack": mask.sum().double(),
            "recon_loss": recon_loss(logits, batch).double() * batch.shape[0],
            "grids": torch.tensor(float(batch.shape[0]), device=grids.device,
                                  dtype=torch.float64),
            "kl": kl_per_dim(mu, logvar).double().sum(0), "mu": mu64.sum(0),
            "mu_squared": (mu64 * mu64).sum(0)})
    model.train(was_training)
    return sums


def summarise(sums: torch.Tensor, latent_dim: int) -> dict[str, torch.Tensor]:
    """Non-black accuracy (share of cells of colours 1-9 reconstructed exactly), mean recon
    loss, KL per dimension and active units, from :func:`evaluation_sums`' vector."""
    part = sums_layout(latent_dim).split(sums)
    n = part["grids"].clamp(min=1)
    mu_var = part["mu_squared"] / n - (part["mu"] / n) ** 2
    return {
        "nonblack_acc": (part["correct"] / part["nonblack"].clamp(min=1)).reshape(()),
        "recon_loss": (part["recon_loss"] / n).reshape(()),
        "kl_per_dim": part["kl"] / n,
        "active_units": (mu_var > ACTIVE_UNIT_THRESHOLD).sum(),
    }


def evaluate(model: nn.Module, grids: torch.Tensor, batch_size: int, recon_loss: ReconLoss,
             reduce: Callable[[torch.Tensor], torch.Tensor] | None = None
             ) -> dict[str, torch.Tensor]:
    """The figures of :func:`summarise` for ``grids``; ``reduce`` adds up ranks' sums."""
    sums = evaluation_sums(model, grids, batch_size, recon_loss)
    return summarise(reduce(sums) if reduce else sums, model.latent_dim)


def per_dim_metrics(prefix: str, values: list[float]) -> dict[str, float]:
    """``prefix/dim_i`` for every value, plus ``prefix/min``, ``/max`` and ``/mean``."""
    metrics = {f"{prefix}/dim_{i}": v for i, v in enumerate(values)}
    if values:
        metrics[f"{prefix}/min"] = min(values)
        metrics[f"{prefix}/max"] = max(values)
        metrics[f"{prefix}/mean"] = sum(values) / len(values)
    return metrics


class Evaluator:
    """A run's evaluation: both splits, each rank its share, one transfer to the host."""

    def __init__(self, model: nn.Module, train: torch.Tensor, heldout: torch.Tensor,
                 batch_size: int, loss: Any, world: World) -> None:
        self.model = model
        self.splits = {"train": train[world.rank :: world.size],
                       "heldout": heldout[world.rank :: world.size]}
        self.batch_size = batch_size
        self.loss = loss
        self.reduce = world.sum
        self.layout = StatLayout((("train/nonblack_acc", 1), ("heldout/nonblack_acc", 1),
                                  ("active_units", 1), ("heldout/recon_loss", 1),
                                  ("heldout/kl_per_dim", model.latent_dim)))

    def _recon_loss(self, logits: torch.Tensor, grids: torch.Tensor) -> torch.Tensor:
        return call_plugin(self.loss, "loss", logits, grids)

    def __call__(self) -> dict[str, float]:
        found = {split: evaluate(self.model, grids, self.batch_size, self._recon_loss,
                                 self.reduce) for split, grids in self.splits.items()}
        flat = self.layout.pack({
            "train/nonblack_acc": found["train"]["nonblack_acc"].float(),
            "heldout/nonblack_acc": found["heldout"]["nonblack_acc"].float(),
            "active_units": found["train"]["active_units"].float(),
            "heldout/recon_loss": found["heldout"]["recon_loss"],
            "heldout/kl_per_dim": found["heldout"]["kl_per_dim"]})
        values = self.layout.unpack(flat.cpu().tolist())
        kl = values.pop("heldout/kl_per_dim")
        return {**scalars(values, list(values)), **per_dim_metrics("heldout/kl_per_dim", kl)}
