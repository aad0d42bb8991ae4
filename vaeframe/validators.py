"""attrs validators for component parameters whose errors keep the parameter's name.

Use them on the fields of a component class::

    threshold: float = attrs.field(default=0.0, validator=at_least(0.0))

The run file reader turns a failure into ``file: kl.threshold: must be >= 0, got -1``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs


class ParameterError(ValueError):
    """A parameter value out of its range; ``field`` names the parameter."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def at_least(minimum: float) -> Validator:
    """Value must be >= ``minimum``."""

    def check(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value < minimum:
            raise ParameterError(attribute.name, f"must be >= {minimum}, got {value!r}")

    return check


def at_most(maximum: float, why: str = "") -> Validator:
    """Value must be <= ``maximum``; ``why`` says what the bound protects."""

    def check(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value > maximum:
            reason = f" ({why})" if why else ""
            raise ParameterError(attribute.name,
                                 f"must be <= {maximum:,}{reason}, got {value:,}")

    return check


def greater_than(bound: float) -> Validator:
    """Value must be > ``bound``."""

    def check(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not value > bound:
            raise ParameterError(attribute.name, f"must be > {bound}, got {value!r}")

    return check


def less_than(bound: float) -> Validator:
    """Value must be < ``bound``."""

    def check(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not value < bound:
            raise ParameterError(attribute.name, f"must be < {bound}, got {value!r}")

    return check


def one_of(*choices: Any) -> Validator:
    """Value must be one of ``choices``."""

    def check(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value not in choices:
            valid = ", ".join(repr(c) for c in choices)
            raise ParameterError(attribute.name, f"must be one of {valid}, got {value!r}")

    return check
