"""Built-in KL regularizers: plain KL, free bits and capacity annealing, and the
disentangling objectives β-TCVAE, FactorVAE and DIP-VAE, which read the whole posterior."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import attrs

from vaeframe import Progress, at_least, hookimpl, one_of
from vaeframe_regularizers.dip_vae import DIPVAE
from vaeframe_regularizers.factor_vae import FactorVAE
from vaeframe_regularizers.tcvae import BetaTCVAE

if TYPE_CHECKING:
    from torch import Tensor


@attrs.define
class NoRegularizer:
    """Plain KL: the sum over latent dimensions, averaged over the batch."""

    def kl_loss(self, kl: Tensor) -> Tensor:
        return kl.sum(dim=1).mean()

    def is_plain_kl(self) -> bool:
        return True


@attrs.define
class FreeBits:
    """Free bits: each dimension's KL counts as at least threshold nats (no gradient below it)."""

    floor_field: ClassVar[str] = "threshold"  # the floor it promises; what --free-bits sets

    threshold: float = attrs.field(default=0.5, validator=at_least(0.0))
    per: str = attrs.field(default="sample", validator=one_of("sample", "batch"))

    def kl_loss(self, kl: Tensor) -> Tensor:
        if self.threshold == 0:
            return kl.sum(dim=1).mean()
        if self.per == "sample":  # the seed's form: clamp each sample and dimension, then average
            return kl.clamp(min=self.threshold).sum(dim=1).mean()
        # Kingma et al. 2016: clamp each dimension's batch-mean KL
        return kl.mean(dim=0).clamp(min=self.threshold).sum()

    def is_plain_kl(self) -> bool:
        return self.threshold == 0


@attrs.define
class Capacity:
    """Capacity annealing (Burgess et al. 2018): γ·|KL − C(t)|, C rising from c_min to c_max.

    KL is the batch mean of the KL summed over dimensions. C grows linearly with the epochs
    done, from ``c_min`` at the start to ``c_max`` after ``c_epochs`` epochs (``0``: over the
    whole run), then stays. The paper's dSprites setting: γ = 1000, C from 0 to 25 nats.
    """

    gamma: float = attrs.field(default=1000.0, validator=at_least(0.0))
    c_min: float = attrs.field(default=0.0, validator=at_least(0.0))
    c_max: float = attrs.field(default=25.0, validator=at_least(0.0))
    c_epochs: float = attrs.field(default=0.0, validator=at_least(0.0))

    def capacity(self, progress: Progress) -> Tensor:
        """C(t) for the progress ``progress``, a 0-d tensor on its device."""
        span = progress.num_epochs if self.c_epochs == 0 else self.c_epochs
        share = (progress.epochs_done / span).clamp(max=1.0)
        return self.c_min + (self.c_max - self.c_min) * share

    def kl_loss(self, kl: Tensor, progress: Progress) -> Tensor:
        return self.gamma * (kl.sum(dim=1).mean() - self.capacity(progress)).abs()

    def monitor(self, progress: Progress) -> dict[str, Tensor]:
        return {"capacity": self.capacity(progress)}


@hookimpl
def register_kl_regularizers(register):
    register("none", NoRegularizer)
    register("free_bits", FreeBits)
    register("capacity", Capacity)
    register("beta_tcvae", BetaTCVAE)
    register("factor_vae", FactorVAE)
    register("dip_vae", DIPVAE)
