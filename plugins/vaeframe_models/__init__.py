"""Built-in model architectures: the seed's convolutional β-VAE and a residual variant.

Each component's fields are the architecture's hyper-parameters; ``build()`` imports torch
and returns the module (see the ``register_models`` hook for the contract).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from vaeframe import ParameterError, at_least, hookimpl

if TYPE_CHECKING:
    from torch import nn


def _three_channel_counts(_instance: Any, attribute: attrs.Attribute[Any], value: list[int]
                          ) -> None:
    if len(value) != 3 or min(value) < 1:
        raise ParameterError(attribute.name,
                             f"must be three positive channel counts, got {value!r}")


@attrs.define
class Conv:
    """Strided convolutions 30→15→8→4, a Gaussian latent and a mirrored transposed decoder."""

    latent_dim: int = attrs.field(default=10, validator=at_least(1))
    channels: list[int] = attrs.field(factory=lambda: [32, 64, 128],
                                      validator=_three_channel_counts)
    group_norm: bool = False  # GroupNorm after every hidden convolution

    def build(self) -> nn.Module:
        from vaeframe_models.conv_net import ConvBetaVAE

        return ConvBetaVAE(self.latent_dim, tuple(self.channels), self.group_norm)


@attrs.define
class ResConv:
    """Residual blocks at every size (30→15→8→4 and back), coordinate planes in and out."""

    latent_dim: int = attrs.field(default=10, validator=at_least(1))
    channels: list[int] = attrs.field(factory=lambda: [32, 64, 128],
                                      validator=_three_channel_counts)
    blocks: int = attrs.field(default=1, validator=at_least(0))
    coordinates: bool = True

    def build(self) -> nn.Module:
        from vaeframe_models.resconv_net import ResConvBetaVAE

        return ResConvBetaVAE(self.latent_dim, tuple(self.channels), self.blocks,
                              self.coordinates)


@hookimpl
def register_models(register):
    register("conv", Conv)
    register("resconv", ResConv)
