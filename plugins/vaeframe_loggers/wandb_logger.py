"""The Weights & Biases logger. ``wandb`` is imported only when a run uses it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from vaeframe import Logger, ParameterError, RunInfo, VaeframeError, one_of
from vaeframe_loggers.flat import flatten

MODES = ("online", "offline", "disabled")
RUN_ID_FILE = "wandb-run-id.txt"
EXIT_CODES = {"finished": 0, "failed": 1, "interrupted": 130}


def default_mode() -> str:
    """``WANDB_MODE`` when set, else ``offline``: a run never waits on a login prompt."""
    return os.environ.get("WANDB_MODE", "offline")


def _check_mode(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    try:
        one_of(*MODES)(instance, attribute, value)
    except ParameterError as exc:
        if os.environ.get("WANDB_MODE") == value:
            exc = ParameterError(attribute.name, f"{exc.message} (from the environment "
                                 "variable WANDB_MODE: fix it, or set mode in the run file)")
        raise exc from None


def _strings(_instance: Any, attribute: attrs.Attribute[Any], value: list[str]) -> None:
    if any(not isinstance(tag, str) or not tag for tag in value):
        raise ParameterError(attribute.name, f"must be non-empty strings, got {value!r}")


@attrs.define
class WandbLogger(Logger):
    """Weights & Biases: the run file as config, every metric, the summary (offline by default).

    Empty strings mean "not set": ``run_name`` is then the run's name, ``dir`` the run
    directory. (``name`` in the run file is ``"wandb"``, the logger's own name.)
    """

    project: str = "vaeframe"
    entity: str = ""
    group: str = ""
    tags: list[str] = attrs.field(factory=list, validator=_strings)
    run_name: str = ""
    mode: str = attrs.field(factory=default_mode, validator=_check_mode)
    dir: str = ""

    _run: Any = attrs.field(init=False, default=None)

    def open(self, run: RunInfo) -> None:
        try:
            import wandb
        except ImportError:
            raise VaeframeError("the wandb logger needs the wandb package: "
                                "pip install 'vaeframe[wandb]'") from None
        id_file = Path(run.run_dir, RUN_ID_FILE)
        resume_id = id_file.read_text().strip() if run.resumed and id_file.exists() else None
        directory = Path(self.dir or run.run_dir)
        directory.mkdir(parents=True, exist_ok=True)
        try:
            self._run = wandb.init(
                project=self.project, entity=self.entity or None, group=self.group or None,
                tags=list(self.tags) or None, name=self.run_name or run.name, mode=self.mode,
                dir=str(directory), config=dict(run.config), id=resume_id,
                resume="allow" if resume_id else None,
                settings=wandb.Settings(silent=True, console="off"),
            )
        except wandb.Error as exc:
            raise VaeframeError(f"wandb logger, mode {self.mode!r}: {exc}") from None
        if self.mode != "disabled":
            id_file.write_text(self._run.id + "\n", encoding="utf-8")

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        assert self._run is not None, "log() before open()"
        self._run.log(dict(metrics), step=step)

    def close(self, summary: Mapping[str, Any], status: str) -> None:
        if self._run is None:
            return
        run, self._run = self._run, None
        run.summary.update(flatten(summary))
        run.finish(exit_code=EXIT_CODES.get(status, 1))
