"""What a run directory holds, and where: one place for every path inside it."""

from __future__ import annotations

import re
from pathlib import Path

CONFIG_FILE = "config.toml"  # the resolved run file
SUMMARY_FILE = "summary.json"
DEFAULT_HISTORY_FILE = "metrics.jsonl"  # where summary.json names none (older runs)
CHECKPOINTS = "checkpoints"
CHECKPOINT_NAMES = ("best", "last")  # best held-out accuracy; the latest state


def checkpoint_path(run_dir: Path, which: str = "last") -> Path:
    """``run_dir/checkpoints/{best,last}.pt``."""
    return Path(run_dir, CHECKPOINTS, f"{which}.pt")


def slug(text: str) -> str:
    """``text`` as a file or directory name: runs of other characters become ``_``."""
    return re.sub(r"[^A-Za-z0-9._=+-]+", "_", text)
