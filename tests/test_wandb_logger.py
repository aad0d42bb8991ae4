"""The wandb logger, offline, read back from wandb's own record stream (no mocks, no network)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomllib
import wandb_records
from conftest import CONFIGS, VAEFRAME, cli_env, only_run_dir, read_jsonl
from test_run_file_errors import assert_clear_error
from vaeframe_loggers.wandb_logger import WandbLogger, flatten

LOGGERS = '[{name="jsonl"},{name="wandb",mode="offline",tags=["smoke","test"]}]'
PER_DIM = [f"train/kl_per_dim/{k}" for k in ("dim_0", "dim_1", "dim_2", "dim_3", "min", "max",
                                               "mean")]


def offline_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No API key, and a W&B server address that refuses connections: nothing can go out."""
    env = cli_env(WANDB_BASE_URL="http://127.0.0.1:9", WANDB_CONFIG_DIR=str(tmp_path / "cfg"),
                  WANDB_CACHE_DIR=str(tmp_path / "cache"), WANDB_DATA_DIR=str(tmp_path / "data"),
                  **extra)
    env.pop("WANDB_API_KEY", None)
    return env


def start(tmp_path: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    """``vaeframe run configs/smoke.toml`` in its own process group, as a terminal starts it."""
    command = [str(VAEFRAME), "run", str(CONFIGS / "smoke.toml"),
               "--set", f"run.output_dir={tmp_path / 'runs'}", *args]
    return subprocess.Popen(command, env=offline_env(tmp_path, **env), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)


def cli(tmp_path: Path, *args: str | Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(VAEFRAME), *map(str, args)], capture_output=True, text=True,
                          env=offline_env(tmp_path, **env), timeout=120)


def wandb_file(run_dir: Path) -> Path:
    (found,) = run_dir.glob("wandb/offline-run-*/run-*.wandb")
    return found


def final_summary(path: Path) -> dict:
    merged: dict = {}
    for summary in wandb_records.of_type(path, "summary"):
        merged.update(wandb_records.items(summary.update))
    return merged


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """One brief offline training run; its run directory and its wall time in seconds."""
    tmp_path = tmp_path_factory.mktemp("wandb")
    started = time.perf_counter()
    process = start(tmp_path, "--set", f"loggers={LOGGERS}")
    _, err = process.communicate(timeout=300)
    elapsed = time.perf_counter() - started
    assert process.returncode == 0, err
    return only_run_dir(tmp_path / "runs"), elapsed


def test_history_matches_metrics_jsonl(offline_run: tuple[Path, float]) -> None:
    run_dir, _ = offline_run
    expected: dict[int, dict] = {}
    for row in read_jsonl(run_dir / "metrics.jsonl"):  # epoch rows may share a step
        expected.setdefault(row.pop("step"), {}).update(row)
    logged = wandb_records.history(wandb_file(run_dir))
    assert sorted(logged) == sorted(expected)
    for step, row in expected.items():
        assert logged[step] == row, f"step {step}"
    training_steps = [row for row in logged.values() if "train/loss" in row]
    assert training_steps and all(set(PER_DIM) <= set(row) for row in training_steps)


def test_config_summary_and_exit_reach_the_record_stream(offline_run: tuple[Path, float]
                                                         ) -> None:
    run_dir, _ = offline_run
    path = wandb_file(run_dir)
    (run,) = wandb_records.of_type(path, "run")
    config = wandb_records.items(run.config.update)
    config.pop("_wandb")
    assert config == tomllib.loads((run_dir / "config.toml").read_text())
    assert config["loggers"][1]["name"] == "wandb"  # the logger's fields leave its name alone
    assert (run.project, run.display_name, list(run.tags)) == ("vaeframe", "smoke",
                                                                ["smoke", "test"])
    assert (run_dir / "wandb-run-id.txt").read_text().strip() == run.run_id

    summary = json.loads((run_dir / "summary.json").read_text())
    reported = final_summary(path)
    for key, value in flatten(summary).items():
        assert reported[key] == value, key
    for key in ("final/train_nonblack_acc", "final/heldout_nonblack_acc", "final/active_units",
                "final/kl_per_dim_min", "final/kl_per_dim_max"):
        assert reported[key] is not None, key
    assert [e.exit_code for e in wandb_records.of_type(path, "exit")] == [0]


def test_offline_run_without_network_or_key_takes_seconds(offline_run: tuple[Path, float]
                                                          ) -> None:
    run_dir, elapsed = offline_run
    training = json.loads((run_dir / "summary.json").read_text())["wall_time_s"]
    print(f"offline run: {elapsed:.1f} s in all, {training:.1f} s training")
    assert elapsed < 60, f"an offline run of configs/smoke.toml took {elapsed:.1f} s"


def test_failed_run_is_finished_as_failed(tmp_path: Path) -> None:
    process = start(tmp_path, "--set", "optimizer.lr=1e30", "--set", f"loggers={LOGGERS}")
    _, err = process.communicate(timeout=300)
    assert process.returncode == 1, err
    path = wandb_file(only_run_dir(tmp_path / "runs"))
    assert final_summary(path)["status"] == "failed"
    assert [e.exit_code for e in wandb_records.of_type(path, "exit")] == [1]


def test_ctrl_c_finishes_the_wandb_run(tmp_path: Path) -> None:
    process = start(tmp_path, "--epochs", "500", "--set", f"loggers={LOGGERS}")
    deadline = time.monotonic() + 120
    while not any(p.stat().st_size for p in (tmp_path / "runs").glob("*/metrics.jsonl")):
        assert process.poll() is None and time.monotonic() < deadline, process.stderr
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends: the whole process group
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    path = wandb_file(only_run_dir(tmp_path / "runs"))
    assert final_summary(path)["status"] == "interrupted"
    assert [e.exit_code for e in wandb_records.of_type(path, "exit")] == [130]


RESUME = """
import sys
from pathlib import Path
from vaeframe import RunInfo
from vaeframe_loggers.wandb_logger import WandbLogger

run_dir = Path(sys.argv[1])
for step, resumed in ((1, False), (2, True)):
    logger = WandbLogger(mode="offline")
    logger.open(RunInfo(name="r", run_dir=run_dir, config={"a": 1}, resumed=resumed))
    logger.log({"x": float(step)}, step)
    logger.close({"status": "finished"}, "finished")
"""


def test_resumed_run_continues_the_same_wandb_run(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    result = subprocess.run([sys.executable, "-c", RESUME, str(run_dir)], capture_output=True,
                            text=True, env=offline_env(tmp_path), timeout=120)
    assert result.returncode == 0, result.stderr
    run_id = (run_dir / "wandb-run-id.txt").read_text().strip()
    files = sorted(run_dir.glob("wandb/offline-run-*/run-*.wandb"))
    assert len(files) == 2
    assert [wandb_records.of_type(f, "run")[0].run_id for f in files] == [run_id, run_id]


def test_runs_without_the_logger_do_not_import_wandb(tmp_path: Path) -> None:
    args = ["run", str(CONFIGS / "smoke.toml"), "--epochs", "1", "--set",
            f"run.output_dir={tmp_path / 'runs'}", "--set", 'loggers=[{name="jsonl"}]']
    code = (f"import sys; from vaeframe.cli.app import main; assert main({args!r}) == 0; "
            "assert 'wandb' not in sys.modules, 'wandb was imported'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=offline_env(tmp_path), timeout=120)
    assert result.returncode == 0, result.stderr


def test_mode_defaults_to_wandb_mode_else_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WANDB_MODE", raising=False)
    assert WandbLogger().mode == "offline"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert WandbLogger().mode == "disabled"
    assert WandbLogger(mode="online").mode == "online"


@pytest.mark.parametrize(
    ("field", "fragments"),
    [
        ('mode="onlin"', ["loggers.2.mode", "must be one of 'online', 'offline', 'disabled'"]),
        ("project=3", ["loggers.2.project", "expected a string, got integer 3"]),
        ('tags="smoke"', ["loggers.2.tags", "expected an array, got string 'smoke'"]),
        ("tags=[1]", ["loggers.2.tags.0", "expected a string"]),
        ('colour="red"', ["loggers.2.colour", "unknown key"]),
    ],
)
def test_bad_logger_config(tmp_path: Path, field: str, fragments: list[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text((CONFIGS / "smoke.toml").read_text()
                   + f'\n[[loggers]]\nname = "wandb"\n{field.replace("=", " = ", 1)}\n')
    result = cli(tmp_path, "run", bad, "--set", f"run.output_dir={tmp_path / 'runs'}")
    assert_clear_error(result, str(bad), *fragments)
    assert not (tmp_path / "runs").exists(), "training started"


def test_bad_wandb_mode_in_the_environment(tmp_path: Path) -> None:
    result = cli(tmp_path, "run", CONFIGS / "smoke.toml", "--set",
                 f"run.output_dir={tmp_path / 'runs'}", "--set", 'loggers=[{name="wandb"}]',
                 WANDB_MODE="dryrun")
    # the logger came from the flag, so the error names the flag
    assert_clear_error(result, "--set loggers=", "loggers.0.mode", "got 'dryrun'", "WANDB_MODE")
    assert not (tmp_path / "runs").exists(), "training started"


@pytest.mark.slow
def test_vaeframe_resume_continues_the_same_wandb_run(tmp_path: Path) -> None:
    first = cli(tmp_path, "run", CONFIGS / "smoke.toml", "--epochs", "1", "--set",
                f"run.output_dir={tmp_path / 'runs'}", "--set", f"loggers={LOGGERS}")
    assert first.returncode == 0, first.stderr
    run_dir = only_run_dir(tmp_path / "runs")
    resumed = cli(tmp_path, "run", "--resume", run_dir, "--epochs", "2")
    assert resumed.returncode == 0, resumed.stderr
    run_id = (run_dir / "wandb-run-id.txt").read_text().strip()
    files = sorted(run_dir.glob("wandb/offline-run-*/run-*.wandb"))
    assert len(files) == 2
    assert [wandb_records.of_type(f, "run")[0].run_id for f in files] == [run_id, run_id]
