"""A resumed run's history file trimmed back to its checkpoint: the one helper every logger
that keeps a history of rows uses (the jsonl logger does; a CSV logger can)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def trim_history(path: Path, step: int, step_of: Callable[[str], int]) -> str | None:
    """Keep the lines of ``path`` whose step (``step_of(line)``) is at most ``step``, the
    checkpoint's; a last line ``step_of`` cannot read (raises ``ValueError`` or ``KeyError``)
    is what a kill during a write leaves, and is dropped too. The file is replaced
    atomically. Returns one sentence saying what was dropped, or ``None``.

    ``step_of`` of a line before the last that cannot be read is not caught: that file was
    not torn by a kill, and the caller's error names it."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines(keepends=True)
             if line.strip()]
    torn = False
    kept: list[str] = []
    for index, line in enumerate(lines):
        try:
            line_step = step_of(line)
        except (ValueError, KeyError):
            if index < len(lines) - 1:
                raise
            torn = True
            break
        if line_step <= step:
            kept.append(line if line.endswith("\n") else line + "\n")
    if len(kept) == len(lines):
        return None
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text("".join(kept), encoding="utf-8")
    temporary.replace(path)
    dropped = len(lines) - len(kept) - torn
    parts = ([f"{dropped} row(s) past the checkpoint (step {step})"] if dropped else []) + (
        ["a torn last line"] if torn else [])
    return f"{path.name}: dropped {' and '.join(parts)}"
