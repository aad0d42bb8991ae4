"""SIGINT / SIGTERM: the first asks training to stop after the current step, a second exits."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import Any


class Interrupted(Exception):
    """Training stopped on a signal after saving a checkpoint."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"stopped by signal {signum}")


class SignalCatcher:
    """While active, SIGINT and SIGTERM go to ``_handle`` (in the main thread; a no-op
    elsewhere, where Python cannot install handlers); the previous handlers come back after."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> SignalCatcher:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        raise NotImplementedError


class StopRequest(SignalCatcher):
    """While active, remembers the first SIGINT or SIGTERM; a second one raises at once.
    :meth:`fail` asks for a stop from another thread (a checkpoint write that failed)."""

    failed: bool = False

    @property
    def requested(self) -> bool:
        return self.signum is not None or self.failed

    def fail(self) -> None:
        """Stop after the current step, as a signal would; the stop's checkpoint then raises
        the failure that asked for it."""
        self.failed = True

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        name = signal.Signals(signum).name
        print(f"\n{name}: stopping after the current step and saving a checkpoint "
              "(send it again to exit at once)", file=sys.stderr, flush=True)
