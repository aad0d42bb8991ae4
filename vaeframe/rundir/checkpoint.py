"""Checkpoints written atomically and read back with ``weights_only=True``."""

from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch

from vaeframe.errors import VaeframeError
from vaeframe.rundir.files import write_failure

FORMAT = 1  # the layout of a checkpoint's dictionary; raised when a reader must change


def mismatch(exc: BaseException) -> str:
    """The telling line of a failed ``load_state_dict``: torch's first line only says
    "Error(s) in loading state_dict for X:", the next one names the tensor and its shapes."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith("Error(s) in loading state_dict"):
        return lines[1]
    return lines[0] if lines else type(exc).__name__


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Write ``state`` to ``path`` through a temporary file, fsync and rename; a failed
    write is a :class:`WriteError` and leaves the previous file at ``path`` as it was."""
    tmp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                                        dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except (OSError, RuntimeError) as exc:  # torch.save reports a short write as RuntimeError
        error = write_failure(path, exc)  # before the temporary file frees the space
        if tmp_name is not None:
            Path(tmp_name).unlink(missing_ok=True)
        raise error from None
    except BaseException:
        if tmp_name is not None:
            Path(tmp_name).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by a process killed mid-save
        stale.unlink(missing_ok=True)


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`; bad files give a clear error."""
    if not path.is_file():
        raise VaeframeError(f"{path}: no checkpoint there")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise VaeframeError(f"{path}: not a readable vaeframe checkpoint (corrupt, truncated "
                            f"or from another program): {first_line}") from None
    if not isinstance(state, dict) or "model" not in state or "epoch" not in state:
        raise VaeframeError(f"{path}: not a vaeframe checkpoint (no model state or epoch)")
    written = state.get("format", FORMAT)  # checkpoints of vaeframe 0.1.0 carry no format
    if not isinstance(written, int) or written > FORMAT:
        raise VaeframeError(f"{path}: written by vaeframe {state.get('vaeframe_version', '?')} "
                            f"in checkpoint format {written!r}; this vaeframe reads format "
                            f"{FORMAT} and older: upgrade vaeframe to read it")
    return state
