"""Writing the run directory's small files; a failed write is one :class:`WriteError`."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from vaeframe.errors import WRITE_ERRNOS, WriteError

FULL_BELOW = 1 << 20  # bytes free under which a failed write is blamed on a full disk


def write_failure(path: Path, exc: BaseException) -> WriteError:
    """One error for a failed write of ``path``: what went wrong and what to do."""
    code = getattr(exc, "errno", None)
    try:
        usage = os.statvfs(path.parent if path.parent.exists() else ".")
        full = usage.f_bavail * usage.f_frsize < FULL_BELOW
    except OSError:
        full = False
    if code is None and full:  # torch.save's short write carries no errno
        code = errno.ENOSPC
    if code in WRITE_ERRNOS:
        reason = WRITE_ERRNOS[code]
    else:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        reason = f"{type(exc).__name__}: {first}"
    return WriteError(f"{path}: could not write it: {reason}")


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (UTF-8); an ``OSError`` becomes a :class:`WriteError`."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise write_failure(path, exc) from None
