"""Checkpoints: atomic under SIGKILL, weights_only loading, clear errors for bad files."""

from __future__ import annotations

import pickle
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from conftest import cli_env, only_run_dir, vaeframe

from vaeframe import VaeframeError
from vaeframe.rundir.checkpoint import load_checkpoint, save_checkpoint

# Saves version 1, then starts version 2 and pauses inside it, at the point the test names,
# saying where it is: the kill then lands inside a save every time, with no timing to race.
WRITER = textwrap.dedent("""
    import io, os, sys, time, torch
    from pathlib import Path
    from vaeframe.rundir.checkpoint import save_checkpoint
    path, pause_at = Path(sys.argv[1]), sys.argv[2]
    real_save = torch.save

    def pause(where):
        print(where, flush=True)
        time.sleep(600)

    def half_written(state, handle):
        buffer = io.BytesIO()
        real_save(state, buffer)
        handle.write(buffer.getvalue()[: buffer.tell() // 2])
        handle.flush()
        pause("inside torch.save")

    for version in (1, 2):
        if version == 2 and pause_at == "write":
            torch.save = half_written
        if version == 2 and pause_at == "rename":
            os.replace = lambda source, target: pause("before the rename")
        save_checkpoint({"model": {"w": torch.full((1_000_000,), float(version))},
                         "epoch": version}, path)
        print("saved", version, flush=True)
""")


@pytest.mark.slow
@pytest.mark.parametrize(("pause_at", "where"), [("write", "inside torch.save"),
                                                 ("rename", "before the rename")])
def test_sigkill_inside_a_save_leaves_the_previous_checkpoint(tmp_path: Path, pause_at: str,
                                                              where: str) -> None:
    path = tmp_path / "last.pt"
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(path), pause_at],
                               env=cli_env(), stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    try:
        assert process.stdout.readline().strip() == "saved 1"
        assert process.stdout.readline().strip() == where
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert list(tmp_path.glob(".last.pt.*.tmp")), "the kill landed inside the second save"
    state = load_checkpoint(path)
    assert state["epoch"] == 1
    assert torch.equal(state["model"]["w"], torch.full((1_000_000,), 1.0))
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
