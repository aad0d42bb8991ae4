"""The MLflow logger. ``mlflow`` is imported only when a run uses it."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import tomli_w

from vaeframe import Logger, RunInfo, VaeframeError
from vaeframe_loggers.flat import run_file_params
from vaeframe_loggers.mlflow_store import choose_store, opening
from vaeframe_loggers.repeats import RepeatFilter

INSTALL_HINT = "the mlflow logger needs the {package} package: pip install 'vaeframe[mlflow]'"
RUN_ID_FILE = "mlflow-run-id.txt"
STATUSES = {"finished": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}
PARAMS_PER_CALL, METRICS_PER_CALL = 100, 1000  # MLflow's limits for one log_batch


def missing(exc: ImportError) -> VaeframeError:
    """The install hint, naming the package that could not be imported."""
    return VaeframeError(INSTALL_HINT.format(package=(exc.name or "mlflow").partition(".")[0]))


def checkpoint_every(config: Mapping[str, Any]) -> int:
    """Every how many epochs the run saves the checkpoint a resume starts from."""
    every = (config.get("train") or {}).get("checkpoint_every_n_epochs", 1)
    return every if isinstance(every, int) and every >= 1 else 1


def _batches(items: list[Any], size: int = PARAMS_PER_CALL) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


@attrs.define
class MlflowLogger(Logger):
    """MLflow: the run file as params, every metric at its step, summary and config as artifacts.

    ``tracking_uri`` empty means ``$MLFLOW_TRACKING_URI`` if set, else a local store in the
    output directory: ``.mlflow/mlflow.db`` (SQLite) and ``.mlflow/artifacts/``.
    ``run_name`` empty means the run directory's name. Rows are sent when an epoch starts
    after a checkpoint (``train.checkpoint_every_n_epochs``) and at the end, so a run killed
    hard leaves nothing past its checkpoint in MLflow for the resumed run to log again.
    """

    tracking_uri: str = ""
    experiment: str = "vaeframe"
    run_name: str = ""

    _client: Any = attrs.field(init=False, default=None)
    _run_id: str = attrs.field(init=False, default="")
    _repeats: RepeatFilter = attrs.field(init=False, factory=RepeatFilter)
    _pending: list[Any] = attrs.field(init=False, factory=list)  # metrics not yet sent
    _checkpoint_every: int = attrs.field(init=False, default=1)

    def open(self, run: RunInfo) -> None:
        try:
            from mlflow.exceptions import MlflowException
            from mlflow.tracking import MlflowClient
        except ImportError as exc:
            raise missing(exc) from None
        logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)  # table set-up
        store = choose_store(self.tracking_uri, run.run_dir)
        if store.uri.startswith("sqlite:"):
            try:  # without them MLflow drops its SQL stores and calls the URI unsupported
                import alembic  # noqa: F401
                import sqlalchemy  # noqa: F401
            except ImportError as exc:
                raise missing(exc) from None
        id_file = Path(run.run_dir, RUN_ID_FILE)
        self._checkpoint_every = checkpoint_every(run.config)
        try:
            with opening(store):
                self._client = MlflowClient(store.uri)
            if run.resumed and id_file.exists():
                self._run_id = id_file.read_text(encoding="utf-8").strip()
                self._continue(run)
            else:
                self._run_id = self._create(run, store.artifacts)
                id_file.write_text(self._run_id + "\n", encoding="utf-8")
            self._client.log_text(self._run_id, tomli_w.dumps(dict(run.config)), "config.toml")
        except ImportError as exc:
            raise missing(exc) from None
        except (MlflowException, OSError) as exc:
            message = exc.message.strip() if isinstance(exc, MlflowException) else str(exc)
            raise VaeframeError(f"mlflow logger, {store.source} {store.uri!r}: {message}"
                                ) from None

    def _create(self, run: RunInfo, artifacts: Path | None) -> str:
        from mlflow.entities import Param
        from mlflow.exceptions import MlflowException

        client = self._client
        found = client.get_experiment_by_name(self.experiment)
        if found is None:
            try:
                experiment_id = client.create_experiment(
                    self.experiment, artifact_location=artifacts and artifacts.as_uri())
            except MlflowException:  # made meanwhile by a run in parallel
                experiment_id = client.get_experiment_by_name(self.experiment).experiment_id
        else:
            experiment_id = found.experiment_id
        created = client.create_run(experiment_id, run_name=self.run_name or run.run_dir.name,
                                    tags={"vaeframe.run_dir": str(Path(run.run_dir).resolve())})
        params = [Param(key, str(value)) for key, value in run_file_params(run.config).items()]
        for batch in _batches(params):
            client.log_batch(created.info.run_id, params=batch)
        return created.info.run_id

    def _continue(self, run: RunInfo) -> None:
        """Reopen the MLflow run; params are fixed in MLflow, so changed ones become tags."""
        from mlflow.entities import Param, RunTag
        from mlflow.exceptions import MlflowException

        client = self._client
        try:
            logged = client.get_run(self._run_id).data.params
        except MlflowException as exc:
            raise VaeframeError(
                f"mlflow logger: cannot continue MLflow run {self._run_id} (named in "
                f"{Path(run.run_dir, RUN_ID_FILE)}): {exc.message.strip()}; point tracking_uri "
                "at the store that holds it, or delete that file to start a new MLflow run"
            ) from None
        params = {key: str(value) for key, value in run_file_params(run.config).items()}
        new = [Param(k, v) for k, v in params.items() if k not in logged]
        changed = [RunTag(f"resumed.{k}", v) for k, v in params.items()
                   if k in logged and logged[k] != v]
        for batch in _batches(new):
            client.log_batch(self._run_id, params=batch)
        client.log_batch(self._run_id, tags=[*changed,
                                             RunTag("vaeframe.resumed_at_step",
                                                    str(run.resume_step))])
        client.update_run(self._run_id, status="RUNNING")

    def epoch_started(self, epoch: int, num_epochs: int, num_steps: int) -> None:
        if (epoch - 1) % self._checkpoint_every == 0:  # the epoch before saved a checkpoint
            self._send()

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        from mlflow.entities import Metric

        assert self._client is not None, "log() before open()"
        now = int(time.time() * 1000)
        self._pending.extend(Metric(key, value, now, step)
                             for key, value in self._repeats.new(metrics, step).items())

    def _send(self) -> None:
        """One SQL transaction per batch, not per row: a row alone costs tens of ms."""
        for batch in _batches(self._pending, METRICS_PER_CALL):
            self._client.log_batch(self._run_id, metrics=batch)
        self._pending.clear()

    def close(self, summary: Mapping[str, Any], status: str) -> None:
        if self._client is None:
            return
        self._send()
        client, self._client = self._client, None
        client.log_dict(self._run_id, dict(summary), "summary.json")
        client.set_terminated(self._run_id, status=STATUSES.get(status, "FAILED"))
