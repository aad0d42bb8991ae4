"""What a run directory holds, and where, and how run directories are named: one place for
every path inside a run directory and every name of one."""

from __future__ import annotations

import re
import time
from pathlib import Path

from vaeframe.errors import VaeframeError

CONFIG_FILE = "config.toml"  # the resolved run file
SUMMARY_FILE = "summary.json"
DEFAULT_HISTORY_FILE = "metrics.jsonl"  # where summary.json names none (older runs)
CHECKPOINTS = "checkpoints"
CHECKPOINT_NAMES = ("best", "last")  # best held-out accuracy; the latest state
STAMP = "%Y%m%d-%H%M%S"  # a run directory is <name>-<stamp>[-N]; so is a sweep directory


def checkpoint_path(run_dir: Path, which: str = "last") -> Path:
    """``run_dir/checkpoints/{best,last}.pt``."""
    return Path(run_dir, CHECKPOINTS, f"{which}.pt")


def slug(text: str) -> str:
    """``text`` as a file or directory name: runs of other characters become ``_``."""
    return re.sub(r"[^A-Za-z0-9._=+-]+", "_", text)


def stamped(name: str) -> str:
    """``<name>-YYYYmmdd-HHMMSS`` for now."""
    return f"{name}-{time.strftime(STAMP)}"


def _stamp_pattern(name: str) -> re.Pattern[str]:
    return re.compile(re.escape(name) + r"-(\d{8}-\d{6})(?:-(\d+))?")


def dirs_named(directory: Path, name: str) -> list[Path]:
    """The directories ``<name>-YYYYmmdd-HHMMSS[-N]`` in ``directory``, oldest first."""
    pattern = _stamp_pattern(name)
    found = []
    for path in directory.iterdir() if directory.is_dir() else []:
        match = pattern.fullmatch(path.name)
        if match and path.is_dir():
            found.append(((match.group(1), int(match.group(2) or 0)), path))
    return [path for _, path in sorted(found)]


def create_run_dir(output_dir: str, name: str) -> Path:
    """A new directory ``output_dir/name-YYYYmmdd-HHMMSS[-N]``; never an existing one."""
    base = Path(output_dir)
    try:
        base.mkdir(parents=True, exist_ok=True)
        stamp = stamped(name)
        for attempt in range(1000):
            candidate = base / (stamp + (f"-{attempt}" if attempt else ""))
            try:
                candidate.mkdir()
                return candidate
            except FileExistsError:
                continue
    except OSError as exc:
        raise VaeframeError(f"run.output_dir = {output_dir!r}: cannot create a run directory "
                            f"there ({exc.strerror}); choose a writable directory") from None
    raise VaeframeError(f"run.output_dir = {output_dir!r}: too many runs named {name!r}")
