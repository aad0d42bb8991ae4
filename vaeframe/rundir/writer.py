"""Checkpoints written on a thread of their own, so training does not wait for the disk.

A state is snapshot on the training thread (tensors copied to the CPU, containers copied),
then written by one background thread with :func:`save_checkpoint` (temporary file, fsync,
rename). At most one write is in flight: the next :meth:`CheckpointWriter.submit` and
:meth:`CheckpointWriter.flush` wait for it and re-raise its error, so no write is lost or
reordered; a failed write calls ``on_failure`` (the run's stop request: training stops after
the step in flight) and is raised by the next submit or flush.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from vaeframe.rundir.checkpoint import save_checkpoint


def snapshot(value: Any) -> Any:
    """A copy of ``value`` that later training steps cannot change: tensors on the CPU."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {key: snapshot(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(snapshot(item) for item in value)
    return value


class CheckpointWriter:
    """Writes snapshots of states to their paths, one write at a time, off the caller's thread.

    ``background=False`` writes on the caller's thread (the same files, the same order).
    """

    def __init__(self, background: bool = True,
                 on_failure: Callable[[], None] | None = None) -> None:
        self.background = background
        self.on_failure = on_failure  # called on the writing thread when a write fails
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def submit(self, state: dict[str, Any], paths: Sequence[Path]) -> None:
        self.flush()
        copy = snapshot(state)
        if self.background:
            self._thread = threading.Thread(target=self._write, args=(copy, list(paths)),
                                            name="vaeframe-checkpoint", daemon=False)
            self._thread.start()
        else:
            for path in paths:
                save_checkpoint(copy, path)

    def _write(self, state: dict[str, Any], paths: list[Path]) -> None:
        try:
            for path in paths:
                save_checkpoint(state, path)
        except BaseException as exc:  # re-raised on the training thread by flush()
            self._error = exc
            if self.on_failure is not None:
                self.on_failure()

    def flush(self) -> None:
        """Wait for the write in flight; raise its error, if it failed."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error
