"""Free bits: the seed's per-sample clamp, the batch form, and threshold 0 = plain KL."""

from __future__ import annotations

import torch
from vaeframe_regularizers import FreeBits, NoRegularizer

KL = torch.tensor([[0.1, 0.5, 2.0], [0.4, 0.2, 1.0]])


def test_none_is_sum_over_dims_mean_over_batch() -> None:
    assert torch.equal(NoRegularizer().kl_loss(KL), KL.sum(1).mean())


def test_free_bits_clamps_each_sample_and_dimension_before_the_mean() -> None:
    clamped = torch.tensor([[0.3, 0.5, 2.0], [0.4, 0.3, 1.0]])
    assert torch.allclose(FreeBits(threshold=0.3).kl_loss(KL), clamped.sum(1).mean())


def test_free_bits_has_no_gradient_below_the_threshold() -> None:
    kl = KL.clone().requires_grad_(True)
    FreeBits(threshold=0.3).kl_loss(kl).backward()
    assert kl.grad is not None
    expected = torch.tensor([[0.0, 0.5, 0.5], [0.5, 0.0, 0.5]])  # 1/batch where above
    assert torch.equal(kl.grad, expected)


def test_batch_form_clamps_the_batch_mean() -> None:
    # batch means: 0.25, 0.35, 1.5 -> clamped at 0.3: 0.3, 0.35, 1.5
    assert torch.allclose(FreeBits(threshold=0.3, per="batch").kl_loss(KL),
                          torch.tensor(0.3 + 0.35 + 1.5))


def test_threshold_zero_is_bitwise_plain_kl_even_for_negative_terms() -> None:
    kl = torch.tensor([[-1e-7, 0.5], [0.25, -3e-8]])
    assert torch.equal(FreeBits(threshold=0.0).kl_loss(kl), NoRegularizer().kl_loss(kl))
