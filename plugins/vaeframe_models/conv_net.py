"""The convolutional β-VAE network (imports torch; loaded when a model is built)."""

from __future__ import annotations

import torch
from torch import nn

from vaeframe.modules import NUM_CLASSES, GridVAE, one_hot_grids


def _normalised(layer: nn.Module, channels: int, group_norm: bool) -> list[nn.Module]:
    """``layer`` (then GroupNorm with 8 groups where asked), then ReLU."""
    norm = [nn.GroupNorm(8 if channels % 8 == 0 else 1, channels)] if group_norm else []
    return [layer, *norm, nn.ReLU()]


class ConvBetaVAE(GridVAE):
    """Encoder 30→15→8→4 with strided convolutions, a Gaussian latent, a mirrored decoder.

    With ``group_norm`` every hidden convolution is followed by GroupNorm; without it the
    module is exactly the specification's network (and loads its checkpoints).
    """

    def __init__(self, latent_dim: int, channels: tuple[int, int, int],
                 group_norm: bool = False) -> None:
        super().__init__()
        c1, c2, c3 = channels
        g = group_norm
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(
            *_normalised(nn.Conv2d(NUM_CLASSES, c1, 4, stride=2, padding=1), c1, g),  # 30 -> 15
            *_normalised(nn.Conv2d(c1, c2, 3, stride=2, padding=1), c2, g),  # 15 -> 8
            *_normalised(nn.Conv2d(c2, c3, 3, stride=2, padding=1), c3, g),  # 8 -> 4
            nn.Flatten(),
        )
        self.to_stats = nn.Linear(c3 * 16, 2 * latent_dim)
        self.from_latent = nn.Linear(latent_dim, c3 * 16)
        self.decoder = nn.Sequential(
            nn.Unflatten(1, (c3, 4, 4)), nn.ReLU(),
            *_normalised(nn.ConvTranspose2d(c3, c2, 4, stride=2, padding=1), c2, g),  # 4 -> 8
            *_normalised(nn.ConvTranspose2d(c2, c1, 3, stride=2, padding=1), c1, g),  # 8 -> 15
            nn.ConvTranspose2d(c1, NUM_CLASSES, 4, stride=2, padding=1),  # 15 -> 30
        )

    def encode(self, grids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.to_stats(self.encoder(one_hot_grids(grids))).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.from_latent(z))
