"""When a run writes its checkpoints: ``best.pt`` when the held-out figure improved,
``last.pt`` every ``checkpoint_every_n_epochs``, at the end and before a stop.

Every rank takes part in a save (RNG states are gathered); rank 0 hands the state to the
:class:`CheckpointWriter`, ``best.pt`` first, then ``last.pt``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from vaeframe.errors import VaeframeError
from vaeframe.rundir.checkpoint import load_checkpoint
from vaeframe.rundir.layout import checkpoint_path
from vaeframe.rundir.writer import CheckpointWriter
from vaeframe.training.clock import PhaseClock
from vaeframe.training.distributed import World


class CheckpointPolicy:
    """Saves ``state()`` into ``run_dir`` when due; the writes are timed as ``checkpoints``."""

    def __init__(self, run_dir: Path, state: Callable[[], dict[str, Any]], world: World,
                 clock: PhaseClock, every_n_epochs: int, num_epochs: int,
                 background: bool, on_failure: Callable[[], None] | None = None) -> None:
        self.run_dir = run_dir
        self.state = state
        self.world = world
        self.clock = clock
        self.every_n_epochs = every_n_epochs
        self.num_epochs = num_epochs
        self.writer = CheckpointWriter(background=background, on_failure=on_failure)

    def last_due(self, epoch: int, stopping: bool) -> bool:
        """Whether ``last.pt`` is written after ``epoch``."""
        return epoch % self.every_n_epochs == 0 or epoch == self.num_epochs or stopping

    def save(self, best: bool, last: bool = True) -> None:
        if not (best or last):  # every rank decides alike
            return
        state = self.state()
        if not self.world.is_main:
            return
        names = ["best"] * best + ["last"] * last
        with self.clock.phase("checkpoints"):  # the snapshot, and any wait for the last write
            self.writer.submit(state, [checkpoint_path(self.run_dir, name) for name in names])

    def flush(self) -> None:
        """Wait until every checkpoint is on disk."""
        with self.clock.phase("checkpoints"):
            self.writer.flush()

    def note(self) -> str:
        """Where the last good checkpoint is, for an error message."""
        self.flush()
        last = checkpoint_path(self.run_dir, "last")
        if not last.exists():
            return "there is no checkpoint yet"
        try:
            epoch: int | str = load_checkpoint(last)["epoch"]
        except VaeframeError:
            epoch = "?"
        return f"the last good checkpoint is {last} (epoch {epoch})"
