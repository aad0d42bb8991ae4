"""The capacity regularizer (Burgess et al. 2018): C(t) against the formula, in a real
ARC-AGI-1 run, and bit-identical resume, all through the training progress."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import CONFIGS, only_run_dir, read_jsonl, vaeframe
from test_resume import final_weights, interrupted_and_resumed
from vaeframe_regularizers import Capacity

from vaeframe import Progress


def progress_at(epochs_done: float, num_epochs: int = 100) -> Progress:
    progress = Progress.create(num_epochs)
    progress.set(int(epochs_done) + 1, 1, num_epochs, epochs_done / num_epochs)
    return progress


@pytest.mark.parametrize(("epochs_done", "expected"), [
    (0.0, 2.0), (20.0, 2.0 + 23.0 * 20 / 80), (40.0, 13.5), (79.5, 2.0 + 23.0 * 79.5 / 80),
    (80.0, 25.0), (99.9, 25.0)])
def test_capacity_follows_the_formula_at_boundary_points(epochs_done: float,
                                                         expected: float) -> None:
    regularizer = Capacity(gamma=10.0, c_min=2.0, c_max=25.0, c_epochs=80)
    capacity = regularizer.capacity(progress_at(epochs_done))
    assert capacity.item() == pytest.approx(expected, rel=1e-6)
    kl = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # batch mean of the sums: 5 nats
    loss = regularizer.kl_loss(kl, progress_at(epochs_done))
    assert loss.item() == pytest.approx(10.0 * abs(5.0 - expected), rel=1e-6)


def test_without_c_epochs_capacity_rises_over_the_whole_run() -> None:
    regularizer = Capacity(c_min=0.0, c_max=25.0)
    assert regularizer.capacity(progress_at(0.0, 40)).item() == 0.0
    assert regularizer.capacity(progress_at(10.0, 40)).item() == pytest.approx(6.25)
    assert regularizer.capacity(progress_at(40.0, 40)).item() == pytest.approx(25.0)


def expected_capacity(step: int, steps_per_epoch: int, c_epochs: float = 80.0) -> float:
    """C before global step ``step`` (1-indexed): 25 nats · epochs done / 80, held at 25."""
    epochs_done = (step - 1) / steps_per_epoch
    return 25.0 * min(1.0, epochs_done / c_epochs)


@pytest.mark.slow
def test_an_arc_run_logs_capacity_following_the_formula(tmp_path: Path) -> None:
    result = vaeframe("run", CONFIGS / "capacity.toml", "--epochs", "2",
                      "--set", "train.log_every_n_steps=7", "--set", "kl.c_epochs=1.5",
                      "--set", "data.add_arc_agi_2=false",
                      "--set", f"run.output_dir={tmp_path}", timeout=600)
    assert result.returncode == 0, result.stderr
    run_dir = only_run_dir(tmp_path)
    summary = json.loads((run_dir / "summary.json").read_text())
    steps_per_epoch = summary["steps"] // 2  # 3,434 grids / 64 = 54 steps an epoch
    assert summary["dataset"]["train_grids"] == 3434 and steps_per_epoch == 54
    rows = read_jsonl(run_dir / "metrics.jsonl")
    logged = [(row["step"], row["train/kl/capacity"]) for row in rows
              if "train/kl/capacity" in row]
    assert len(logged) == 108 // 7
    for step, capacity in logged:
        assert capacity == pytest.approx(expected_capacity(step, 54, 1.5), rel=1e-5, abs=1e-5)
    assert logged[-1][1] == 25.0  # held at c_max after 1.5 epochs
    # epoch/kl/capacity is the mean over the epoch's steps, like every other epoch/ key
    epochs = [row for row in rows if "epoch/kl/capacity" in row]
    means = [sum(expected_capacity(step, 54, 1.5) for step in range(first, first + 54)) / 54
             for first in (1, 55)]
    assert [row["epoch/kl/capacity"] for row in epochs] == pytest.approx(means, rel=1e-5)


LONG = ["--epochs", "4", "--set", "data.num_train=384", "--set", "train.batch_size=8",
        "--set", "train.log_every_n_steps=5", "--set", "model.channels=[4, 8, 8]",
        "--set", 'kl={name="capacity", gamma=5.0, c_max=3.0, c_epochs=3.5}']


@pytest.mark.slow
def test_a_capacity_run_resumes_bit_identical(tmp_path: Path) -> None:
    whole_dir = tmp_path / "whole"
    whole = vaeframe("run", CONFIGS / "smoke.toml", *LONG, "--set", f"run.output_dir={whole_dir}")
    assert whole.returncode == 0, whole.stderr
    whole_run = only_run_dir(whole_dir)

    run_dir = interrupted_and_resumed(tmp_path / "parts", str(CONFIGS / "smoke.toml"), *LONG)

    a, b = final_weights(whole_run), final_weights(run_dir)
    assert all(torch.equal(a[k], b[k]) for k in a)
    rows = read_jsonl(run_dir / "metrics.jsonl")
    assert rows == read_jsonl(whole_run / "metrics.jsonl")
    assert any("train/kl/capacity" in row for row in rows)
