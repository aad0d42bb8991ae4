"""The fast path's settings on a machine without CUDA, and the benchmark script's output.

The CUDA graph itself is checked by benchmarks/gpu_check.sh on a GPU (results in
benchmarks/RESULTS.md); CI has no GPU.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import CONFIGS, ROOT, cli_env, vaeframe

from vaeframe import VaeframeError
from vaeframe.training.fastpath import check_fast_path


@pytest.mark.parametrize(("setting", "message", "hint"), [
    ('train.compile="graph"', "train.compile = 'graph' needs a CUDA device", 'compile = "off"'),
    ('train.compile="inductor"', "train.compile = 'inductor' needs a CUDA", 'compile = "off"'),
    ('train.precision="bf16"', "train.precision = 'bf16' needs a CUDA", 'precision = "fp32"'),
])
def test_fast_path_on_cpu_is_refused_before_anything_is_written(
        tmp_path: Path, setting: str, message: str, hint: str) -> None:
    result = vaeframe("run", CONFIGS / "smoke.toml", "--set", setting,
                      "--set", f"run.output_dir={tmp_path / 'runs'}")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert message in result.stderr and f"use {hint} there" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_unknown_compile_mode_lists_the_valid_ones() -> None:
    result = vaeframe("run", CONFIGS / "smoke.toml", "--set", 'train.compile="max"')
    assert result.returncode == 2
    assert "train.compile: must be one of 'off', 'graph', 'inductor'" in result.stderr


def test_graph_refuses_skipping_nonfinite_steps() -> None:
    with pytest.raises(VaeframeError, match="on_nonfinite"):
        check_fast_path("graph", "fp32", "skip", torch.device("cuda"))
    check_fast_path("graph", "bf16", "stop", torch.device("cuda"))  # allowed


def benchmark_line(script: str, *args: str) -> dict[str, object]:
    """The one JSON line that ``benchmarks/<script>`` prints on configs/smoke.toml."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), str(CONFIGS / "smoke.toml"), *args],
        capture_output=True, text=True, env=cli_env(), timeout=300)
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    return json.loads(line)


def test_benchmark_prints_one_json_line_with_both_rates() -> None:
    data = benchmark_line("throughput.py", "--epochs", "2")
    assert data["device"] == "cpu" and data["grids"] == 96 and data["batch_size"] == 32
    assert data["engine_grids_per_s"] > 0 and data["plain_grids_per_s"] > 0
    assert data["ratio"] == pytest.approx(data["engine_grids_per_s"] / data["plain_grids_per_s"],
                                          rel=1e-2)


def test_step_parts_benchmark_prices_clipping_and_averaging() -> None:
    data = benchmark_line("step_parts.py", "--rounds", "3")
    assert data["batch_size"] == 32 and data["rounds"] == 3 and data["parameters"] > 0
    for part in ("clip", "ema"):
        assert 0 < data[f"{part}_ms"] < data["step_ms"]
        assert data[f"{part}_share"] == pytest.approx(data[f"{part}_ms"] / data["step_ms"],
                                                      abs=2e-3)


def test_cpu_training_keeps_freed_memory_for_reuse() -> None:
    """glibc's thresholds are raised (benchmarks/RESULTS.md: 10-12 % of a CPU step)."""
    from vaeframe.training.allocator import keep_freed_memory

    if not sys.platform.startswith("linux"):
        pytest.skip("glibc only")
    assert keep_freed_memory() is True
