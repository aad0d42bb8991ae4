"""Evaluation on the device: non-black accuracy, KL per dimension and active units."""

from __future__ import annotations

import torch

from vaeframe.grids import PAD
from vaeframe.losses import focal_loss, kl_per_dim
from vaeframe.model import ConvBetaVAE

ACTIVE_UNIT_THRESHOLD = 0.01  # Burda et al. 2015: Var_x(E[z|x]) > 0.01


@torch.no_grad()
def evaluate(model: ConvBetaVAE, grids: torch.Tensor, batch_size: int, focal_gamma: float,
             reduction: str) -> dict[str, torch.Tensor]:
    """Reconstruct ``grids`` from their posterior means; every figure stays on the device.

    Non-black accuracy is the share of cells whose true colour is 1-9 (not black, not
    padding) that are reconstructed exactly.
    """
    was_training = model.training
    model.eval()
    device = grids.device
    correct = torch.zeros((), device=device, dtype=torch.long)
    nonblack = torch.zeros((), device=device, dtype=torch.long)
    recon_sum = torch.zeros((), device=device)
    kl_sum = torch.zeros(model.latent_dim, device=device)
    mu_sum = torch.zeros(model.latent_dim, device=device, dtype=torch.float64)
    mu_sq_sum = torch.zeros(model.latent_dim, device=device, dtype=torch.float64)
    for start in range(0, grids.shape[0], batch_size):
        batch = grids[start : start + batch_size]
        mu, logvar = model.encode(batch)
        logits = model.decode(mu)
        mask = (batch != 0) & (batch != PAD)
        correct += ((logits.argmax(1) == batch) & mask).sum()
        nonblack += mask.sum()
        recon_sum += focal_loss(logits, batch, focal_gamma, reduction) * batch.shape[0]
        kl_sum += kl_per_dim(mu, logvar).sum(0)
        mu64 = mu.double()
        mu_sum += mu64.sum(0)
        mu_sq_sum += (mu64 * mu64).sum(0)
    model.train(was_training)
    n = grids.shape[0]
    mu_var = mu_sq_sum / n - (mu_sum / n) ** 2
    return {
        "nonblack_acc": correct.double() / nonblack.clamp(min=1).double(),
        "recon_loss": recon_sum / n,
        "kl_per_dim": kl_sum / n,
        "active_units": (mu_var > ACTIVE_UNIT_THRESHOLD).sum(),
    }
