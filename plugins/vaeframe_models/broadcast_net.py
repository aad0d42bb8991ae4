"""A convolutional encoder and a spatial broadcast decoder on a square canvas (imports torch).

The spatial broadcast decoder (Watters et al. 2019, "Spatial Broadcast Decoder: A Simple
Architecture for Learning Disentangled Representations in VAEs", arXiv:1901.07017, Fig. 1)
copies ``z`` to every cell, appends the cell's row and column, and draws each cell with
stride-1 convolutions: position need not be unpacked from a flat vector, which is what lets
position factors get dimensions of their own.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vaeframe.grids import PAD, SIDE
from vaeframe.modules import NUM_CLASSES, GridVAE, coordinate_planes, one_hot_grids

OUTSIDE_LOGIT = 30.0  # outside the canvas, PAD's logit is this and every other class's its minus


def _normalised(layer: nn.Module, channels: int, group_norm: bool) -> list[nn.Module]:
    """``layer`` (then GroupNorm with 8 groups where asked), then ReLU."""
    norm = [nn.GroupNorm(8 if channels % 8 == 0 else 1, channels)] if group_norm else []
    return [layer, *norm, nn.ReLU()]


def encoded_side(canvas: int) -> int:
    """The side left after the encoder's three stride-2 convolutions (kernel 4, padding 1)."""
    for _ in range(3):
        canvas //= 2
    return canvas


def outside_logits(canvas: int) -> torch.Tensor:
    """``(11, 30, 30)``: zero on the canvas; outside it, padding by a margin no training moves."""
    logits = torch.full((NUM_CLASSES, SIDE, SIDE), -OUTSIDE_LOGIT)
    logits[PAD] = OUTSIDE_LOGIT
    logits[:, :canvas, :canvas] = 0.0
    return logits


class BroadcastBetaVAE(GridVAE):
    """Reads and draws the top-left ``canvas`` × ``canvas`` cells of a grid.

    Encoder: the one-hot cells and two coordinate planes, three stride-2 convolutions, a
    Gaussian latent. Decoder: ``z`` broadcast to every cell of the canvas with its coordinate
    planes, ``decoder_layers`` 3×3 convolutions of ``decoder_channels``, a 1×1 convolution to
    the 11 classes. Cells outside the canvas are predicted as padding: a grid that reaches
    past the canvas loses those cells (its accuracy says so).
    """

    def __init__(self, latent_dim: int, canvas: int, channels: tuple[int, int, int],
                 decoder_channels: int, decoder_layers: int, group_norm: bool) -> None:
        super().__init__()
        c1, c2, c3 = channels
        g = group_norm
        self.latent_dim = latent_dim
        self.canvas = canvas
        side = encoded_side(canvas)
        self.encoder = nn.Sequential(
            *_normalised(nn.Conv2d(NUM_CLASSES + 2, c1, 4, stride=2, padding=1), c1, g),
            *_normalised(nn.Conv2d(c1, c2, 4, stride=2, padding=1), c2, g),
            *_normalised(nn.Conv2d(c2, c3, 4, stride=2, padding=1), c3, g),
            nn.Flatten(),
            nn.Linear(c3 * side * side, 2 * latent_dim),
        )
        layers: list[nn.Module] = []
        inputs = latent_dim + 2
        for _ in range(decoder_layers):
            layers += _normalised(nn.Conv2d(inputs, decoder_channels, 3, padding=1),
                                  decoder_channels, g)
            inputs = decoder_channels
        self.decoder = nn.Sequential(*layers, nn.Conv2d(inputs, NUM_CLASSES, 1))
        self.register_buffer("outside", outside_logits(canvas), persistent=False)

    def _with_coordinates(self, planes: torch.Tensor) -> torch.Tensor:
        coords = coordinate_planes(planes.shape[0], self.canvas, planes)
        return torch.cat([planes, coords], dim=1)

    def encode(self, grids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cells = one_hot_grids(grids[:, : self.canvas, : self.canvas])
        mu, logvar = self.encoder(self._with_coordinates(cells)).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        tiled = z[:, :, None, None].expand(-1, -1, self.canvas, self.canvas)
        logits = self.decoder(self._with_coordinates(tiled))
        margin = SIDE - self.canvas
        return F.pad(logits, (0, margin, 0, margin)) + self.outside
