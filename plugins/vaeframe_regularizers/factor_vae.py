"""FactorVAE (Kim & Mnih 2018, "Disentangling by Factorising", ICML): the plain KL plus
γ times the total correlation, estimated by a discriminator between samples of q(z) and
samples of the product of its marginals (dimension-wise permuted z)."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import attrs

from vaeframe import Posterior, at_least, greater_than

if TYPE_CHECKING:
    from torch import Tensor, nn


def permute_dims(z: Tensor) -> Tensor:
    """Each dimension's values shuffled across the batch on its own (the paper's Algorithm
    2): a sample of ∏_d q(z_d). Draws from the device's default generator."""
    import torch

    batch, dims = z.shape
    order = torch.rand(batch, dims, device=z.device).argsort(dim=0)
    return z.gather(0, order)


def discriminator(latent_dim: int, hidden: int, layers: int) -> nn.Module:
    """The paper's discriminator: an MLP of ``layers`` layers of ``hidden`` units with
    LeakyReLU(0.2), two logits out (``0``: a sample of q(z), ``1``: a permuted one)."""
    from torch import nn

    widths = [latent_dim, *[hidden] * (layers - 1)]
    blocks: list[nn.Module] = []
    for width_in, width_out in itertools.pairwise(widths):
        blocks += [nn.Linear(width_in, width_out), nn.LeakyReLU(0.2)]
    return nn.Sequential(*blocks, nn.Linear(widths[-1], 2))


def total_correlation(logits: Tensor) -> Tensor:
    """The density-ratio estimate of TC (the paper's Eq. 3): E[log D(z) / (1 - D(z))] with
    D(z) = softmax(logits)[0], which is the mean of ``logits[:, 0] - logits[:, 1]``."""
    return (logits[:, 0] - logits[:, 1]).mean()


def discriminator_loss(real_logits: Tensor, permuted_logits: Tensor) -> Tensor:
    """Cross-entropy of the discriminator: real samples are class 0, permuted ones class 1."""
    import torch
    import torch.nn.functional as F

    zeros = torch.zeros(real_logits.shape[0], dtype=torch.long, device=real_logits.device)
    return 0.5 * (F.cross_entropy(real_logits, zeros) +
                  F.cross_entropy(permuted_logits, torch.ones_like(zeros)))


@attrs.define
class FactorVAE:
    """FactorVAE (Kim & Mnih 2018): KL + γ·TC, TC from a discriminator trained every step.

    The schedule's β multiplies the plain KL (the paper: 1). The discriminator has its own
    Adam (lr ``d_lr``, betas 0.5, 0.9, as in the paper) and is trained on the same batch's
    detached z against its dimension-wise permutation (the paper permutes a second batch).
    Paper defaults: γ = 10 on dSprites (35-40 reported too), 6 layers of 1000 units.

    ``gamma_warmup_epochs`` and ``gamma_ramp_epochs`` (not in the paper; 0 and 0 give its
    constant γ) hold γ at 0 for that many epochs of training, then raise it linearly to γ,
    as ``linear_warmup`` does for β: on small ARC canvases a decoder pressed by γ·TC from
    the first step can stay stuck drawing black (docs/latent-space.md).
    """

    gamma: float = attrs.field(default=10.0, validator=at_least(0.0))
    d_hidden: int = attrs.field(default=1000, validator=at_least(1))
    d_layers: int = attrs.field(default=6, validator=at_least(1))
    d_lr: float = attrs.field(default=1e-4, validator=greater_than(0.0))
    gamma_warmup_epochs: float = attrs.field(default=0.0, validator=at_least(0.0))
    gamma_ramp_epochs: float = attrs.field(default=0.0, validator=at_least(0.0))

    def kl_loss(self, posterior: Posterior) -> Tensor:
        return posterior.kl.sum(1).mean()

    def extra_loss(self, posterior: Posterior) -> Tensor:
        """γ·TC, through the discriminator with its parameters frozen (it trains apart)."""
        tc = total_correlation(posterior.frozen("discriminator")(posterior.z))
        return self.gamma_now(posterior.progress.epochs_done) * tc

    def gamma_now(self, epochs_done: Tensor) -> Tensor:
        """γ after ``epochs_done`` epochs of training (a tensor: no host sync): 0 during the
        warm-up, then linear over the ramp, then γ."""
        late = epochs_done - self.gamma_warmup_epochs
        if self.gamma_ramp_epochs > 0:
            return self.gamma * (late / self.gamma_ramp_epochs).clamp(0.0, 1.0)
        return self.gamma * (late >= 0).to(epochs_done.dtype)

    def networks(self, latent_dim: int) -> dict[str, nn.Module]:
        return {"discriminator": discriminator(latent_dim, self.d_hidden, self.d_layers)}

    def networks_optimizer(self, parameters: Any) -> Any:
        import torch

        return torch.optim.Adam(parameters, lr=self.d_lr, betas=(0.5, 0.9))

    def networks_loss(self, posterior: Posterior) -> Tensor:
        """The discriminator's cross-entropy, real and permuted z in one forward pass (under
        torchrun, DistributedDataParallel expects one forward before each backward)."""
        import torch

        z = posterior.z.detach()
        logits = posterior.network("discriminator")(torch.cat([z, permute_dims(z)]))
        real, permuted = logits.split(z.shape[0])
        return discriminator_loss(real, permuted)
