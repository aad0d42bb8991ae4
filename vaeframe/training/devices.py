"""What this machine offers a run: its devices and the CPUs this process may use.

Importing it does not import torch."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from vaeframe.errors import VaeframeError

if TYPE_CHECKING:
    import torch


DEVICE_CHOICES = "'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"


def resolve_device(name: str, source: str = "train.device") -> torch.device:
    """``auto`` is CUDA when present, else the CPU. A name that is not a device, or a device
    this machine lacks, is one error naming ``source`` (the key or flag it came from)."""
    import torch  # here, so that the CPU count is known without importing torch

    head, _, index = name.partition(":")
    if head not in ("auto", "cpu", "cuda", "mps") or (index and not (head == "cuda"
                                                                      and index.isdigit())):
        raise VaeframeError(f"{source} = {name!r} is not a device; use {DEVICE_CHOICES}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if head == "cuda" and not torch.cuda.is_available():
        raise VaeframeError(f"{source} = {name!r}, but no CUDA device is available; "
                            "use 'auto' or 'cpu'")
    if index and int(index) >= torch.cuda.device_count():
        raise VaeframeError(f"{source} = {name!r}, but this machine has "
                            f"{torch.cuda.device_count()} CUDA device(s), cuda:0 to "
                            f"cuda:{torch.cuda.device_count() - 1}")
    if head == "mps" and not torch.backends.mps.is_available():
        raise VaeframeError(f"{source} = 'mps', but MPS is not available; use 'auto' or 'cpu'")
    return torch.device(name)


def available_cpus() -> int:
    """The CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
