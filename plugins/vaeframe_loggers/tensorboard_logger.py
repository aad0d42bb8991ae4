"""The TensorBoard logger. ``tensorboard`` is imported only when a run uses it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import tomli_w

from vaeframe import Logger, RunInfo, VaeframeError
from vaeframe_loggers.flat import flatten, numbers, run_file_params
from vaeframe_loggers.repeats import RepeatFilter

INSTALL_HINT = ("the tensorboard logger needs the tensorboard package: "
                "pip install 'vaeframe[tensorboard]'")


def as_code(text: str) -> str:
    """``text`` as a Markdown code block, the way TensorBoard's text tab shows it verbatim."""
    return "\n".join("    " + line for line in text.splitlines())


@attrs.define
class TensorboardLogger(Logger):
    """TensorBoard event files: every metric, the run file as text, final figures as hparams.

    ``log_dir`` empty means the run directory; otherwise each run writes into
    ``log_dir/<run directory's name>``. A resumed run purges the steps after its checkpoint.
    """

    log_dir: str = ""

    _writer: Any = attrs.field(init=False, default=None)
    _repeats: RepeatFilter = attrs.field(init=False, factory=RepeatFilter)
    _params: dict[str, Any] = attrs.field(init=False, factory=dict)
    _step: int = attrs.field(init=False, default=0)

    def open(self, run: RunInfo) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            if (exc.name or "").partition(".")[0] == "tensorboard":
                raise VaeframeError(INSTALL_HINT) from None
            raise VaeframeError(f"the tensorboard logger cannot import tensorboard: {exc}"
                                ) from None
        directory = Path(self.log_dir, run.run_dir.name) if self.log_dir else Path(run.run_dir)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise VaeframeError(f"tensorboard logger, log_dir = {self.log_dir!r}: cannot create "
                                f"{directory} ({exc.strerror})") from None
        # a resumed run's first event tells readers to drop every step after the checkpoint
        purge_step = run.resume_step + 1 if run.resumed else None
        self._writer = SummaryWriter(str(directory), purge_step=purge_step)
        self._step = run.resume_step
        self._params = run_file_params(run.config)
        self._writer.add_text("config", as_code(tomli_w.dumps(dict(run.config))), self._step)
        self._writer.flush()

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        assert self._writer is not None, "log() before open()"
        for key, value in self._repeats.new(metrics, step).items():
            self._writer.add_scalar(key, value, step)
        self._writer.flush()  # on disk for a live TensorBoard, and kept if the process dies
        self._step = step

    def close(self, summary: Mapping[str, Any], status: str) -> None:
        if self._writer is None:
            return
        from torch.utils.tensorboard.summary import hparams

        writer, self._writer = self._writer, None
        step = int(summary.get("steps", self._step))
        final = {f"final/{key}": value
                 for key, value in numbers(flatten(summary.get("final") or {})).items()}
        for key, value in final.items():
            writer.add_scalar(key, value, step)
        writer.add_text("summary", as_code(json.dumps(summary, indent=2)), step)
        for record in hparams(self._params, final):
            writer.file_writer.add_summary(record, step)
        writer.close()
