"""Reading TOML: the standard library's ``tomllib`` (Python 3.11+) or ``tomli`` before it,
and run files, whose syntax errors name the file, line and column."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vaeframe.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TOMLDecodeError = tomllib.TOMLDecodeError


def loads_toml(text: str) -> dict[str, Any]:
    """Parse TOML text; raises :data:`TOMLDecodeError`."""
    return tomllib.loads(text)


def parse_toml(path: Path) -> dict[str, Any]:
    """Read a run file; syntax errors name the file, line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read run file: {exc.strerror}") from None
    try:
        return loads_toml(text)
    except TOMLDecodeError as exc:
        raise ConfigError(str(path), "", f"invalid TOML: {exc}") from None


def toml_value(value: Any) -> str:
    """``value`` as a TOML inline value (``10.0``, ``"batch"``, ``[8, 16]``, ``{ a = 1 }``), as
    a run file spells it: for notes and ``sweep --list``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{key} = {toml_value(item)}"
                                for key, item in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return repr(value)
