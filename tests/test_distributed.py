"""Data-parallel training with real torchrun processes on CPU (gloo)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import CONFIGS, cli_env, only_run_dir, read_jsonl, vaeframe
from vaeframe_arc import Synthetic
from vaeframe_models import Conv
from vaeframe_regularizers import FreeBits

from vaeframe.grids import pack_grids
from vaeframe.rundir.checkpoint import load_checkpoint
from vaeframe.training.distributed import World
from vaeframe.training.rng import seed_everything

TORCHRUN = Path(sys.executable).with_name("torchrun")
# 100 grids in global batches of 33: shards of 17 and 16, and a last batch of one grid
UNEVEN = ["--set", "data.num_train=100", "--set", "train.batch_size=33",
          "--set", "train.log_every_n_steps=1", "--set", 'loggers=[{name="jsonl"}]']


def torchrun(*args: str, timeout: float = 300):
    return subprocess.run([str(TORCHRUN), "--nproc_per_node=2", "-m", "vaeframe", *args],
                          env=cli_env(), capture_output=True, text=True, timeout=timeout)


def epoch_losses(run_dir: Path) -> list[float]:
    return [r["epoch/loss"] for r in read_jsonl(run_dir / "metrics.jsonl") if "epoch/loss" in r]


@pytest.mark.parametrize("size", [1, 2, 3])
def test_shards_cover_every_grid_once_with_weights_that_sum_to_the_world(size: int) -> None:
    order = torch.randperm(100)
    seen: list[int] = []
    for start in range(0, 100, 33):
        batch = order[start : start + 33]
        shards = [World(rank, size).shard(batch) for rank in range(size)]
        assert sum(weight for _, weight in shards) == pytest.approx(size)
        seen += [int(i) for indices, weight in shards if weight for i in indices]
    assert sorted(seen) == list(range(100))


@pytest.mark.slow
def test_two_processes_train_one_model_like_one_process(tmp_path: Path) -> None:
    two = torchrun("run", str(CONFIGS / "smoke.toml"), *UNEVEN,
                   "--set", f'run.output_dir="{tmp_path / "two"}"')
    assert two.returncode == 0, two.stderr
    one = vaeframe("run", CONFIGS / "smoke.toml", *UNEVEN,
                   "--set", f'run.output_dir="{tmp_path / "one"}"')
    assert one.returncode == 0, one.stderr
    run_two, run_one = only_run_dir(tmp_path / "two"), only_run_dir(tmp_path / "one")
    assert sorted(p.name for p in run_two.iterdir()) == [
        "checkpoints", "config.toml", "metrics.jsonl", "summary.json"]
    summary = json.loads((run_two / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["parameters_identical_across_ranks"] is True
    rows = read_jsonl(run_two / "metrics.jsonl")
    assert [r["step"] for r in rows if "train/loss" in r] == list(range(1, 13))  # 4 a epoch
    # the same global batches; only the sampling noise differs between the two runs
    for a, b in zip(epoch_losses(run_two), epoch_losses(run_one), strict=True):
        assert abs(a - b) / b < 0.01, (epoch_losses(run_two), epoch_losses(run_one))


THREADS_AFTER_RUN = """
import json, os, pathlib, sys
from vaeframe.cli.app import main
report, args = pathlib.Path(sys.argv[1]), sys.argv[2:]
code = main(args)
names = [open(f"/proc/self/task/{t}/comm").read().strip() for t in os.listdir("/proc/self/task")]
(report / f"rank{os.environ['RANK']}.json").write_text(json.dumps({"code": code, "threads": names}))
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
@pytest.mark.slow
def test_a_finished_run_has_ended_its_process_group_threads(tmp_path: Path) -> None:
    """A group left alive is destroyed at interpreter exit, where gloo can abort the process."""
    script = tmp_path / "threads_after_run.py"
    script.write_text(THREADS_AFTER_RUN)
    result = subprocess.run(
        [str(TORCHRUN), "--nproc_per_node=2", str(script), str(tmp_path), "run",
         str(CONFIGS / "smoke.toml"), "--epochs", "1", "--set", f'run.output_dir="{tmp_path}"'],
        env=cli_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    reports = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    for report in reports:
        assert report["code"] == 0, report
        assert not [t for t in report["threads"] if "gloo" in t], report


@pytest.mark.slow
def test_resuming_a_two_process_run_is_bit_identical(tmp_path: Path) -> None:
    whole = torchrun("run", str(CONFIGS / "smoke.toml"), *UNEVEN, "--epochs", "4",
                     "--set", f'run.output_dir="{tmp_path / "whole"}"')
    assert whole.returncode == 0, whole.stderr
    first = torchrun("run", str(CONFIGS / "smoke.toml"), *UNEVEN, "--epochs", "2",
                     "--set", f'run.output_dir="{tmp_path / "parts"}"')
    assert first.returncode == 0, first.stderr
    parts = only_run_dir(tmp_path / "parts")
    second = torchrun("run", "--resume", str(parts), "--epochs", "4")
    assert second.returncode == 0, second.stderr
    run_whole = only_run_dir(tmp_path / "whole")
    a = load_checkpoint(run_whole / "checkpoints" / "last.pt")["model"]
    b = load_checkpoint(parts / "checkpoints" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert epoch_losses(parts) == epoch_losses(run_whole)


@pytest.mark.slow
def test_batch_form_of_free_bits_uses_each_ranks_local_batch_mean(tmp_path: Path) -> None:
    """Under DDP, per = "batch" clamps the batch means of each rank's own shard."""
    seed_everything(0)  # rank 0's initial weights, which DDP broadcasts
    grids = pack_grids(Synthetic(num_train=96, num_heldout=32).load().train, "test")
    model = Conv(latent_dim=4, channels=[8, 16, 16]).build()
    first_batch = torch.randperm(96, generator=torch.Generator().manual_seed(0))[:32]
    with torch.no_grad():
        mu, logvar = model.encode(grids[first_batch])
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())
    threshold = float(kl.mean(0).median())
    regularizer = FreeBits(threshold=threshold, per="batch")
    local = sum(float(regularizer.kl_loss(kl[rank::2])) for rank in range(2)) / 2
    global_form = float(regularizer.kl_loss(kl))
    assert abs(local - global_form) > 1e-6, "pick a case where the two forms differ"

    result = torchrun("run", str(CONFIGS / "smoke.toml"), "--set",
                      f'kl={{name="free_bits", per="batch", threshold={threshold!r}}}',
                      "--set", "train.log_every_n_steps=1", "--set", 'loggers=[{name="jsonl"}]',
                      "--set", f'run.output_dir="{tmp_path}"', "--epochs", "1")
    assert result.returncode == 0, result.stderr
    logged = read_jsonl(only_run_dir(tmp_path) / "metrics.jsonl")[0]["train/kl_loss"]
    assert logged == pytest.approx(local, rel=1e-5)


def test_fast_path_is_refused_under_torchrun(tmp_path: Path) -> None:
    env_run = vaeframe("run", CONFIGS / "smoke.toml", "--set", 'train.on_nonfinite="skip"',
                       "--set", f'run.output_dir="{tmp_path}"', WORLD_SIZE="2", RANK="0",
                       LOCAL_RANK="0")
    assert env_run.returncode == 2 and "Traceback" not in env_run.stderr
    assert "not supported with torchrun" in env_run.stderr
