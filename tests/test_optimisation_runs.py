"""Real processes: a run with a cosine schedule, weight averaging and clipping resumes
bit-identical after SIGINT, and a run directory written before ``[optimizer]`` existed
(``train.lr`` in its config.toml) still resumes, bit-identical, and reports."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import tomli_w
import tomllib
import torch
from conftest import CONFIGS, only_run_dir, read_jsonl, vaeframe
from test_resume import LONG, start, wait_for_epoch

from vaeframe.rundir.checkpoint import load_checkpoint

SMOKE = str(CONFIGS / "smoke.toml")
OPTIMISED = [*LONG, "--set", "optimizer.name=adamw", "--set",
             'lr_schedule={name="cosine", warmup_epochs=1.5, min_lr=1e-5}',
             "--set", "train.ema_decay=0.99", "--set", "train.clip_grad_norm=5"]


def whole_run(output_dir: Path, *args: str) -> Path:
    result = vaeframe("run", SMOKE, *args, "--set", f"run.output_dir={output_dir}")
    assert result.returncode == 0, result.stderr
    return only_run_dir(output_dir)


def interrupted(output_dir: Path, *args: str) -> Path:
    """``vaeframe run smoke.toml ARGS`` stopped by SIGINT in its third epoch."""
    process = start("run", SMOKE, *args, "--set", f"run.output_dir={output_dir}")
    run_dir = wait_for_epoch(output_dir, 2, process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    return run_dir


def assert_same_run(resumed: Path, whole: Path) -> None:
    a = load_checkpoint(resumed / "checkpoints" / "last.pt")
    b = load_checkpoint(whole / "checkpoints" / "last.pt")
    for key in ("model", *(("averaged",) if "averaged" in b else ())):
        left = a[key]["model"] if key == "averaged" else a[key]
        right = b[key]["model"] if key == "averaged" else b[key]
        assert all(torch.equal(left[k], right[k]) for k in right), key
    assert read_jsonl(resumed / "metrics.jsonl") == read_jsonl(whole / "metrics.jsonl")
    ours, theirs = (json.loads((d / "summary.json").read_text()) for d in (resumed, whole))
    assert ours["final"] == theirs["final"] and ours["weights"] == theirs["weights"]


@pytest.mark.slow
def test_cosine_averaging_and_clipping_resume_bit_identical_after_sigint(
        tmp_path: Path) -> None:
    whole = whole_run(tmp_path / "whole", *OPTIMISED)
    run_dir = interrupted(tmp_path / "parts", *OPTIMISED)
    resumed = vaeframe("run", "--resume", run_dir)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(run_dir, whole)
    rates = [r["train/lr"] for r in read_jsonl(run_dir / "metrics.jsonl") if "train/lr" in r]
    assert rates[0] < rates[len(rates) // 5] and rates[-1] < 1e-4  # warmed up, decayed


@pytest.mark.slow
def test_a_run_directory_from_before_the_optimizer_section_resumes_and_reports(
        tmp_path: Path) -> None:
    """The interrupted run's config.toml is put back in the layout vaeframe wrote before
    ``[optimizer]``: ``lr`` and ``weight_decay`` under ``[train]``, no optimizer sections."""
    whole = whole_run(tmp_path / "whole", *LONG)
    run_dir = interrupted(tmp_path / "parts", *LONG)
    raw = tomllib.loads((run_dir / "config.toml").read_text())
    optimizer = raw.pop("optimizer")
    assert raw.pop("lr_schedule") == {"name": "constant"} and optimizer["name"] == "adam"
    del raw["train"]["clip_grad_norm"], raw["train"]["ema_decay"]
    raw["train"].update(lr=optimizer["lr"], weight_decay=optimizer["weight_decay"])
    (run_dir / "config.toml").write_text(tomli_w.dumps(raw))

    resumed = vaeframe("run", "--resume", run_dir)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(run_dir, whole)
    report = vaeframe("report", run_dir, "--out", tmp_path / "report")
    assert report.returncode == 0, report.stderr
    assert (tmp_path / "report").is_dir() and any((tmp_path / "report").iterdir())
