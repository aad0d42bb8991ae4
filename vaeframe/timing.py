"""Where a run's wall time goes: the phases of ``summary.json``'s ``time_s``.

The phases do not overlap: logging inside an epoch counts as ``loggers``, not ``train``, and
capturing CUDA graphs (or torch.compile's first call) counts as ``capture``.
"""

from __future__ import annotations

import time

# ``import vaeframe`` imports this module first: start-up counts from here. The interpreter's
# own start (tens of milliseconds) is not counted. /proc's process start time would count it,
# but a process keeps that time across exec: `bash -c 'pip install ...; vaeframe run ...'`
# would count all that bash did first.
IMPORTED_AT = time.perf_counter()

SETUP_PHASES = ("startup", "data", "setup")  # paid again by every process that resumes
LOOP_PHASES = ("capture", "evaluation", "checkpoints", "loggers", "disentanglement")
PHASES = SETUP_PHASES + LOOP_PHASES
