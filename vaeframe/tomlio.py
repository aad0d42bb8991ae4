"""Reading TOML: the standard library's ``tomllib`` (Python 3.11+) or ``tomli`` before it."""

from __future__ import annotations

import sys
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TOMLDecodeError = tomllib.TOMLDecodeError


def loads_toml(text: str) -> dict[str, Any]:
    """Parse TOML text; raises :data:`TOMLDecodeError`."""
    return tomllib.loads(text)
