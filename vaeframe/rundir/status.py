"""The statuses a run ends in, as ``summary.json`` and ``Logger.close`` spell them."""

from __future__ import annotations

import enum


class RunStatus(str, enum.Enum):
    """A run's status; equal to its string (``RunStatus.FINISHED == "finished"``)."""

    FINISHED = "finished"
    INTERRUPTED = "interrupted"  # stopped by a signal after saving a checkpoint
    FAILED = "failed"
    UNKNOWN = "unknown"  # read back only: no summary.json (killed, or still running)

    def __str__(self) -> str:
        return self.value
