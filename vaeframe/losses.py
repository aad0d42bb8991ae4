"""The β-VAE loss terms: focal reconstruction loss and the KL of every latent dimension."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def focal_loss(logits: torch.Tensor, grids: torch.Tensor, gamma: float,
               reduction: str) -> torch.Tensor:
    """Focal loss ``-(1 - p)^γ log p`` of every cell (padding included, as its own class).

    ``reduction = "sum"`` sums over the 900 cells of each grid, ``"mean"`` averages over them;
    either way the result is averaged over the batch.
    """
    log_p = F.log_softmax(logits, dim=1).gather(1, grids.long().unsqueeze(1)).squeeze(1)
    per_cell = -log_p if gamma == 0 else -((1 - log_p.exp()) ** gamma) * log_p
    per_grid = per_cell.flatten(1).sum(1) if reduction == "sum" else per_cell.flatten(1).mean(1)
    return per_grid.mean()


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) ‖ N(0, I)) of every sample and dimension, ``(batch, latent_dim)``, unclamped."""
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())
