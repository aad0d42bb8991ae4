"""β-TCVAE (Chen, Li, Grosse & Duvenaud 2018, "Isolating Sources of Disentanglement in
Variational Autoencoders", NeurIPS): the KL term split into index-code mutual information,
total correlation and dimension-wise KL (their Eq. 2), each estimated on the minibatch."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import attrs

from vaeframe import Posterior, at_least, one_of

if TYPE_CHECKING:
    from torch import Tensor

LOG_2PI = math.log(2 * math.pi)


def log_normal(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """log N(z; mu, exp(logvar)), elementwise."""
    return -0.5 * (LOG_2PI + logvar + (z - mu) ** 2 * (-logvar).exp())


def log_importance_weights(batch: int, dataset: int, like: Tensor) -> Tensor:
    """log w_ij of minibatch-stratified sampling (Chen et al. 2018, Appendix C.2), with
    M = batch - 1 other grids: for the sample of row i, its own grid weighs 1/N, the next
    grid (i + 1, wrapping round) (N - M)/(N·M), and every other grid 1/M; each row sums to 1.

    The paper's released code fills these by flat strides of ``batch`` where the diagonal's
    is ``batch + 1``, which puts 1/N in the first column instead; this is the appendix's form.
    """
    import torch

    m = batch - 1
    weights = torch.full((batch, batch), 1.0 / m, dtype=like.dtype, device=like.device)
    rows = torch.arange(batch, device=like.device)
    weights[rows, rows] = 1.0 / dataset
    weights[rows, (rows + 1) % batch] = (dataset - m) / (dataset * m)
    return weights.log()


def decomposition(posterior: Posterior, estimator: str = "mws") -> dict[str, Tensor]:
    """The batch means of index-code MI, total correlation and dimension-wise KL.

    With ``z_i ~ q(z|x_i)`` for the M grids of the batch and N training grids:
    ``log q(z_i) ≈ logsumexp_j [log q(z_i|x_j)] - log(N·M)`` (minibatch-weighted sampling,
    Sec. 3 of the paper), the same per dimension for ``log q(z_id)``, or with the weights of
    :func:`log_importance_weights` (minibatch-stratified sampling). Then
    MI = E[log q(z|x) - log q(z)], TC = E[log q(z) - Σ_d log q(z_d)],
    DWKL = E[Σ_d log q(z_d) - log p(z)].
    """
    import torch

    z, mu, logvar = posterior.z, posterior.mu, posterior.logvar
    batch, dataset = z.shape[0], max(posterior.data.train_grids, z.shape[0])
    # [i, j, d]: log q(z_id | x_j)
    pairwise = log_normal(z.unsqueeze(1), mu.unsqueeze(0), logvar.unsqueeze(0))
    if estimator == "mss" and batch > 1:
        weights = log_importance_weights(batch, dataset, z)
        log_qz = torch.logsumexp(weights + pairwise.sum(2), dim=1)
        log_qz_marginals = torch.logsumexp(weights.unsqueeze(2) + pairwise, dim=1).sum(1)
    else:
        offset = math.log(batch * dataset)
        log_qz = torch.logsumexp(pairwise.sum(2), dim=1) - offset
        log_qz_marginals = (torch.logsumexp(pairwise, dim=1) - offset).sum(1)
    log_qz_given_x = log_normal(z, mu, logvar).sum(1)
    log_pz = log_normal(z, torch.zeros_like(z), torch.zeros_like(z)).sum(1)
    return {"mi": (log_qz_given_x - log_qz).mean(), "tc": (log_qz - log_qz_marginals).mean(),
            "dwkl": (log_qz_marginals - log_pz).mean()}


@attrs.define
class BetaTCVAE:
    """β-TCVAE (Chen et al. 2018): α·MI + β·TC + γ·dimension-wise KL; β is the schedule's.

    The schedule's β multiplies the total correlation (the paper's β; it uses α = γ = 1 and
    β up to 10 on dSprites). ``estimator``: ``"mws"`` (minibatch-weighted sampling, the
    paper's code's default) or ``"mss"`` (minibatch-stratified sampling). ``mi`` and
    ``dwkl`` are added to the loss with weights ``alpha`` and ``gamma``.
    """

    alpha: float = attrs.field(default=1.0, validator=at_least(0.0))
    gamma: float = attrs.field(default=1.0, validator=at_least(0.0))
    estimator: str = attrs.field(default="mws", validator=one_of("mws", "mss"))

    def kl_loss(self, posterior: Posterior) -> Tensor:
        return decomposition(posterior, self.estimator)["tc"]

    def extra_loss(self, posterior: Posterior) -> Tensor:
        parts = decomposition(posterior, self.estimator)
        return self.alpha * parts["mi"] + self.gamma * parts["dwkl"]
