"""Checkpoints: atomic under SIGKILL, weights_only loading, clear errors for bad files."""

from __future__ import annotations

import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from conftest import cli_env, only_run_dir, vaeframe

from vaeframe import VaeframeError
from vaeframe.rundir.checkpoint import load_checkpoint, save_checkpoint

WRITER = textwrap.dedent("""
    import sys, torch
    from pathlib import Path
    from vaeframe.rundir.checkpoint import save_checkpoint
    path = Path(sys.argv[1])
    version = 0
    while True:
        version += 1
        save_checkpoint({"model": {"w": torch.full((4_000_000,), float(version))},
                         "epoch": version}, path)
        print(version, flush=True)
""")


@pytest.mark.slow
def test_sigkill_during_saves_leaves_a_loadable_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    killed_mid_save = 0
    for delay in (0.6, 0.9, 1.3):
        process = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], env=cli_env(),
                                   stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None
        process.stdout.readline()  # at least one complete save
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        state = load_checkpoint(path)
        assert state["epoch"] >= 1
        assert torch.equal(state["model"]["w"], torch.full((4_000_000,), float(state["epoch"])))
        killed_mid_save += bool(list(tmp_path.glob(".last.pt.*.tmp")))
    assert killed_mid_save, "no kill landed inside a save: the test proved nothing"
    save_checkpoint({"model": {}, "epoch": 0}, path)
    assert not list(tmp_path.glob(".last.pt.*.tmp")), "stale temporary files are cleaned up"


def test_checkpoint_round_trip_with_weights_only(tmp_path: Path) -> None:
    state = {"model": {"w": torch.arange(3.0)}, "epoch": 2, "rng": [3, [1, 2], None]}
    save_checkpoint(state, tmp_path / "c.pt")
    loaded = load_checkpoint(tmp_path / "c.pt")
    assert torch.equal(loaded["model"]["w"], state["model"]["w"]) and loaded["rng"] == [3, [1, 2],
                                                                                        None]
    assert not list(tmp_path.glob("*.tmp"))


class Foreign:
    pass


@pytest.mark.parametrize("kind", ["truncated", "text", "foreign pickle", "plain tensor",
                                  "missing"])
def test_bad_checkpoint_files_give_clear_errors(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "last.pt"
    if kind == "truncated":
        save_checkpoint({"model": {"w": torch.zeros(1000)}, "epoch": 1}, path)
        path.write_bytes(path.read_bytes()[:500])
    elif kind == "text":
        path.write_text("not a checkpoint")
    elif kind == "foreign pickle":
        path.write_bytes(pickle.dumps(Foreign()))
    elif kind == "plain tensor":
        torch.save(torch.zeros(3), path)
    with pytest.raises(VaeframeError, match=str(path)):
        load_checkpoint(path)


@pytest.mark.slow
def test_resume_with_a_corrupt_checkpoint_is_a_clear_error(tmp_path: Path, smoke_args) -> None:
    assert vaeframe(*smoke_args, "--epochs", "1").returncode == 0
    run_dir = only_run_dir(tmp_path / "runs")
    last = run_dir / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[:1000])
    result = vaeframe("run", "--resume", run_dir)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert str(last) in result.stderr and "corrupt, truncated" in result.stderr
