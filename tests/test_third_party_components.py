"""A third-party KL regularizer, logger and dataset, each from a plugin module loaded with -p,
used together in one short real run."""

from __future__ import annotations

import json

import pytest
import tomli_w
import tomllib
from conftest import CONFIGS, only_run_dir, read_jsonl, vaeframe, write_plugin

MODULES = {
    "kl_scaled": """
        import attrs
        from vaeframe import greater_than, hookimpl

        @attrs.define
        class Scaled:
            '''factor times the plain KL (summed over dimensions, batch mean).'''
            factor: float = attrs.field(default=2.0, validator=greater_than(0.0))

            def kl_loss(self, kl):
                return self.factor * kl.sum(1).mean()

        @hookimpl
        def register_kl_regularizers(register):
            register("scaled", Scaled)
    """,
    "recorder_logger": """
        import json
        import attrs
        from vaeframe import Logger, hookimpl

        @attrs.define
        class Recorder(Logger):
            '''Appends every call it receives to a JSON-lines file.'''
            path: str

            def _write(self, event, **fields):
                with open(self.path, "a") as handle:
                    handle.write(json.dumps({"event": event, **fields}) + "\\n")

            def open(self, run):
                self._write("open", name=run.name, run_dir=str(run.run_dir),
                            schedule=run.config["schedule"]["name"])

            def epoch_started(self, epoch, num_epochs, num_steps):
                self._write("epoch_started", epoch=epoch, num_epochs=num_epochs,
                            num_steps=num_steps)

            def log(self, metrics, step):
                self._write("log", step=step, metrics=dict(metrics))

            def close(self, summary, status):
                self._write("close", status=status, epochs=summary["epochs_completed"])

        @hookimpl
        def register_loggers(register):
            register("recorder", Recorder)
    """,
    "tiny_data": """
        import attrs
        import numpy as np
        from vaeframe import GridData, at_least, hookimpl

        @attrs.define
        class Tiny:
            '''num_train small striped grids, and half as many held out.'''
            num_train: int = attrs.field(default=8, validator=at_least(2))

            def load(self):
                grids = [np.full((3 + i % 4, 5), i % 10, dtype=np.int64)
                         for i in range(self.num_train + self.num_train // 2)]
                return GridData(train=grids[: self.num_train],
                                heldout=grids[self.num_train :], description="tiny stripes")

        @hookimpl
        def register_datasets(register):
            register("tiny", Tiny)
    """,
}
PLUGIN_ARGS = ["-p", "kl_scaled", "-p", "recorder_logger", "-p", "tiny_data"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One two-epoch run that uses all three components."""
    root = tmp_path_factory.mktemp("third_party")
    plugins = root / "plugins"
    plugins.mkdir()
    for name, source in MODULES.items():
        write_plugin(plugins, name, source)
    config = tomllib.loads((CONFIGS / "smoke.toml").read_text())
    config["run"]["output_dir"] = str(root / "runs")
    config["data"] = {"name": "tiny", "num_train": 8}
    config["train"].update(epochs=2, batch_size=4, log_every_n_steps=1)
    config["schedule"] = {"name": "constant", "max_beta": 0.5}
    config["kl"] = {"name": "scaled", "factor": 3.0}
    config["loggers"] = [{"name": "recorder", "path": str(root / "record.jsonl")},
                         {"name": "jsonl"}]
    run_file = root / "run.toml"
    run_file.write_text(tomli_w.dumps(config))

    result = vaeframe(*PLUGIN_ARGS, "run", run_file, PYTHONPATH=str(plugins))
    assert result.returncode == 0, result.stderr
    run_dir = only_run_dir(root / "runs")
    listing = json.loads(vaeframe("list-plugins", "--json", *PLUGIN_ARGS,
                                  PYTHONPATH=str(plugins)).stdout)
    return {
        "run_dir": run_dir,
        "rows": read_jsonl(run_dir / "metrics.jsonl"),
        "record": read_jsonl(root / "record.jsonl"),
        "summary": json.loads((run_dir / "summary.json").read_text()),
        "listing": listing,
    }


def listed(run: dict, kind: str, name: str) -> dict:
    return next(e for e in run["listing"][kind] if e["name"] == name)


def test_third_party_kl_regularizer_sets_the_kl_term(run: dict) -> None:
    entry = listed(run, "kl_regularizers", "scaled")
    assert (entry["module"], entry["package"]) == ("kl_scaled", None)
    step_rows = [r for r in run["rows"] if "train/loss" in r]
    assert len(step_rows) == 4  # 8 grids in batches of 4, two epochs, every step logged
    for row in step_rows:
        assert row["train/kl_loss"] == pytest.approx(3.0 * row["train/kl_raw"], rel=1e-5)
        assert row["train/loss"] == pytest.approx(
            row["train/recon_loss"] + 0.5 * row["train/kl_loss"], rel=1e-5)


def test_third_party_logger_receives_every_call(run: dict) -> None:
    assert listed(run, "loggers", "recorder")["parameters"] == [
        {"name": "path", "type": "str", "default": None, "required": True}]
    record = run["record"]
    assert record[0] == {"event": "open", "name": "smoke", "run_dir": str(run["run_dir"]),
                         "schedule": "constant"}
    assert [(e["epoch"], e["num_epochs"], e["num_steps"]) for e in record
            if e["event"] == "epoch_started"] == [(1, 2, 2), (2, 2, 2)]
    logged = [{"step": e["step"], **e["metrics"]} for e in record if e["event"] == "log"]
    assert logged == run["rows"]  # exactly what the built-in jsonl logger wrote
    assert record[-1] == {"event": "close", "status": "finished", "epochs": 2}


def test_third_party_dataset_is_trained_on(run: dict) -> None:
    assert listed(run, "datasets", "tiny")["parameters"][0]["default"] == 8
    assert run["summary"]["status"] == "finished"
    assert run["summary"]["dataset"] == {"name": "tiny", "description": "tiny stripes",
                                         "train_grids": 8, "heldout_grids": 4,
                                         "heldout_identical_to_train": 0}
