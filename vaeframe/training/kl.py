"""The KL of every latent dimension: what KL regularizers and the monitoring start from."""

from __future__ import annotations

import torch


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) ‖ N(0, I)) of every sample and dimension, ``(batch, latent_dim)``, unclamped."""
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())
