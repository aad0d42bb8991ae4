"""The disentangling objectives (β-TCVAE, FactorVAE, DIP-VAE): each loss against a hand
computation on a small batch, and the posterior contract they are written against."""

from __future__ import annotations

import math

import pytest
import torch
from vaeframe_regularizers.dip_vae import DIPVAE, covariance, dip_penalty
from vaeframe_regularizers.factor_vae import (
    FactorVAE,
    discriminator,
    discriminator_loss,
    permute_dims,
    total_correlation,
)
from vaeframe_regularizers.tcvae import BetaTCVAE, decomposition, log_importance_weights

from vaeframe import DataFacts, Posterior, Progress

MU = [[0.5, -1.0], [0.0, 0.3], [-0.7, 0.8]]
LOGVAR = [[-0.2, 0.1], [0.4, -0.5], [0.0, -1.0]]
Z = [[0.6, -0.9], [-0.3, 0.1], [-0.4, 1.2]]
N = 10  # training grids


def posterior(mu=MU, logvar=LOGVAR, z=Z, n=N) -> Posterior:
    mu, logvar, z = (torch.tensor(v, dtype=torch.float64) for v in (mu, logvar, z))
    kl = -0.5 * (1 + logvar - mu**2 - logvar.exp())
    return Posterior(mu, logvar, z, kl, Progress.create(1), DataFacts(n, 1, mu.shape[1]),
                     torch.tensor(1.0))


def log_n(x: float, m: float, lv: float) -> float:
    return -0.5 * (math.log(2 * math.pi) + lv + (x - m) ** 2 / math.exp(lv))


def logsumexp(values: list[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def by_hand(weights: list[list[float]]) -> dict[str, float]:
    """Chen et al. 2018, Eq. 2 with q(z) estimated as Σ_j w_ij q(z_i|x_j), term by term."""
    m, d = len(Z), len(Z[0])
    mi = tc = dwkl = 0.0
    for i in range(m):
        log_q_given_x = sum(log_n(Z[i][k], MU[i][k], LOGVAR[i][k]) for k in range(d))
        log_q = logsumexp([math.log(weights[i][j]) + sum(
            log_n(Z[i][k], MU[j][k], LOGVAR[j][k]) for k in range(d)) for j in range(m)])
        log_marginals = sum(logsumexp([math.log(weights[i][j]) + log_n(
            Z[i][k], MU[j][k], LOGVAR[j][k]) for j in range(m)]) for k in range(d))
        log_p = sum(log_n(Z[i][k], 0.0, 0.0) for k in range(d))
        mi += (log_q_given_x - log_q) / m
        tc += (log_q - log_marginals) / m
        dwkl += (log_marginals - log_p) / m
    return {"mi": mi, "tc": tc, "dwkl": dwkl}


def test_tcvae_minibatch_weighted_sampling_matches_a_hand_computation() -> None:
    m = len(Z)
    expected = by_hand([[1 / (N * m)] * m for _ in range(m)])  # MWS: every weight 1/(N·M)
    found = decomposition(posterior(), "mws")
    for key, value in expected.items():
        assert found[key].item() == pytest.approx(value, abs=1e-12), key


def test_tcvae_minibatch_stratified_sampling_matches_a_hand_computation() -> None:
    # Appendix C.2 with M = 3 grids (M - 1 = 2 others): own grid 1/N, the next one
    # (N - 2)/(2N), the remaining one 1/2; the last row's "next" wraps to the first grid
    s = (N - 2) / (2 * N)
    weights = [[1 / N, s, 0.5], [0.5, 1 / N, s], [s, 0.5, 1 / N]]
    assert torch.allclose(log_importance_weights(3, N, torch.zeros(1, dtype=torch.float64)),
                          torch.tensor(weights, dtype=torch.float64).log())
    expected = by_hand(weights)
    found = decomposition(posterior(), "mss")
    for key, value in expected.items():
        assert found[key].item() == pytest.approx(value, abs=1e-12), key


def test_the_three_terms_add_up_to_an_estimate_of_the_kl_term() -> None:
    """MI + TC + DWKL = E[log q(z|x) - log p(z)], a one-sample estimate of the mean KL."""
    parts = decomposition(posterior(), "mws")
    m, d = len(Z), len(Z[0])
    direct = sum(log_n(Z[i][k], MU[i][k], LOGVAR[i][k]) - log_n(Z[i][k], 0, 0)
                 for i in range(m) for k in range(d)) / m
    assert sum(v.item() for v in parts.values()) == pytest.approx(direct, abs=1e-12)


def test_tcvae_loss_is_alpha_mi_plus_beta_tc_plus_gamma_dwkl() -> None:
    objective = BetaTCVAE(alpha=2.0, gamma=3.0)
    parts = {k: v.item() for k, v in decomposition(posterior(), "mws").items()}
    assert objective.kl_loss(posterior()).item() == pytest.approx(parts["tc"])
    assert objective.extra_loss(posterior()).item() == pytest.approx(
        2.0 * parts["mi"] + 3.0 * parts["dwkl"])


def test_dip_vae_penalties_match_a_hand_computation() -> None:
    m = len(MU)
    mean = [sum(MU[i][k] for i in range(m)) / m for k in range(2)]
    cov = [[sum((MU[i][a] - mean[a]) * (MU[i][b] - mean[b]) for i in range(m)) / m
            for b in range(2)] for a in range(2)]
    var = [sum(math.exp(LOGVAR[i][k]) for i in range(m)) / m for k in range(2)]
    cov_ii = [[cov[a][b] + (var[a] if a == b else 0.0) for b in range(2)] for a in range(2)]
    for kind, c in (("i", cov), ("ii", cov_ii)):
        assert torch.allclose(covariance(posterior(), kind),
                              torch.tensor(c, dtype=torch.float64))
        expected = 10 * 2 * c[0][1] ** 2 + 100 * ((c[0][0] - 1) ** 2 + (c[1][1] - 1) ** 2)
        assert dip_penalty(covariance(posterior(), kind), 10.0, 100.0).item() == \
            pytest.approx(expected)
    # the paper's settings: λ_d = 10·λ_od for type i, λ_d = λ_od for type ii
    assert DIPVAE(kind="i", lambda_od=5.0).lambda_d == 50.0
    assert DIPVAE(kind="ii", lambda_od=5.0).lambda_d == 5.0
    assert DIPVAE(kind="ii", lambda_od=5.0, lambda_d=1.0).lambda_d == 1.0
    p = posterior()
    assert DIPVAE().kl_loss(p).item() == pytest.approx(p.kl.sum(1).mean().item())


def test_factor_vae_estimates_and_losses_match_a_hand_computation() -> None:
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.5], [-1.0, 1.0]])
    # E[log D/(1-D)] with D = softmax(logits)[0] = sigmoid(l0 - l1)
    d = [1 / (1 + math.exp(-(a - b))) for a, b in logits.tolist()]
    assert total_correlation(logits).item() == pytest.approx(
        sum(math.log(x / (1 - x)) for x in d) / 3, abs=1e-6)
    permuted_logits = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.2, -0.2]])
    d_perm = [1 / (1 + math.exp(-(a - b))) for a, b in permuted_logits.tolist()]
    expected = 0.5 * (-sum(math.log(x) for x in d) / 3 - sum(math.log(1 - x) for x in d_perm) / 3)
    assert discriminator_loss(logits, permuted_logits).item() == pytest.approx(expected,
                                                                               abs=1e-6)


@pytest.mark.parametrize(("warmup", "ramp", "epochs_done", "expected"), [
    (0.0, 0.0, 0.0, 10.0),     # the paper's constant γ
    (4.0, 0.0, 3.9, 0.0), (4.0, 0.0, 4.0, 10.0),
    (4.0, 8.0, 2.0, 0.0), (4.0, 8.0, 6.0, 2.5), (4.0, 8.0, 12.0, 10.0), (4.0, 8.0, 30.0, 10.0),
])
def test_factor_vae_gamma_is_held_then_ramped_like_the_linear_warmup(
        warmup: float, ramp: float, epochs_done: float, expected: float) -> None:
    objective = FactorVAE(gamma=10.0, d_hidden=8, d_layers=2, gamma_warmup_epochs=warmup,
                          gamma_ramp_epochs=ramp)
    assert objective.gamma_now(torch.tensor(epochs_done)).item() == pytest.approx(expected)
    # and the loss is γ(t)·TC at 6 of 20 epochs done (fraction 0.3): 10 · (6 - 4) / 8 = 2.5
    p = posterior()
    small = objective.networks(2)
    progress = Progress(torch.tensor(7), torch.tensor(61), torch.tensor(20.0), torch.tensor(0.3))
    p = Posterior(p.mu.float(), p.logvar.float(), p.z.float(), p.kl.float(), progress, p.data,
                  p.beta, small)
    tc = total_correlation(small["discriminator"](p.z)).item()
    scale = (6.0 - warmup) / ramp if ramp else 1.0  # by hand: 0.25 with the ramp, else 1
    assert objective.extra_loss(p).item() == pytest.approx(10.0 * scale * tc, abs=1e-6)


def test_permuting_dims_keeps_each_dimension_s_values_and_mixes_the_rows() -> None:
    torch.manual_seed(0)
    z = torch.arange(40.0).reshape(20, 2)
    permuted = permute_dims(z)
    for k in range(2):
        assert sorted(permuted[:, k].tolist()) == z[:, k].tolist()
    assert not torch.equal(permuted, z)
    # rows are no longer pairs of the original
    pairs = {tuple(row) for row in z.tolist()}
    assert sum(tuple(row) in pairs for row in permuted.tolist()) < 10


def test_factor_vae_discriminator_is_the_papers_mlp_and_the_vae_term_does_not_train_it() -> None:
    net = discriminator(10, 1000, 6)
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linears] == [1000] * 5 + [2] and len(linears) == 6
    objective = FactorVAE(gamma=10.0, d_hidden=8, d_layers=2)
    small = objective.networks(2)
    p = posterior()
    p = Posterior(p.mu.float(), p.logvar.float(), p.z.float().requires_grad_(), p.kl.float(),
                  p.progress, p.data, p.beta, small)
    objective.extra_loss(p).backward()
    assert p.z.grad is not None and p.z.grad.abs().sum() > 0  # reaches the encoder
    assert all(param.grad is None for param in small["discriminator"].parameters())
    objective.networks_loss(p).backward()
    assert all(param.grad is not None for param in small["discriminator"].parameters())
