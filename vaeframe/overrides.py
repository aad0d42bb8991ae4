"""Command-line overrides of a parsed run file: the seed's flags and ``--set a.b=value``."""

from __future__ import annotations

import copy
import sys
from typing import Any

from vaeframe.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def parse_value(text: str) -> Any:
    """A TOML value (``3``, ``0.5``, ``true``, ``[1, 2]``, ``"x"``), else the text itself."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


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


def apply_overrides(raw: dict[str, Any], *, sets: list[str] = (), beta_schedule: str | None = None,
                    beta_max: float | None = None, free_bits: float | None = None,
                    epochs: int | None = None) -> tuple[dict[str, Any], frozenset[str]]:
    """A copy of ``raw`` with the overrides applied, and the component sections switched by name.

    The seed's flags come first, then every ``--set`` in order.
    """
    raw = copy.deepcopy(raw)
    switched: set[str] = set()
    if beta_schedule is not None:
        schedule = raw.setdefault("schedule", {})
        if schedule.get("name") != beta_schedule:
            switched.add("schedule")
        schedule["name"] = beta_schedule
    if beta_max is not None:
        raw.setdefault("schedule", {"name": "linear_warmup"})["max_beta"] = beta_max
    if free_bits is not None:
        kl = raw.get("kl", {})
        if kl.get("name") != "free_bits":
            kl = {"name": "free_bits"}
        raw["kl"] = {**kl, "threshold": free_bits}
    if epochs is not None:
        raw.setdefault("train", {})["epochs"] = epochs
    for expression in sets:
        path, value = parse_assignment(expression)
        set_path(raw, path, value, f"--set {expression}")
    return raw, frozenset(switched)
