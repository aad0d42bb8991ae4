"""Command-line overrides of a parsed run file: the seed's flags and ``--set a.b=value``."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import attrs

from vaeframe.config.build import build_config
from vaeframe.config.schema import RunConfig
from vaeframe.config.tomlfile import TOMLDecodeError, loads_toml
from vaeframe.errors import ConfigError
from vaeframe.registry.declarations import floor_field
from vaeframe.registry.kinds import KINDS
from vaeframe.registry.manager import Registry


def parse_value(text: str) -> Any:
    """A TOML value (``3``, ``0.5``, ``true``, ``[1, 2]``, ``"x"``), else the text itself."""
    try:
        return loads_toml(f"value = {text}")["value"]
    except TOMLDecodeError:
        return text


def key_path(path: Sequence[str | int]) -> str:
    """``["loggers", 1, "mode"]`` → ``loggers.1.mode``: errors spell key paths as ``--set``
    takes them."""
    return ".".join(str(part) for part in path)


def registered_floor_field(registry: Registry, name: Any) -> str | None:
    """The floor field that the registered KL regularizer ``name`` declares, or ``None``."""
    component = registry.components["kl_regularizers"].get(name) if isinstance(name, str) else None
    return floor_field(component.cls) if component else None


def parse_path(key: str) -> list[str | int] | None:
    """``a.b`` → ``["a", "b"]``, list items by index (``loggers.0.mode``); ``None`` if malformed."""
    parts = key.strip().split(".")
    if not all(part.strip() for part in parts):
        return None
    return [int(p) if p.strip().isdigit() else p.strip() for p in parts]


def parse_assignment(expression: str) -> tuple[list[str | int], Any]:
    """``a.b=value`` → (``["a", "b"]``, value); list items by index: ``loggers.0.mode=x``."""
    key, sep, text = expression.partition("=")
    path = parse_path(key)
    if not sep or path is None:
        raise ConfigError(f"--set {expression}", "",
                          "expected KEY.PATH=VALUE, for example --set train.epochs=5")
    return path, parse_value(text.strip())


def set_path(raw: dict[str, Any], path: list[str | int], value: Any, flag: str) -> None:
    node: Any = raw
    for depth, part in enumerate(path[:-1]):
        here = ".".join(str(p) for p in path[: depth + 1])
        if isinstance(part, int):
            if not isinstance(node, list) or not -len(node) <= part < len(node):
                raise ConfigError(flag, here, "no such list item")
            node = node[part]
        else:
            if not isinstance(node, dict):
                raise ConfigError(flag, here, "is not a table")
            node = node.setdefault(part, {})
    last = path[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or not -len(node) <= last < len(node):
            raise ConfigError(flag, ".".join(map(str, path)), "no such list item")
    elif not isinstance(node, dict):
        raise ConfigError(flag, ".".join(map(str, path[:-1])), "is not a table")
    node[last] = value


@attrs.define
class Overridden:
    """A run file with the command line's overrides applied."""

    raw: dict[str, Any]
    switched: frozenset[str]  # component sections whose name an override changed
    flags: dict[str, str]  # key path -> the flag that set it, for error messages


def apply_overrides(raw: dict[str, Any], registry: Registry, *, sets: Sequence[str] = (),
                    beta_schedule: str | None = None, beta_max: float | None = None,
                    free_bits: float | None = None, epochs: int | None = None) -> Overridden:
    """A copy of ``raw`` with the overrides applied: the seed's flags first, then every
    ``--set`` in order.

    ``--free-bits X`` sets the floor of the run file's KL regularizer when it declares one
    (``floor_field``); otherwise it selects the kind's floor regularizer with that floor.
    """
    raw = copy.deepcopy(raw)
    switched: set[str] = set()
    flags: dict[str, str] = {}
    if beta_schedule is not None:
        schedule = raw.setdefault("schedule", {})
        if schedule.get("name", KINDS["schedules"].default) != beta_schedule:
            switched.add("schedule")
        schedule["name"] = beta_schedule
        flags["schedule.name"] = f"--beta-schedule {beta_schedule}"
    if beta_max is not None:
        raw.setdefault("schedule", {})["max_beta"] = beta_max
        flags["schedule.max_beta"] = f"--beta-max {beta_max:g}"
    if free_bits is not None:
        kl = raw.get("kl", {})
        flag = f"--free-bits {free_bits:g}"
        field = registered_floor_field(registry, kl.get("name", KINDS["kl_regularizers"].default))
        if field is None:
            kl = {"name": KINDS["kl_regularizers"].with_floor}
            field = registered_floor_field(registry, kl["name"])
            if field is None:
                raise ConfigError(flag, "kl", f"needs a KL regularizer with a floor; "
                                  f"{registry.unknown_message('kl_regularizers', kl['name'])}")
            flags["kl.name"] = flag
        raw["kl"] = {**kl, field: free_bits}
        flags[f"kl.{field}"] = flag
    if epochs is not None:
        raw.setdefault("train", {})["epochs"] = epochs
        flags["train.epochs"] = f"--epochs {epochs}"
    for expression in sets:
        path, value = parse_assignment(expression)
        set_path(raw, path, value, f"--set {expression}")
        flags[key_path(path)] = f"--set {expression}"
    return Overridden(raw, frozenset(switched), flags)


def configure(raw: dict[str, Any], registry: Registry, source: str, *,
              sets: Sequence[str] = (), beta_schedule: str | None = None,
              beta_max: float | None = None, free_bits: float | None = None,
              epochs: int | None = None) -> RunConfig:
    """A parsed run file with the command line's overrides applied, structured; errors at a
    key that a flag set name the flag."""
    overridden = apply_overrides(raw, registry, sets=sets, beta_schedule=beta_schedule,
                                 beta_max=beta_max, free_bits=free_bits, epochs=epochs)
    return build_config(overridden.raw, registry, source, overridden.switched, overridden.flags)
