"""Built-in model architectures: the seed's convolutional β-VAE, a residual variant and a
spatial broadcast decoder on a canvas.

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


MIN_CANVAS = 8  # three stride-2 convolutions leave at least one cell


def _canvas(_instance: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if not MIN_CANVAS <= value <= 30:
        raise ParameterError(attribute.name, f"must be from {MIN_CANVAS} to 30, got {value!r}")


@attrs.define
class Broadcast:
    """A convolutional encoder and a spatial broadcast decoder (Watters et al. 2019) that
    read and draw the top-left ``canvas`` × ``canvas`` cells; the rest is predicted as padding.

    On a dataset of small grids (arc-shapes with ``side = 16``: ``canvas = 16``) it spends
    no work on padding, and the decoder draws each cell from ``z`` and the cell's position,
    which favours latent dimensions of their own for position factors.
    """

    latent_dim: int = attrs.field(default=10, validator=at_least(1))
    canvas: int = attrs.field(default=30, validator=_canvas)  # ≥ the dataset's grid side
    channels: list[int] = attrs.field(factory=lambda: [32, 64, 128],
                                      validator=_three_channel_counts)
    decoder_channels: int = attrs.field(default=32, validator=at_least(1))
    decoder_layers: int = attrs.field(default=3, validator=at_least(1))
    group_norm: bool = True

    def build(self) -> nn.Module:
        from vaeframe_models.broadcast_net import BroadcastBetaVAE

        return BroadcastBetaVAE(self.latent_dim, self.canvas, tuple(self.channels),
                                self.decoder_channels, self.decoder_layers, self.group_norm)


@hookimpl
def register_models(register):
    register("conv", Conv)
    register("resconv", ResConv)
    register("broadcast", Broadcast)
