"""A base class for model plugins (imports torch: import it only where a model is built).

:class:`GridVAE` implements the model contract's ``forward`` from ``encode`` and ``decode``
(the reparameterisation trick in training mode, the posterior mean in eval mode) and gives
the one-hot and coordinate inputs that convolutional encoders start from.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vaeframe.grids import NUM_CLASSES, SIDE


def one_hot_grids(grids: torch.Tensor) -> torch.Tensor:
    """``(N, 30, 30)`` uint8 classes → ``(N, 11, 30, 30)`` float one-hot planes."""
    return F.one_hot(grids.long(), NUM_CLASSES).permute(0, 3, 1, 2).float()


def coordinate_planes(batch: int, side: int, like: torch.Tensor) -> torch.Tensor:
    """``(batch, 2, side, side)``: row and column positions scaled to [-1, 1]."""
    axis = torch.linspace(-1.0, 1.0, side, device=like.device, dtype=like.dtype)
    rows, cols = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([rows, cols]).expand(batch, 2, side, side)


class GridVAE(nn.Module):
    """Subclass it and implement ``encode`` and ``decode``; set ``latent_dim``."""

    latent_dim: int

    def encode(self, grids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(N, 30, 30)`` uint8 grids → posterior mean and log-variance, ``(N, latent_dim)``."""
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latents ``(N, latent_dim)`` → logits ``(N, 11, 30, 30)``."""
        raise NotImplementedError

    def forward(self, grids: torch.Tensor, return_z: bool = False) -> tuple[torch.Tensor, ...]:
        """``(logits, mu, logvar)``, and the sample ``z`` the decoder saw with ``return_z``
        (what objectives that read the posterior need): ``z = mu + σ·ε`` in training mode,
        ``mu`` in eval mode."""
        mu, logvar = self.encode(grids)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if self.training else mu
        logits = self.decode(z)
        return (logits, mu, logvar, z) if return_z else (logits, mu, logvar)


__all__ = ["NUM_CLASSES", "SIDE", "GridVAE", "coordinate_planes", "one_hot_grids"]
