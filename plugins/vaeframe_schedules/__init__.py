"""Built-in β schedules: the seed's five, epochs 1-indexed."""

from __future__ import annotations

import attrs

from vaeframe import hookimpl
from vaeframe.validators import at_least


def _warmup_ramp(epoch: int, warmup: int, ramp: int, max_beta: float) -> float:
    if epoch <= warmup:
        return 0.0
    if epoch <= warmup + ramp:
        return (epoch - warmup) / ramp * max_beta
    return max_beta


@attrs.define
class LinearWarmup:
    """β = 0 for warmup_epochs, then a linear ramp to max_beta over ramp_epochs, then max_beta."""

    warmup_epochs: int = attrs.field(default=10, validator=at_least(0))
    ramp_epochs: int = attrs.field(default=50, validator=at_least(1))
    max_beta: float = attrs.field(default=0.5, validator=at_least(0.0))

    def beta(self, epoch: int, num_epochs: int) -> float:
        return _warmup_ramp(epoch, self.warmup_epochs, self.ramp_epochs, self.max_beta)


@attrs.define
class UltraConservative(LinearWarmup):
    """linear_warmup with the seed's gentle defaults: 20 epochs at 0, a 60-epoch ramp to 0.1."""

    warmup_epochs: int = attrs.field(default=20, validator=at_least(0))
    ramp_epochs: int = attrs.field(default=60, validator=at_least(1))
    max_beta: float = attrs.field(default=0.1, validator=at_least(0.0))


@attrs.define
class Aggressive(LinearWarmup):
    """No warm-up: β = epoch / ramp_epochs · max_beta up to ramp_epochs, then max_beta."""

    warmup_epochs: int = attrs.field(default=0, validator=at_least(0), init=False)
    ramp_epochs: int = attrs.field(default=10, validator=at_least(1))
    max_beta: float = attrs.field(default=0.5, validator=at_least(0.0))


@attrs.define
class Constant:
    """β = max_beta at every epoch."""

    max_beta: float = attrs.field(default=0.5, validator=at_least(0.0))

    def beta(self, epoch: int, num_epochs: int) -> float:
        return self.max_beta


@attrs.define
class Cyclical:
    """Triangle wave with period cycle_length: 0 at multiples of it, max_beta half-way between."""

    cycle_length: int = attrs.field(default=20, validator=at_least(2))
    max_beta: float = attrs.field(default=0.1, validator=at_least(0.0))

    def beta(self, epoch: int, num_epochs: int) -> float:
        position = epoch % self.cycle_length
        half = self.cycle_length / 2
        if position < half:
            return position / half * self.max_beta
        return (self.cycle_length - position) / half * self.max_beta

    def period(self, num_epochs: int) -> int:
        return self.cycle_length


@hookimpl
def register_schedules(register):
    register("linear_warmup", LinearWarmup)
    register("constant", Constant)
    register("aggressive", Aggressive)
    register("ultra_conservative", UltraConservative)
    register("cyclical", Cyclical)
