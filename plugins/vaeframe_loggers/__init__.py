"""Built-in loggers: a rich console progress display, a metrics.jsonl writer, W&B,
TensorBoard and MLflow."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import attrs

from vaeframe import Logger, RunInfo, VaeframeError, hookimpl, trim_history
from vaeframe_loggers.mlflow_logger import MlflowLogger
from vaeframe_loggers.tensorboard_logger import TensorboardLogger
from vaeframe_loggers.wandb_logger import WandbLogger


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _count(value: float | None) -> str:
    return "-" if value is None else str(int(value))


@attrs.define
class ConsoleLogger(Logger):
    """Rich progress bar with live β, loss, KL and accuracy, and one line per epoch."""

    progress: bool = True

    _console: Any = attrs.field(init=False, default=None)
    _bar: Any = attrs.field(init=False, default=None)
    _task: Any = attrs.field(init=False, default=None)
    _accuracy: str = attrs.field(init=False, default="-")

    def open(self, run: RunInfo) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._console = Console(stderr=True)
        action = f"resuming at step {run.resume_step}" if run.resumed else "run"
        self._console.print(f"[bold]vaeframe[/] {action} [cyan]{run.name}[/] → {run.run_dir}")
        if self.progress:
            self._bar = Progress(
                TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("β={task.fields[beta]} loss={task.fields[loss]} "
                           "KL={task.fields[kl]} acc={task.fields[acc]}"),
                TimeElapsedColumn(), TimeRemainingColumn(),
                console=self._console, transient=False,
            )
            self._bar.start()

    def epoch_started(self, epoch: int, num_epochs: int, num_steps: int) -> None:
        if self._bar is None:
            return
        fields = {"epoch": f"{epoch}/{num_epochs}"}
        if self._task is None:
            self._task = self._bar.add_task("train", total=num_epochs * num_steps, beta="-",
                                            loss="-", kl="-", acc="-", **fields)
        else:
            self._bar.update(self._task, **fields)

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        if "epoch/loss" in metrics:
            self._epoch_line(metrics)
        if self._bar is None or self._task is None:
            return
        loss = metrics.get("train/loss", metrics.get("epoch/loss"))
        kl = metrics.get("train/kl_raw", metrics.get("epoch/kl_raw"))
        beta = metrics.get("train/beta", metrics.get("beta"))
        self._bar.update(self._task, completed=step, beta=f"{beta:.3f}",
                         loss=f"{loss:.2f}", kl=f"{kl:.2f}", acc=self._accuracy)

    def _epoch_line(self, m: Mapping[str, float]) -> None:
        """One line per epoch; accuracies only on the epochs that evaluated them."""
        measured = ""
        if "train/nonblack_acc" in m:
            self._accuracy = (f"{_percent(m['train/nonblack_acc'])}/"
                              f"{_percent(m['heldout/nonblack_acc'])}")
            measured = f" non-black acc train/held-out={self._accuracy}"
        units = f" AU {int(m['active_units'])}" if "active_units" in m else ""
        rate = f" lr={m['lr']:.3g}" if "lr" in m else ""
        self._console.print(
            f"epoch {int(m['epoch'])}: β={m['beta']:.4f}{rate} loss={m['epoch/loss']:.3f} "
            f"recon={m['epoch/recon_loss']:.3f} KL={m['epoch/kl_raw']:.3f} "
            f"KL/dim min={m['epoch/kl_per_dim/min']:.3f} max={m['epoch/kl_per_dim/max']:.3f}"
            f"{measured}{units}")

    def close(self, summary: Mapping[str, Any], status: str) -> None:
        if self._bar is not None:
            self._bar.stop()
        if self._console is None:
            return
        final = summary.get("final") or {}
        self._console.print(
            f"[bold]{status}[/] after {summary.get('epochs_completed', 0)} epochs in "
            f"{summary.get('wall_time_s', 0):.1f} s: non-black accuracy train "
            f"{_percent(final.get('train_nonblack_acc'))}, held-out "
            f"{_percent(final.get('heldout_nonblack_acc'))}, active units "
            f"{_count(final.get('active_units'))} → {summary.get('run_dir')}")
        phases = [f"{phase} {seconds:.1f} s" for phase, seconds in
                  (summary.get("time_s") or {}).items() if seconds >= 0.05]
        if phases:
            self._console.print("where the time went: " + ", ".join(phases), highlight=False)
        criteria = summary.get("criteria") or []
        if criteria:
            from rich.markup import escape

            self._console.print("[bold]success criteria[/] "
                                "(docs/specification.md#success-criteria):")
        for item in criteria:
            style = {True: "green", False: "red"}.get(item["passed"], "dim")
            mark, _, rest = item["text"].partition(" ")
            self._console.print(f"  [{style}]{mark}[/] {escape(rest)}", highlight=False)


@attrs.define
class JsonlLogger(Logger):
    """Writes every logged row to metrics.jsonl in the run directory, one JSON object a line."""

    filename: str = "metrics.jsonl"

    _handle: IO[str] | None = attrs.field(init=False, default=None)

    def history_file(self) -> str:
        """The run's history as JSON lines, relative to the run directory (for reports)."""
        return self.filename

    def open(self, run: RunInfo) -> None:
        path = Path(run.run_dir, self.filename)
        if run.resumed and path.exists():
            try:
                note = trim_history(path, run.resume_step, lambda line: json.loads(line)["step"])
            except (ValueError, KeyError) as exc:
                raise VaeframeError(f"{path}: a row before the last is not a JSON row with a "
                                    f"step ({exc}); the history cannot be trimmed to the "
                                    "checkpoint") from None
            if note:
                print(f"note: {note}", file=sys.stderr)
        self._handle = path.open("a", encoding="utf-8")

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        assert self._handle is not None, "log() before open()"
        self._handle.write(json.dumps({"step": step, **metrics}) + "\n")
        self._handle.flush()

    def close(self, summary: Mapping[str, Any], status: str) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


@hookimpl
def register_loggers(register):
    register("console", ConsoleLogger)
    register("jsonl", JsonlLogger)
    register("wandb", WandbLogger)
    register("tensorboard", TensorboardLogger)
    register("mlflow", MlflowLogger)
