"""The smoke run end to end through the installed console script, and the CLI overrides."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import tomllib
from conftest import CONFIGS, cli_env, only_run_dir, read_jsonl, vaeframe


def test_smoke_run_writes_a_complete_run_directory(tmp_path: Path, smoke_args) -> None:
    result = vaeframe(*smoke_args)
    assert result.returncode == 0, result.stderr
    run_dir = only_run_dir(tmp_path / "runs")

    resolved = tomllib.loads((run_dir / "config.toml").read_text())
    assert resolved["schedule"] == {"name": "linear_warmup", "warmup_epochs": 1,
                                    "ramp_epochs": 2, "max_beta": 0.5}
    assert resolved["kl"] == {"name": "free_bits", "threshold": 0.1, "per": "sample"}
    assert resolved["optimizer"] == {"name": "adam", "lr": 1e-3, "weight_decay": 0.0,
                                     "betas": [0.9, 0.999], "eps": 1e-8}  # defaults filled in

    rows = read_jsonl(run_dir / "metrics.jsonl")
    step_rows = [r for r in rows if "train/loss" in r]
    epoch_rows = [r for r in rows if "epoch/loss" in r]
    assert [r["epoch"] for r in epoch_rows] == [1, 2, 3]
    assert [r["step"] for r in step_rows] == [2, 4, 6, 8]  # 3 steps an epoch, every 2nd
    for row in step_rows:
        dims = [row[f"train/kl_per_dim/dim_{i}"] for i in range(4)]
        assert row["train/kl_per_dim/min"] == min(dims)
        assert row["train/kl_per_dim/max"] == max(dims)
        assert abs(row["train/kl_per_dim/mean"] - sum(dims) / 4) < 1e-9
        assert {"train/loss", "train/recon_loss", "train/kl_loss", "train/kl_raw",
                "train/beta"} <= row.keys()
    assert [r["beta"] for r in epoch_rows] == [0.0, 0.25, 0.5]
    for row in epoch_rows:
        assert 0 <= row["train/nonblack_acc"] <= 1 and 0 <= row["heldout/nonblack_acc"] <= 1
        assert 0 <= row["active_units"] <= 4

    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["epochs_completed"] == 3
    final = summary["final"]
    assert final["kl_per_dim_min"] == min(final["kl_per_dim"])
    assert final["kl_per_dim_max"] == max(final["kl_per_dim"])
    assert final["train_nonblack_acc"] == epoch_rows[-1]["train/nonblack_acc"]
    assert final["heldout_nonblack_acc"] == epoch_rows[-1]["heldout/nonblack_acc"]
    assert final["active_units"] == epoch_rows[-1]["active_units"]
    assert summary["beta_history"] == [0.0, 0.25, 0.5]
    assert summary["dataset"] == {"name": "synthetic", "train_grids": 96, "heldout_grids": 32,
                                  "description": "synthetic rectangles, seed 0",
                                  "heldout_identical_to_train": 0}
    assert {p.name for p in (run_dir / "checkpoints").iterdir()} == {"last.pt", "best.pt"}
    assert "finished after 3 epochs" in result.stderr
    assert "where the time went: startup " in result.stderr


def test_python_dash_m_works_and_runs_never_share_a_directory(tmp_path: Path, smoke_args) -> None:
    for _ in range(2):
        result = subprocess.run([sys.executable, "-m", "vaeframe", *smoke_args, "--epochs", "1"],
                                capture_output=True, text=True, env=cli_env(), timeout=300)
        assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "runs").iterdir())) == 2


def test_seed_flags_override_the_run_file(tmp_path: Path, smoke_args) -> None:
    result = vaeframe(*smoke_args, "--beta-schedule", "cyclical", "--beta-max", "0.2",
                      "--free-bits", "0.05", "--epochs", "2", "--set", "schedule.cycle_length=4")
    assert result.returncode == 0, result.stderr
    assert "does not take ramp_epochs, warmup_epochs: dropped" in result.stderr
    run_dir = only_run_dir(tmp_path / "runs")
    resolved = tomllib.loads((run_dir / "config.toml").read_text())
    assert resolved["schedule"] == {"name": "cyclical", "cycle_length": 4, "max_beta": 0.2}
    assert resolved["kl"]["threshold"] == 0.05
    assert json.loads((run_dir / "summary.json").read_text())["beta_history"] == [0.1, 0.2]


def test_free_bits_flag_switches_the_regularizer(tmp_path: Path) -> None:
    base = (CONFIGS / "smoke.toml").read_text().replace(
        '[kl]\nname = "free_bits"\nthreshold = 0.1', '[kl]\nname = "none"')
    run_file = tmp_path / "plain.toml"
    run_file.write_text(base)
    result = vaeframe("run", run_file, "--free-bits", "0.5", "--epochs", "1",
                      "--set", f"run.output_dir={tmp_path / 'runs'}")
    assert result.returncode == 0, result.stderr
    resolved = tomllib.loads((only_run_dir(tmp_path / "runs") / "config.toml").read_text())
    assert resolved["kl"] == {"name": "free_bits", "threshold": 0.5, "per": "sample"}


def test_unwritable_output_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = vaeframe("run", CONFIGS / "smoke.toml", "--set", f"run.output_dir={blocker}/runs")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "run.output_dir" in result.stderr and "cannot create" in result.stderr


def test_time_s_splits_the_process_wall_time_into_phases(tmp_path: Path) -> None:
    """Start-up counts from vaeframe's import (here 2 s before the command starts), not from
    the start of the process, which bash's exec or a sleep before the import would stretch;
    the phases, which do not overlap, add up to less than the process took."""
    args = ["run", str(CONFIGS / "smoke.toml"), "--set", f"run.output_dir={tmp_path}"]
    code = ("import time; time.sleep(3.0); import vaeframe; time.sleep(2.0); "
            f"from vaeframe.cli.app import main; main({args!r})")
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=cli_env(), timeout=300)
    elapsed = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    times = json.loads((only_run_dir(tmp_path) / "summary.json").read_text())["time_s"]
    assert list(times) == ["startup", "data", "setup", "capture", "train", "evaluation",
                           "checkpoints", "loggers", "disentanglement"]
    assert 2.0 <= times["startup"] < elapsed - 3.0
    assert times["data"] > 0 and times["setup"] > 0 and times["train"] > 0
    assert times["capture"] == 0  # no CUDA graphs on the CPU
    assert sum(times.values()) < elapsed
