"""A sigmoid warm-up: a complete vaeframe schedule plugin."""

import math
from collections.abc import Callable

import attrs

from vaeframe import at_least, greater_than, hookimpl


@attrs.define
class SigmoidWarmup:
    """β follows a logistic curve from 0 to max_beta, reaching max_beta / 2 at midpoint."""

    max_beta: float = attrs.field(default=0.1, validator=at_least(0.0))
    midpoint: float = attrs.field(default=10.0, validator=at_least(0.0))
    steepness: float = attrs.field(default=0.5, validator=greater_than(0.0))

    def beta(self, epoch: int, num_epochs: int) -> float:
        # the logistic 1 / (1 + e^-x) written with tanh, which cannot overflow
        return self.max_beta * (1 + math.tanh(self.steepness * (epoch - self.midpoint) / 2)) / 2


@hookimpl
def register_schedules(register: Callable[[str, type], None]) -> None:
    register("sigmoid_warmup", SigmoidWarmup)
