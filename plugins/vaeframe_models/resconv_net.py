"""A residual convolutional β-VAE with coordinate channels (imports torch)."""

from __future__ import annotations

import torch
from torch import nn

from vaeframe.modules import NUM_CLASSES, GridVAE, coordinate_planes, one_hot_grids


class ResidualBlock(nn.Module):
    """``x + conv(relu(conv(relu(x))))`` with 3×3 convolutions that keep the size."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _stage(channels: int, blocks: int) -> list[nn.Module]:
    return [ResidualBlock(channels) for _ in range(blocks)]


class ResConvBetaVAE(GridVAE):
    """Encoder 30→15→8→4 with residual blocks at each size; the decoder mirrors it.

    With ``coordinates`` the encoder sees each cell's row and column (two extra input
    planes) and the decoder's last layer sees them too, so position need not be inferred
    from the padding alone.
    """

    def __init__(self, latent_dim: int, channels: tuple[int, int, int], blocks: int,
                 coordinates: bool) -> None:
        super().__init__()
        c1, c2, c3 = channels
        self.latent_dim = latent_dim
        self.coordinates = coordinates
        extra = 2 if coordinates else 0
        self.encoder = nn.Sequential(
            nn.Conv2d(NUM_CLASSES + extra, c1, 4, stride=2, padding=1),  # 30 -> 15
            *_stage(c1, blocks), nn.ReLU(),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1),  # 15 -> 8
            *_stage(c2, blocks), nn.ReLU(),
            nn.Conv2d(c2, c3, 3, stride=2, padding=1),  # 8 -> 4
            *_stage(c3, blocks), nn.ReLU(),
            nn.Flatten(),
        )
        self.to_stats = nn.Linear(c3 * 16, 2 * latent_dim)
        self.from_latent = nn.Linear(latent_dim, c3 * 16)
        self.decoder = nn.Sequential(
            nn.Unflatten(1, (c3, 4, 4)), *_stage(c3, blocks), nn.ReLU(),
            nn.ConvTranspose2d(c3, c2, 4, stride=2, padding=1),  # 4 -> 8
            *_stage(c2, blocks), nn.ReLU(),
            nn.ConvTranspose2d(c2, c1, 3, stride=2, padding=1),  # 8 -> 15
            *_stage(c1, blocks), nn.ReLU(),
            nn.ConvTranspose2d(c1, c1, 4, stride=2, padding=1), nn.ReLU(),  # 15 -> 30
        )
        self.to_logits = nn.Conv2d(c1 + extra, NUM_CLASSES, 3, padding=1)

    def _with_coordinates(self, planes: torch.Tensor) -> torch.Tensor:
        if not self.coordinates:
            return planes
        coords = coordinate_planes(planes.shape[0], planes.shape[-1], planes)
        return torch.cat([planes, coords], dim=1)

    def encode(self, grids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.encoder(self._with_coordinates(one_hot_grids(grids)))
        mu, logvar = self.to_stats(features).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.to_logits(self._with_coordinates(self.decoder(self.from_latent(z))))
