"""Built-in KL regularizers: plain KL and free bits."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from vaeframe import hookimpl
from vaeframe.validators import at_least, one_of

if TYPE_CHECKING:
    from torch import Tensor


@attrs.define
class NoRegularizer:
    """Plain KL: the sum over latent dimensions, averaged over the batch."""

    def kl_loss(self, kl: Tensor) -> Tensor:
        return kl.sum(dim=1).mean()


@attrs.define
class FreeBits:
    """Free bits: each dimension's KL counts as at least threshold nats (no gradient below it)."""

    threshold: float = attrs.field(default=0.5, validator=at_least(0.0))
    per: str = attrs.field(default="sample", validator=one_of("sample", "batch"))

    def kl_loss(self, kl: Tensor) -> Tensor:
        if self.threshold == 0:
            return kl.sum(dim=1).mean()
        if self.per == "sample":  # the seed's form: clamp each sample and dimension, then average
            return kl.clamp(min=self.threshold).sum(dim=1).mean()
        # Kingma et al. 2016: clamp each dimension's batch-mean KL
        return kl.mean(dim=0).clamp(min=self.threshold).sum()


@hookimpl
def register_kl_regularizers(register):
    register("none", NoRegularizer)
    register("free_bits", FreeBits)
