"""The convolutional β-VAE network (imports torch; loaded when a model is built)."""

from __future__ import annotations

import torch
from torch import nn

from vaeframe.modules import NUM_CLASSES, GridVAE, one_hot_grids


class ConvBetaVAE(GridVAE):
    """Encoder 30→15→8→4 with strided convolutions, a Gaussian latent, a mirrored decoder."""

    def __init__(self, latent_dim: int, channels: tuple[int, int, int]) -> None:
        super().__init__()
        c1, c2, c3 = channels
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(
            nn.Conv2d(NUM_CLASSES, c1, 4, stride=2, padding=1), nn.ReLU(),  # 30 -> 15
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.ReLU(),  # 15 -> 8
            nn.Conv2d(c2, c3, 3, stride=2, padding=1), nn.ReLU(),  # 8 -> 4
            nn.Flatten(),
        )
        self.to_stats = nn.Linear(c3 * 16, 2 * latent_dim)
        self.from_latent = nn.Linear(latent_dim, c3 * 16)
        self.decoder = nn.Sequential(
            nn.Unflatten(1, (c3, 4, 4)), nn.ReLU(),
            nn.ConvTranspose2d(c3, c2, 4, stride=2, padding=1), nn.ReLU(),  # 4 -> 8
            nn.ConvTranspose2d(c2, c1, 3, stride=2, padding=1), nn.ReLU(),  # 8 -> 15
            nn.ConvTranspose2d(c1, NUM_CLASSES, 4, stride=2, padding=1),  # 15 -> 30
        )

    def encode(self, grids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.to_stats(self.encoder(one_hot_grids(grids))).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.from_latent(z))
