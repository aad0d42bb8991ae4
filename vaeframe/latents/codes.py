"""Grids into latents and latents back into grids, in batches, with a trained model."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from vaeframe.grids import NUM_CLASSES, NUM_COLOURS, PAD, SIDE, most_likely_class


def mean_kl_per_dim(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """The mean over grids of KL(q(z|x) ‖ N(0, I)) of every dimension, from ``(n, latent_dim)``
    posterior means and log-variances (the step's ``kl_per_dim``, on codes already encoded)."""
    mu, logvar = np.asarray(mu, np.float64), np.asarray(logvar, np.float64)
    return (0.5 * (mu**2 + np.exp(logvar) - logvar - 1)).mean(0)


@torch.no_grad()
def encode_packed(model: nn.Module, packed: torch.Tensor, batch_size: int
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior means and log-variances ``(N, latent_dim)`` of packed grids, in batches."""
    device = next(model.parameters()).device
    means, logvars = [], []
    for start in range(0, packed.shape[0], batch_size):
        mu, logvar = model.encode(packed[start : start + batch_size].to(device))
        means.append(mu.float().cpu())
        logvars.append(logvar.float().cpu())
    empty = torch.zeros(0, model.latent_dim)
    return (torch.cat(means) if means else empty), (torch.cat(logvars) if logvars else empty)


@torch.no_grad()
def decode_latents(model: nn.Module, z: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Logits ``(N, 11, 30, 30)`` of latents ``(N, latent_dim)``, on the CPU."""
    if not len(z):
        return torch.zeros(0, NUM_CLASSES, SIDE, SIDE)
    device = next(model.parameters()).device
    return torch.cat([model.decode(z[start : start + batch_size].to(device)).float().cpu()
                      for start in range(0, z.shape[0], batch_size)])


def predicted_sizes(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The most likely grid size of each prediction: the rectangle anchored at the top left
    that maximises the likelihood of "grid inside, padding outside" under the model's
    per-cell probability of padding. Returns heights and widths, each ``(N,)``."""
    log_pad = logits.log_softmax(1)[:, PAD].double()
    log_inside = torch.log1p(-log_pad.exp().clamp(max=1 - 1e-12))
    gain = (log_inside - log_pad).cumsum(1).cumsum(2)  # score of the rectangle ending at (i, j)
    best = gain.flatten(1).argmax(1)
    return best // SIDE + 1, best % SIDE + 1


def crop_predictions(logits: torch.Tensor) -> list[np.ndarray]:
    """Predicted grids: each cropped to its most likely size, each cell its most likely colour
    0-9 (padding, a class of its own, only decides where the grid ends)."""
    heights, widths = predicted_sizes(logits)
    colours = most_likely_class(logits[:, :NUM_COLOURS]).to(torch.uint8).numpy()
    return [colours[i, :h, :w].astype(np.int64)
            for i, (h, w) in enumerate(zip(heights.tolist(), widths.tolist(), strict=True))]
