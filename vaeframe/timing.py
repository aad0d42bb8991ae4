"""Where a run's wall time goes: the phases of ``summary.json``'s ``time_s``.

The phases do not overlap: logging inside an epoch counts as ``loggers``, not ``train``, and
capturing CUDA graphs (or torch.compile's first call) counts as ``capture``.
"""

from __future__ import annotations

import os
import time

SETUP_PHASES = ("startup", "data", "setup")  # paid again by every process that resumes
LOOP_PHASES = ("capture", "evaluation", "checkpoints", "loggers", "disentanglement")
PHASES = SETUP_PHASES + LOOP_PHASES


def process_age() -> float:
    """Seconds since this process started (Linux, from /proc; elsewhere since the first
    import of vaeframe.timing)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            fields = stat.read().rpartition(")")[2].split()
        with open("/proc/uptime", encoding="ascii") as uptime:
            up = float(uptime.read().split()[0])
        return max(0.0, up - int(fields[19]) / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - _IMPORTED


_IMPORTED = time.perf_counter()
