"""What this machine offers a run: its devices and the CPUs this process may use.

Importing it does not import torch."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from vaeframe.errors import VaeframeError

if TYPE_CHECKING:
    import torch


def resolve_device(name: str) -> torch.device:
    """``auto`` is CUDA when present, else the CPU; a device that is absent is an error."""
    import torch  # here, so that the CPU count is known without importing torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise VaeframeError(f"train.device = {name!r}, but no CUDA device is available; "
                            "use 'auto' or 'cpu'")
    if name == "mps" and not torch.backends.mps.is_available():
        raise VaeframeError("train.device = 'mps', but MPS is not available; use 'auto' or 'cpu'")
    return torch.device(name)


def available_cpus() -> int:
    """The CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
