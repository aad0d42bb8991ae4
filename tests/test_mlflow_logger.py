"""The mlflow logger, read back with MLflow's own client from the local store it made.

Every run here goes into one output directory, so into one store, as a user's runs do; each
test names its run. That runs without the logger never import mlflow is tested in
test_tensorboard_logger.py, for both packages.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
import tomllib
from conftest import CONFIGS, read_jsonl
from test_run_file_errors import assert_clear_error
from tracker_runs import (
    KL_PER_DIM,
    LONG,
    expected_series,
    hidden,
    in_epoch,
    run,
    start,
    wait_for_rows,
)
from vaeframe_loggers.flat import run_file_params

from vaeframe.rundir.checkpoint import load_checkpoint

LOGGERS = '[{name="jsonl"},{name="mlflow"}]'
# SQLAlchemy 2.1 warns about a loader MLflow's SQL store uses; a run never shows it
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")


def run_dir_named(output: Path, name: str) -> Path:
    (run_dir,) = (path.parent for path in output.glob(f"{name}-*/config.toml"))
    return run_dir


def store(output: Path) -> Any:
    """MLflow's client on the store the runs made in ``output`` (imported here, in a test,
    where MLflow sees pytest and sends no telemetry)."""
    from mlflow.tracking import MlflowClient

    assert (output / ".mlflow" / "mlflow.db").is_file()
    return MlflowClient(f"sqlite:///{output / '.mlflow' / 'mlflow.db'}")


def run_id(run_dir: Path) -> str:
    return (run_dir / "mlflow-run-id.txt").read_text().strip()


def histories(client: Any, run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every metric's full history, in step order (a step logged twice shows twice)."""
    identifier = run_id(run_dir)
    return {key: [(m.step, m.value) for m in sorted(client.get_metric_history(identifier, key),
                                                   key=lambda m: (m.step, m.timestamp))]
            for key in client.get_run(identifier).data.metrics}


def assert_matches_metrics_jsonl(client: Any, run_dir: Path) -> None:
    """Every figure of metrics.jsonl, at every step, once, with the same value."""
    expected = expected_series(run_dir)
    assert set(KL_PER_DIM) <= set(expected)
    assert histories(client, run_dir) == expected


def interrupt(output: Path, name: str, signum: int, epoch: int = 2, *args: str) -> Path:
    """A LONG run called ``name``, sent ``signum`` once it trains in ``epoch``."""
    process = start(output, LOGGERS, *LONG, *args, "--set", f"run.name={name}")
    run_dir = wait_for_rows(output, process, in_epoch(epoch), name)
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    # vaeframe exits 128 + N after a signal it handles; SIGKILL ends the process at once
    assert process.returncode == (-signum if signum == signal.SIGKILL else 128 + signum), err
    return run_dir


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output directory of every run in this module; the first, ``finished``, is a brief
    run started in that directory."""
    output = tmp_path_factory.mktemp("mlflow") / "runs"
    process = start(output, LOGGERS, "--set", "run.name=finished")
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert err == "", "MLflow printed to the console"
    return output


def test_metrics_are_the_figures_of_metrics_jsonl(output: Path) -> None:
    assert_matches_metrics_jsonl(store(output), run_dir_named(output, "finished"))


def test_params_artifacts_and_status(output: Path, tmp_path: Path) -> None:
    run_dir = run_dir_named(output, "finished")
    client = store(output)
    mlflow_run = client.get_run(run_id(run_dir))
    assert mlflow_run.info.status == "FINISHED"
    assert mlflow_run.info.run_name == run_dir.name
    assert client.get_experiment(mlflow_run.info.experiment_id).name == "vaeframe"
    assert mlflow_run.data.tags["vaeframe.run_dir"] == str(run_dir.resolve())

    config = (run_dir / "config.toml").read_text()
    params = mlflow_run.data.params
    assert params == {k: str(v) for k, v in run_file_params(tomllib.loads(config)).items()}
    assert (params["optimizer.lr"], params["model.channels"], params["loggers.1.name"]) == (
        "0.001", "[8, 16, 16]", "mlflow")

    assert mlflow_run.info.artifact_uri == (
        output / ".mlflow" / "artifacts" / mlflow_run.info.run_id / "artifacts"
    ).resolve().as_uri()
    assert sorted(a.path for a in client.list_artifacts(mlflow_run.info.run_id)) == [
        "config.toml", "summary.json"]
    local = Path(client.download_artifacts(mlflow_run.info.run_id, "", str(tmp_path)))
    assert (local / "config.toml").read_text() == config
    assert json.loads((local / "summary.json").read_text()) == json.loads(
        (run_dir / "summary.json").read_text())
    # the runs started in the output directory, and MLflow wrote nothing else there
    run_dirs = {path.parent.name for path in output.glob("*/config.toml")}
    assert {path.name for path in output.iterdir()} - run_dirs == {".mlflow"}
    assert sorted(p.name for p in (output / ".mlflow").iterdir()) == [
        "artifacts", "mlflow.db", "mlflow.db.lock"]


@pytest.mark.slow
def test_ctrl_c_then_resume_continues_the_same_mlflow_run(output: Path) -> None:
    run_dir = interrupt(output, "ctrl_c", signal.SIGINT)
    client = store(output)
    identifier = run_id(run_dir)
    assert client.get_run(identifier).info.status == "KILLED"
    assert_matches_metrics_jsonl(client, run_dir)
    before = read_jsonl(run_dir / "metrics.jsonl")
    checkpoint_step = int(load_checkpoint(run_dir / "checkpoints" / "last.pt")["step"])

    resumed = run(output, "run", "--resume", run_dir, "--epochs", "4")  # longer: a new param
    assert resumed.returncode == 0, resumed.stderr
    assert run_id(run_dir) == identifier
    mlflow_run = client.get_run(identifier)
    assert [r.info.run_id for r in client.search_runs([mlflow_run.info.experiment_id])
            if r.data.tags["vaeframe.run_dir"] == str(run_dir.resolve())] == [identifier]
    assert mlflow_run.info.status == "FINISHED"
    assert mlflow_run.data.params["train.epochs"] == "3"  # MLflow keeps a param's first value
    assert mlflow_run.data.tags["resumed.train.epochs"] == "4"
    assert mlflow_run.data.tags["vaeframe.resumed_at_step"] == str(checkpoint_step)
    assert read_jsonl(run_dir / "metrics.jsonl")[:len(before)] == before
    assert_matches_metrics_jsonl(client, run_dir)


@pytest.mark.slow
def test_kill_then_resume_leaves_one_value_per_step(output: Path) -> None:
    """SIGKILL in epoch 4 of a run that checkpoints every 2 epochs: MLflow got the rows up to
    the checkpoint (epoch 2), none after, so the resumed run's rows are the only ones past it."""
    run_dir = interrupt(output, "killed", signal.SIGKILL, 4, "--epochs", "5",
                        "--set", "train.checkpoint_every_n_epochs=2")
    checkpoint = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    checkpoint_step = int(checkpoint["step"])
    assert int(checkpoint["epoch"]) == 2
    assert max(r["step"] for r in read_jsonl(run_dir / "metrics.jsonl")) > checkpoint_step
    client = store(output)
    assert client.get_run(run_id(run_dir)).info.status == "RUNNING"  # never told it ended
    assert histories(client, run_dir) == expected_series(run_dir, up_to=checkpoint_step)

    resumed = run(output, "run", "--resume", run_dir)
    assert resumed.returncode == 0, resumed.stderr
    assert client.get_run(run_id(run_dir)).info.status == "FINISHED"
    assert_matches_metrics_jsonl(client, run_dir)


@pytest.mark.slow
def test_runs_in_parallel_share_a_new_store(tmp_path: Path) -> None:
    """Points of ``vaeframe sweep --jobs`` start together: one makes the store, all log."""
    output = tmp_path / "runs"
    processes = [start(output, LOGGERS, "--epochs", "1", "--set", f"run.name=point{i}")
                 for i in range(3)]
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    client = store(output)
    for i in range(3):
        run_dir = run_dir_named(output, f"point{i}")
        assert client.get_run(run_id(run_dir)).info.status == "FINISHED"
        assert_matches_metrics_jsonl(client, run_dir)


def test_listed_with_its_fields(tmp_path: Path) -> None:
    result = run(tmp_path, "list-plugins", "--json")
    assert result.returncode == 0, result.stderr
    entry = next(e for e in json.loads(result.stdout)["loggers"] if e["name"] == "mlflow")
    assert [(p["name"], p["default"]) for p in entry["parameters"]] == [
        ("tracking_uri", ""), ("experiment", "vaeframe"), ("run_name", "")]
    assert entry["description"].startswith("MLflow")


@pytest.mark.parametrize("package", ["mlflow", "sqlalchemy"])
def test_without_its_packages_the_error_says_how_to_install_them(tmp_path: Path,
                                                                  package: str) -> None:
    result = hidden(package, "run", str(CONFIGS / "smoke.toml"), "--set",
                    f"run.output_dir={tmp_path}", "--set", f"loggers={LOGGERS}", cwd=tmp_path)
    assert_clear_error(result)
    assert result.stderr == (f"error: the mlflow logger needs the {package} package: "
                             "pip install 'vaeframe[mlflow]'\n")


@pytest.mark.parametrize(("logger", "env", "source"), [
    ('{name="mlflow",tracking_uri="nonsense://x"}', {}, "tracking_uri"),
    ('{name="mlflow"}', {"MLFLOW_TRACKING_URI": "nonsense://x"}, "MLFLOW_TRACKING_URI"),
])
def test_an_unsupported_tracking_uri_names_where_it_came_from(
        tmp_path: Path, logger: str, env: dict[str, str], source: str) -> None:
    result = run(tmp_path, "run", CONFIGS / "smoke.toml", "--set",
                 f"run.output_dir={tmp_path}", "--set", f"loggers=[{logger}]", **env)
    assert_clear_error(result, f"mlflow logger, {source} 'nonsense://x'",
                       "unsupported URI 'nonsense://x'")
    assert not (tmp_path / ".mlflow").exists(), "a local store was made all the same"
