"""Nothing lost: signals, resume bit-identical to an uninterrupted run, determinism, NaN guard."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from conftest import (
    CONFIGS,
    VAEFRAME,
    cli_env,
    only_run_dir,
    read_jsonl,
    read_written_rows,
    vaeframe,
)

from vaeframe.rundir.checkpoint import load_checkpoint

HELPERS = Path(__file__).parent / "helper_plugins"

# long enough to interrupt (tens of steps an epoch), small enough to take seconds
LONG = ["--epochs", "8", "--set", "data.num_train=384", "--set", "train.batch_size=8",
        "--set", "train.log_every_n_steps=5", "--set", "model.channels=[4, 8, 8]"]


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([str(VAEFRAME), *args], env=cli_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for_epoch(output_dir: Path, epoch: int, process: subprocess.Popen[str]) -> Path:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before it could be interrupted"
        runs = list(output_dir.glob("*/metrics.jsonl")) if output_dir.exists() else []
        if runs and any(r.get("epoch/loss") is not None and r["epoch"] >= epoch
                        for r in read_written_rows(runs[0])):
            return runs[0].parent
        time.sleep(0.02)
    raise AssertionError("the run never reached the epoch")


def final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(run_dir / "checkpoints" / "last.pt")["model"]


def interrupted_and_resumed(output_dir: Path, *args: str) -> Path:
    """``vaeframe run ARGS`` stopped by SIGINT in its third epoch, then resumed to the end."""
    process = start("run", *args, "--set", f"run.output_dir={output_dir}")
    run_dir = wait_for_epoch(output_dir, 2, process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    resumed = vaeframe("run", "--resume", run_dir)
    assert resumed.returncode == 0, resumed.stderr
    return run_dir


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("whole")
    result = vaeframe("run", CONFIGS / "smoke.toml", *LONG, "--set", f"run.output_dir={out}")
    assert result.returncode == 0, result.stderr
    return only_run_dir(out)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.slow
def test_interrupted_and_resumed_run_is_bit_identical(tmp_path: Path, uninterrupted: Path,
                                                      signum: int) -> None:
    process = start("run", str(CONFIGS / "smoke.toml"), *LONG,
                    "--set", f"run.output_dir={tmp_path}")
    run_dir = wait_for_epoch(tmp_path, 2, process)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signum, stderr
    assert "Traceback" not in stderr
    assert f"vaeframe run --resume {run_dir}" in stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["epochs_completed"] < 8

    resumed = vaeframe("run", "--resume", run_dir)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming at step" in resumed.stderr

    whole, parts = final_weights(uninterrupted), final_weights(run_dir)
    assert all(torch.equal(whole[k], parts[k]) for k in whole)
    assert read_jsonl(run_dir / "metrics.jsonl") == read_jsonl(uninterrupted / "metrics.jsonl")
    summary = json.loads((run_dir / "summary.json").read_text())
    expected = json.loads((uninterrupted / "summary.json").read_text())
    assert summary["final"] == expected["final"]
    assert summary["beta_history"] == expected["beta_history"]


def test_second_ctrl_c_exits_at_once(tmp_path: Path) -> None:
    process = start("run", str(CONFIGS / "smoke.toml"), *LONG, "--epochs", "200",
                    "--set", f"run.output_dir={tmp_path}")
    wait_for_epoch(tmp_path, 1, process)
    process.send_signal(signal.SIGINT)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr


@pytest.mark.slow
def test_resume_after_kill_drops_rows_past_the_checkpoint(tmp_path: Path,
                                                          uninterrupted: Path) -> None:
    process = start("run", str(CONFIGS / "smoke.toml"), *LONG,
                    "--set", f"run.output_dir={tmp_path}")
    run_dir = wait_for_epoch(tmp_path, 3, process)
    process.kill()
    process.communicate()
    assert vaeframe("run", "--resume", run_dir).returncode == 0
    assert read_jsonl(run_dir / "metrics.jsonl") == read_jsonl(uninterrupted / "metrics.jsonl")


@pytest.mark.parametrize("writer", ["thread", "inline"])
@pytest.mark.slow
def test_checkpoints_every_n_epochs_lose_at_most_n_epochs_to_a_kill(
        tmp_path: Path, uninterrupted: Path, writer: str) -> None:
    every = ["--set", "train.checkpoint_every_n_epochs=3", "--set",
             f"train.checkpoint_writer={writer}"]
    process = start("run", str(CONFIGS / "smoke.toml"), *LONG, *every,
                    "--set", f"run.output_dir={tmp_path}")
    run_dir = wait_for_epoch(tmp_path, 5, process)
    process.kill()
    process.communicate()
    epochs_logged = max(r["epoch"] for r in read_jsonl(run_dir / "metrics.jsonl"))
    checkpoint = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    saved = checkpoint["epoch"]
    # at most 3 epochs lost: a row is logged only after every earlier checkpoint is on disk
    assert saved % 3 == 0 and epochs_logged - 3 <= saved <= epochs_logged
    assert vaeframe("run", "--resume", run_dir).returncode == 0
    whole, parts = final_weights(uninterrupted), final_weights(run_dir)
    assert all(torch.equal(whole[k], parts[k]) for k in whole)
    assert read_jsonl(run_dir / "metrics.jsonl") == read_jsonl(uninterrupted / "metrics.jsonl")
    times = json.loads((run_dir / "summary.json").read_text())["time_s"]
    assert list(times) == ["startup", "data", "setup", "capture", "train", "evaluation",
                           "checkpoints", "loggers", "disentanglement"]
    assert times["train"] > 0 and times["checkpoints"] > 0 and times["disentanglement"] == 0
    # the resumed process's start-up adds to the killed one's
    assert times["startup"] > checkpoint["counters"]["startup_seconds"] > 0


@pytest.mark.slow
def test_resume_can_extend_a_finished_run(tmp_path: Path, smoke_args) -> None:
    assert vaeframe(*smoke_args).returncode == 0
    run_dir = only_run_dir(tmp_path / "runs")
    result = vaeframe("run", "--resume", run_dir, "--epochs", "5")
    assert result.returncode == 0, result.stderr
    rows = [r for r in read_jsonl(run_dir / "metrics.jsonl") if "epoch/loss" in r]
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4, 5]
    assert json.loads((run_dir / "summary.json").read_text())["beta_history"] == [
        0.0, 0.25, 0.5, 0.5, 0.5]


@pytest.mark.slow
def test_same_run_file_and_seed_give_identical_metrics(tmp_path: Path, smoke_args) -> None:
    for _ in range(2):
        assert vaeframe(*smoke_args).returncode == 0
    first, second = sorted((tmp_path / "runs").iterdir())
    assert (first / "metrics.jsonl").read_text() == (second / "metrics.jsonl").read_text()


def test_nonfinite_loss_stops_and_keeps_the_best_checkpoint(tmp_path: Path, smoke_args) -> None:
    # 3 steps an epoch: the loss turns NaN at step 7, in epoch 3
    result = vaeframe(*smoke_args, "-p", "vaeframe_test_helpers",
                      "--set", 'kl={name="poison", after=6}', PYTHONPATH=str(HELPERS))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "non-finite loss detected at step 8 (epoch 3" in result.stderr
    run_dir = only_run_dir(tmp_path / "runs")
    assert f"{run_dir / 'checkpoints' / 'last.pt'} (epoch 2)" in result.stderr
    for name in ("best.pt", "last.pt"):
        state = load_checkpoint(run_dir / "checkpoints" / name)
        assert state["epoch"] <= 2
        assert all(t.isfinite().all() for t in state["model"].values())
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "failed"


def test_nonfinite_steps_can_be_skipped(tmp_path: Path, smoke_args) -> None:
    result = vaeframe(*smoke_args, "-p", "vaeframe_test_helpers", "--set",
                      'kl={name="poison", after=6}', "--set", 'train.on_nonfinite="skip"',
                      PYTHONPATH=str(HELPERS))
    assert result.returncode == 0, result.stderr
    summary = json.loads((only_run_dir(tmp_path / "runs") / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["skipped_steps"] == 3


def test_regularizer_failure_names_the_plugin(tmp_path: Path, smoke_args) -> None:
    result = vaeframe(*smoke_args, "-p", "vaeframe_test_helpers",
                      "--set", 'kl={name="explode", after=4}', PYTHONPATH=str(HELPERS))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert ("KL regularizer 'explode' of plugin 'vaeframe_test_helpers' (loaded with -p, "
            "package not packaged) failed in kl_loss(): RuntimeError: regularizer exploded"
            ) in result.stderr
    run_dir = only_run_dir(tmp_path / "runs")
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "failed"
    assert load_checkpoint(run_dir / "checkpoints" / "last.pt")["epoch"] == 1


@pytest.mark.parametrize("method", ["log", "close"])
def test_logger_failure_names_the_plugin_and_other_loggers_still_close(
        tmp_path: Path, smoke_args, method: str) -> None:
    result = vaeframe(*smoke_args, "-p", "vaeframe_test_helpers", "--set",
                      f'loggers=[{{name="flaky", fail_in="{method}"}}, {{name="jsonl"}}]',
                      PYTHONPATH=str(HELPERS))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "logger 'flaky' of plugin 'vaeframe_test_helpers'" in result.stderr
    assert f"failed in {method}(): OSError" in result.stderr
    run_dir = only_run_dir(tmp_path / "runs")
    summary = json.loads((run_dir / "summary.json").read_text())
    rows = read_jsonl(run_dir / "metrics.jsonl")
    if method == "close":  # training itself finished and every row was written
        assert summary["status"] == "finished"
        assert [r["epoch"] for r in rows if "epoch/loss" in r] == [1, 2, 3]
    else:
        assert summary["status"] == "failed"
