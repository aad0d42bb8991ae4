"""torch's Adam, AdamW and SGD with their parameters as run-file fields."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import attrs

from vaeframe.validators import at_least, at_most, greater_than


def _betas(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    from vaeframe.validators import ParameterError

    if len(value) != 2 or not all(0.0 <= b < 1.0 for b in value):
        raise ParameterError(attribute.name, f"must be two numbers in [0, 1), got {value!r}")


@attrs.define
class Adam:
    """Adam (Kingma & Ba 2015), L2 weight decay added to the gradient; fused on CUDA."""

    lr: float = attrs.field(default=1e-3, validator=greater_than(0.0))
    weight_decay: float = attrs.field(default=0.0, validator=at_least(0.0))
    betas: list[float] = attrs.field(factory=lambda: [0.9, 0.999], validator=_betas)
    eps: float = attrs.field(default=1e-8, validator=greater_than(0.0))

    def build(self, parameters: Iterable[Any], device: Any, capturable: bool) -> Any:
        import torch

        optimizer = torch.optim.AdamW if self.decoupled else torch.optim.Adam
        return optimizer(parameters, lr=self.lr, betas=tuple(self.betas), eps=self.eps,
                         weight_decay=self.weight_decay, fused=device.type == "cuda" or None,
                         capturable=capturable)

    decoupled: ClassVar[bool] = False  # torch's AdamW: weight decay apart from the gradient


@attrs.define
class AdamW(Adam):
    """AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay; fused on CUDA."""

    weight_decay: float = attrs.field(default=1e-2, validator=at_least(0.0))
    decoupled: ClassVar[bool] = True


@attrs.define
class SGD:
    """Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay."""

    lr: float = attrs.field(default=1e-2, validator=greater_than(0.0))
    momentum: float = attrs.field(default=0.9, validator=[at_least(0.0), at_most(1.0)])
    nesterov: bool = False
    weight_decay: float = attrs.field(default=0.0, validator=at_least(0.0))
    dampening: float = attrs.field(default=0.0, validator=[at_least(0.0), at_most(1.0)])

    def __attrs_post_init__(self) -> None:
        from vaeframe.validators import ParameterError

        if self.nesterov and (self.momentum == 0.0 or self.dampening != 0.0):
            raise ParameterError("nesterov", "needs momentum > 0 and dampening = 0, got "
                                 f"momentum = {self.momentum}, dampening = {self.dampening}")

    def build(self, parameters: Iterable[Any], device: Any, capturable: bool) -> Any:
        import torch

        if capturable:
            raise ValueError("torch's SGD has no capturable mode, so a CUDA graph cannot "
                             "replay its step; use adam or adamw with train.compile = "
                             "\"graph\", or compile = \"off\" with sgd")
        return torch.optim.SGD(parameters, lr=self.lr, momentum=self.momentum,
                               dampening=self.dampening, weight_decay=self.weight_decay,
                               nesterov=self.nesterov, fused=device.type == "cuda" or None)
