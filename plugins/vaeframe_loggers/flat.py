"""Nested run files and summaries as flat tables, for trackers that want one level of keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Scalar = str | int | float | bool


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"final": {"beta": 0.1}}`` → ``{"final/beta": 0.1}``; lists and scalars stay whole."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{path}/"))
        else:
            flat[path] = value
    return flat


def run_file_params(config: Mapping[str, Any], prefix: str = "") -> dict[str, Scalar]:
    """The resolved run file keyed as ``--set`` writes keys: ``optimizer.lr``, ``loggers.0.name``.

    Arrays of tables are numbered; other arrays become their text, ``[8, 16, 16]``.
    """
    flat: dict[str, Scalar] = {}
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(run_file_params(value, f"{path}."))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            for index, table in enumerate(value):
                flat.update(run_file_params(table, f"{path}.{index}."))
        elif isinstance(value, (str, int, float, bool)):
            flat[path] = value
        else:
            flat[path] = str(value)
    return flat


def numbers(data: Mapping[str, Any]) -> dict[str, float]:
    """The entries of ``data`` that are numbers (not flags), as floats."""
    return {key: float(value) for key, value in data.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)}
