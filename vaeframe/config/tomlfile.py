"""Reading TOML: the standard library's ``tomllib`` (Python 3.11+) or ``tomli`` before it,
and run files, whose syntax errors name the file, line and column."""

from __future__ import annotations

import sys
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
