"""What components say about themselves, read in one place.

The success criteria, the command-line overrides and the report never test a component's
name: they read these declarations, so a third-party component is treated like a built-in.

- a schedule's ``period(num_epochs)``: after how many epochs β repeats;
- a KL regularizer's ``floor_field``: the field holding the per-dimension KL floor it keeps;
- a KL regularizer's ``is_plain_kl()``: whether ``kl_loss`` is exactly the plain KL;
- a KL regularizer's ``kl_loss(kl, progress)``: a second parameter asks for the progress.
"""

from __future__ import annotations

import inspect
from typing import Any

import attrs

from vaeframe.registry.calls import call_plugin


@attrs.frozen
class Declared:
    """A run's declarations, as summary.json stores them under ``declared``."""

    beta_period: int | None = None
    kl_floor: float | None = None
    plain_kl: bool = False

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Declared:
        if not isinstance(data, dict):
            return cls()
        return cls(**{k: data[k] for k in ("beta_period", "kl_floor", "plain_kl") if k in data})


def _ask(component: Any, method: str, *args: Any) -> Any:
    """``component``'s optional declaration ``method(*args)``, or ``None`` if it has none."""
    if not callable(getattr(component.params, method, None)):
        return None
    return call_plugin(component, method, *args)


def floor_field(regularizer_class: type) -> str | None:
    """The field holding the per-dimension KL floor a regularizer class declares, or ``None``."""
    field = getattr(regularizer_class, "floor_field", None)
    return field if isinstance(field, str) else None


def objective_problem(name: str, cls: type) -> str | None:
    """Why a KL regularizer class cannot be used: its floor declaration, or networks without
    a loss to train them; ``None`` if it can."""
    if callable(getattr(cls, "networks", None)) and not callable(getattr(cls, "networks_loss",
                                                                          None)):
        return (f"KL regularizer '{name}' ({cls.__qualname__}) defines networks() but no "
                "networks_loss(posterior), which trains them (see the register_kl_regularizers "
                "hook)")
    return floor_problem(name, cls)


def floor_problem(name: str, cls: type) -> str | None:
    """Why a KL regularizer class's floor declaration cannot be read, or ``None``."""
    field = getattr(cls, "floor_field", None)
    fields = {f.name for f in attrs.fields(cls) if f.init}
    if field is None and hasattr(cls, "kl_floor"):
        return (f"KL regularizer '{name}' ({cls.__qualname__}) defines kl_floor, which vaeframe "
                "does not read; declare the field that holds its floor instead, e.g. "
                "floor_field: ClassVar[str] = \"threshold\" (see the register_kl_regularizers "
                "hook)")
    if field is not None and (not isinstance(field, str) or field not in fields):
        return (f"KL regularizer '{name}' ({cls.__qualname__}) declares floor_field = "
                f"{field!r}, which is not one of its fields "
                f"({', '.join(sorted(fields)) or 'it has none'})")
    return None


def kl_floor(regularizer: Any) -> float | None:
    """The per-dimension KL floor a regularizer component declares, or ``None``."""
    field = floor_field(type(regularizer.params))
    return None if field is None else float(getattr(regularizer.params, field))


def declarations(schedule: Any, regularizer: Any, num_epochs: int) -> Declared:
    """What the run's schedule and KL regularizer components declare."""
    period = _ask(schedule, "period", num_epochs)
    return Declared(beta_period=None if period is None else int(period),
                    kl_floor=kl_floor(regularizer),
                    plain_kl=bool(_ask(regularizer, "is_plain_kl")))


#: how a KL regularizer's ``kl_loss`` is called: ``kl_loss(kl)``, ``kl_loss(kl, progress)``, or
#: (contract v3) ``kl_loss(posterior)``
KL_ONLY, WITH_PROGRESS, WITH_POSTERIOR = "kl", "kl, progress", "posterior"


def kl_loss_style(method: Any) -> str:
    """How ``kl_loss`` wants to be called: its one parameter is named ``posterior`` or
    annotated ``Posterior`` (:data:`WITH_POSTERIOR`), or it takes a second argument, the
    progress (:data:`WITH_PROGRESS`), or the KL alone (:data:`KL_ONLY`)."""
    try:
        parameters = list(inspect.signature(method).parameters.values())
    except (TypeError, ValueError):
        return KL_ONLY
    if parameters and (parameters[0].name == "posterior" or "Posterior" in str(
            parameters[0].annotation)):
        return WITH_POSTERIOR
    return WITH_PROGRESS if takes_progress(method) else KL_ONLY


def has_networks(regularizer: Any) -> bool:
    """Whether a KL regularizer (an objective) trains networks of its own."""
    return callable(getattr(regularizer.params, "networks", None))


def takes_progress(method: Any) -> bool:
    """Whether a bound method such as ``kl_loss`` takes a second argument, the progress."""
    try:
        parameters = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY,
                                                      p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in parameters)
