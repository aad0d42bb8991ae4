"""A schedule plugin installed as its own distribution, for vaeframe's tests."""

import attrs

from vaeframe import at_least, hookimpl


@attrs.define
class Step:
    """β = 0 before epoch `at`, max_beta from it on."""

    at: int = attrs.field(default=5, validator=at_least(1))
    max_beta: float = attrs.field(default=0.2, validator=at_least(0.0))

    def beta(self, epoch: int, num_epochs: int) -> float:
        return self.max_beta if epoch >= self.at else 0.0


@hookimpl
def register_schedules(register):
    register("test_step", Step)
