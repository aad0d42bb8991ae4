"""Cyclical annealing (Fu et al. 2019, "Cyclical Annealing Schedule", NAACL)."""

import math
from collections.abc import Callable
from typing import Any

import attrs

from vaeframe import ParameterError, at_least, greater_than, hookimpl, one_of


def _at_most_one(_instance: Any, attribute: "attrs.Attribute[Any]", value: float) -> None:
    if value > 1:
        raise ParameterError(attribute.name, f"must be <= 1, got {value!r}")


@attrs.define
class CyclicalAnnealing:
    """M cycles over the run: each ramps from 0 to max_beta for a share R, then holds it.

    Epoch t of T (1-indexed) sits at τ = ((t - 1) mod ⌈T / M⌉) / (T / M) in its cycle;
    β = max_beta · f(τ / R) while τ < R and max_beta after, with f(x) = x for the
    linear ramp and f(x) = (1 - cos πx) / 2 for the cosine ramp.
    """

    M: int = attrs.field(default=4, validator=at_least(1))
    R: float = attrs.field(default=0.5, validator=[greater_than(0.0), _at_most_one])
    max_beta: float = attrs.field(default=1.0, validator=at_least(0.0))
    ramp: str = attrs.field(default="linear", validator=one_of("linear", "cosine"))

    def beta(self, epoch: int, num_epochs: int) -> float:
        period = num_epochs / self.M
        tau = ((epoch - 1) % math.ceil(period)) / period
        if tau >= self.R:
            return self.max_beta
        progress = tau / self.R
        if self.ramp == "cosine":
            progress = (1 - math.cos(math.pi * progress)) / 2
        return self.max_beta * progress

    def period(self, num_epochs: int) -> int:
        """β repeats every ⌈T / M⌉ epochs."""
        return math.ceil(num_epochs / self.M)


@hookimpl
def register_schedules(register: Callable[[str, type], None]) -> None:
    register("cyclical_annealing", CyclicalAnnealing)
