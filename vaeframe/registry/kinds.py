"""The kinds of component: each one's hook, its section of a run file, its default and the
methods a component of it must have. A new kind is one record here, a hook in
:mod:`vaeframe.registry.hookspecs` and the code that uses it."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from vaeframe.registry.declarations import objective_problem


@attrs.frozen
class Kind:
    """One kind of component: its hook, its place in a run file and what it must provide."""

    name: str  # registry key, e.g. "schedules"
    hook: str  # the hook that registers such components
    label: str  # singular, for messages
    section: str  # the run-file section that selects one ("loggers": an array of tables)
    default: str | None  # the component used when the run file has no such section
    required: tuple[str, ...] = ()  # methods a component class must have
    many: bool = False  # an array of tables rather than one table
    with_floor: str | None = None  # what --free-bits selects where the run file has no floor
    defaults: tuple[str, ...] = ()  # with many: the components used when the run file has none
    #: (name, class) -> why the class cannot be registered, or None; run where it registers
    check: Callable[[str, type], str | None] | None = None


#: Every kind of component, in the order of a run file. A new kind is one entry here, a hook
#: in :mod:`vaeframe.registry.hookspecs` and the code that uses it.
KINDS: dict[str, Kind] = {kind.name: kind for kind in (
    Kind("datasets", "register_datasets", "dataset", "data", "arc-agi-1", ("load",)),
    Kind("transforms", "register_transforms", "transform", "transforms", None, ("apply",),
         many=True),
    Kind("models", "register_models", "model", "model", "conv", ("build",)),
    Kind("losses", "register_losses", "reconstruction loss", "loss", "focal", ("loss",)),
    Kind("schedules", "register_schedules", "schedule", "schedule", "linear_warmup", ("beta",)),
    Kind("kl_regularizers", "register_kl_regularizers", "KL regularizer", "kl", "none",
         ("kl_loss",), with_floor="free_bits", check=objective_problem),
    Kind("optimizers", "register_optimizers", "optimizer", "optimizer", "adam", ("build",)),
    Kind("lr_schedules", "register_lr_schedules", "learning-rate schedule", "lr_schedule",
         "constant", ("lr",)),
    Kind("loggers", "register_loggers", "logger", "loggers", None,
         ("open", "epoch_started", "log", "close"), many=True, defaults=("console", "jsonl")),
)}
