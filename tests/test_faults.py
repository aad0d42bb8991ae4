"""When things go wrong (docs/reliability.md): refused resumes, torn histories, killed runs,
full disks, signals at start-up, absurd values, bad API inputs and a fuzz of the run file;
each case ends in one clear error (or a warning) and leaves a run directory as it was or
resumable. The cases that start real processes of a run are in the slow group."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import CONFIGS, cli_env, only_run_dir, run_with_plugin, vaeframe

import vaeframe as vf
from vaeframe.rundir.checkpoint import load_checkpoint

GOOD = np.zeros((3, 3), dtype=np.int64)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("faults")
    result = vaeframe("run", CONFIGS / "smoke.toml", "--set", f"run.output_dir={out}")
    assert result.returncode == 0, result.stderr
    return only_run_dir(out)


def fingerprint(run_dir: Path) -> dict[str, str]:
    """Every file of a run directory with the hash of its bytes."""
    return {str(p.relative_to(run_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(run_dir.rglob("*")) if p.is_file()}


BAD_GRIDS = [
    pytest.param([GOOD, np.full((3, 3), 1.5)], "grid 1 holds 1.5, not a whole number",
                 id="float-colour"),
    pytest.param([GOOD, [[1, 2, 3], [4, 5]]], "grid 1 is ragged", id="ragged"),
    pytest.param([GOOD, np.full((2, 2), np.nan)], "grid 1 holds NaN or infinity", id="nan"),
    pytest.param([np.full((2, 2), np.inf)], "grid 0 holds NaN or infinity", id="infinity"),
    pytest.param([GOOD, np.full((2, 2), 12)], "grid 1 has colours outside 0-9", id="colour-12"),
    pytest.param([np.full((2, 2), -1)], "grid 0 has colours outside 0-9", id="negative"),
    pytest.param([np.zeros((31, 3), dtype=int)], "grid 0 has shape (31, 3)", id="side-31"),
    pytest.param([np.zeros((0, 3), dtype=int)], "grid 0 has shape (0, 3)", id="empty"),
    pytest.param([np.zeros((2, 2, 2), dtype=int)], "grid 0 has shape (2, 2, 2)", id="3-d"),
    pytest.param([np.zeros(4, dtype=int)], "grid 0 has shape (4,)", id="1-d"),
    pytest.param([np.zeros((2, 2), dtype=bool)], "grid 0 has dtype bool", id="bool"),
    pytest.param([[["a", "b"], ["c", "d"]]], "grid 0 has dtype <U1", id="strings"),
    pytest.param([GOOD, [[1, None], [2, 3]]], "grid 1 is ragged or holds non-numbers",
                 id="none-cell"),
]


@pytest.mark.parametrize(("grids", "message"), BAD_GRIDS)
@pytest.mark.parametrize("method", ["encode", "reconstruct", "evaluate"])
def test_bad_grids_are_one_error_naming_the_grid(smoke_run: Path, method: str, grids: list,
                                                  message: str) -> None:
    run = vf.load_run(smoke_run)
    before = fingerprint(smoke_run)
    with pytest.raises(vf.VaeframeError) as caught:
        getattr(run, method)(grids)
    assert message in str(caught.value) and f"{method}(grids)" in str(caught.value)
    assert fingerprint(smoke_run) == before


@pytest.mark.parametrize(("grids", "message"), BAD_GRIDS[:5])
def test_nonblack_accuracy_checks_both_sides(grids: list, message: str) -> None:
    good = [GOOD] * len(grids)
    with pytest.raises(vf.VaeframeError, match="nonblack_accuracy\\(grids\\): "):
        vf.nonblack_accuracy(grids, good)
    with pytest.raises(vf.VaeframeError) as caught:
        vf.nonblack_accuracy(good, grids)
    assert "nonblack_accuracy(predicted)" in str(caught.value) and message in str(caught.value)


def test_nonblack_accuracy_of_unequal_lists_says_what_to_give() -> None:
    with pytest.raises(vf.VaeframeError, match="2 grids but 1 predictions"):
        vf.nonblack_accuracy([GOOD, GOOD], [GOOD])


def test_whole_numbers_stored_as_floats_are_colours(smoke_run: Path) -> None:
    run = vf.load_run(smoke_run)
    as_floats = np.full((3, 3), 2.0)
    assert np.array_equal(run.encode([as_floats])[0], run.encode([as_floats.astype(int)])[0])
    assert vf.nonblack_accuracy([as_floats], [as_floats.astype(np.uint8)]) == 1.0


@pytest.mark.parametrize(("codes", "message"), [
    pytest.param(np.full((2, 4), np.nan), "latent 0 holds NaN or infinity", id="nan"),
    pytest.param([[0, 0, 0, 0], [0, 0, np.inf, 0]], "latent 1 holds NaN or infinity",
                 id="infinity"),
    pytest.param(np.zeros((2, 3)), r"expected latents of shape (N, 4), got (2, 3)",
                 id="wrong-length"),
    pytest.param(np.zeros(4), r"expected latents of shape (N, 4), got (4,)", id="1-d"),
    pytest.param([[0, 0, 0, 0], [0, 0]], "ragged rows or non-numbers", id="ragged"),
    pytest.param([["a", "b", "c", "d"]], "ragged rows or non-numbers", id="strings"),
])
@pytest.mark.parametrize("method", ["decode", "decode_logits"])
def test_bad_latents_are_one_error(smoke_run: Path, method: str, codes, message: str) -> None:
    run = vf.load_run(smoke_run)
    with pytest.raises(vf.VaeframeError) as caught:
        getattr(run, method)(codes)
    assert message in str(caught.value) and str(caught.value).startswith("decode(z): ")


@pytest.mark.parametrize(("device", "message"), [
    ("bogus", "--device = 'bogus' is not a device; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"),
    ("cpu:0", "--device = 'cpu:0' is not a device"),
    ("cuda:x", "--device = 'cuda:x' is not a device"),
])
def test_encode_device_that_is_not_a_device_names_the_flag(smoke_run: Path, tmp_path: Path,
                                                            device: str, message: str) -> None:
    before = fingerprint(smoke_run)
    result = vaeframe("encode", smoke_run, "--device", device, "--out", tmp_path / "z.npz")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {message}")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "z.npz").exists() and fingerprint(smoke_run) == before


def test_encode_on_a_gpu_this_machine_lacks_names_the_flag_not_the_checkpoint(
        smoke_run: Path, tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    result = vaeframe("encode", smoke_run, "--device", "cuda", "--out", tmp_path / "z.npz")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: --device = 'cuda', but no CUDA device is available")
    assert "checkpoint" not in result.stderr


@pytest.mark.parametrize("device", ["bogus", "cuda:99"])
def test_load_run_device_is_checked_before_the_run_is_read(smoke_run: Path, device: str) -> None:
    import torch

    if device == "cuda:99" and not torch.cuda.is_available():
        device = "cuda"
    with pytest.raises(vf.VaeframeError, match=r"^load_run\(device\) = "):
        vf.load_run(smoke_run, device=device)


def damaged_copy(smoke_run: Path, tmp_path: Path, *, torn: bool = False,
                 no_summary: bool = False) -> Path:
    """A copy of the smoke run as a kill leaves one: a half-written last row, no summary."""
    copy = tmp_path / "damaged"
    shutil.copytree(smoke_run, copy)
    if torn:
        with (copy / "metrics.jsonl").open("a", encoding="utf-8") as history:
            history.write('{"epoch": 4, "epoch/lo')
    if no_summary:
        (copy / "summary.json").unlink()
    return copy


def test_load_run_ignores_a_torn_last_row_with_a_warning(smoke_run: Path, tmp_path: Path
                                                         ) -> None:
    copy = damaged_copy(smoke_run, tmp_path, torn=True)
    before = fingerprint(copy)
    with pytest.warns(vf.RunDirWarning, match=r"metrics\.jsonl:\d+: ignored a torn last line"):
        run = vf.load_run(copy)
    assert run.record.history == vf.load_run(smoke_run).record.history
    assert fingerprint(copy) == before


def test_a_bad_row_before_the_last_is_still_an_error(smoke_run: Path, tmp_path: Path) -> None:
    copy = damaged_copy(smoke_run, tmp_path)
    rows = (copy / "metrics.jsonl").read_text().splitlines()
    (copy / "metrics.jsonl").write_text("\n".join([rows[0], "{not json", *rows[1:]]) + "\n")
    with pytest.raises(vf.VaeframeError, match=r"metrics\.jsonl:2: not a JSON line"):
        vf.load_run(copy)


@pytest.mark.slow
@pytest.mark.parametrize("command", ["encode", "report"])
def test_read_only_commands_read_a_torn_history_and_write_nothing_into_the_run(
        smoke_run: Path, tmp_path: Path, command: str) -> None:
    copy = damaged_copy(smoke_run, tmp_path, torn=True)
    before = fingerprint(copy)
    result = vaeframe(command, copy, "--out", tmp_path / ("z.npz" if command == "encode"
                                                          else "report"))
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert warnings and all("ignored a torn last line" in w for w in warnings)
    assert "Traceback" not in result.stderr and fingerprint(copy) == before


def test_a_run_without_summary_opens_from_its_checkpoint_and_says_so(
        smoke_run: Path, tmp_path: Path) -> None:
    copy = damaged_copy(smoke_run, tmp_path, no_summary=True)
    with pytest.warns(vf.RunDirWarning, match="no summary.json .*read from its checkpoints"):
        run = vf.load_run(copy, checkpoint="last")
    assert run.summary["status"] == "unknown" and run.summary["name"] == "smoke"
    mu, _ = run.encode([GOOD])
    assert mu.shape == (1, 4) and np.isfinite(mu).all()


def test_an_empty_directory_is_still_not_a_run(tmp_path: Path) -> None:
    (tmp_path / "checkpoints").mkdir()
    with pytest.raises(vf.VaeframeError, match=r"not a vaeframe run directory \(no summary"):
        vf.load_run(tmp_path)


@pytest.mark.slow
def test_a_run_killed_during_training_opens_reports_and_resumes(tmp_path: Path) -> None:
    """The reproduction: kill -9 while training; load_run, encode and report read the run
    from its last checkpoint, and --resume finishes it."""
    out = tmp_path / "runs"
    process = subprocess.Popen(
        [sys.executable, "-m", "vaeframe", "run", str(CONFIGS / "smoke.toml"), "--epochs", "8",
         "--set", f"run.output_dir={out}", "--set", "data.num_train=384",
         "--set", "train.batch_size=8"], env=cli_env(), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(out.glob("*/checkpoints/last.pt")):
        assert process.poll() is None and time.monotonic() < deadline, "no checkpoint came"
        time.sleep(0.05)
    time.sleep(0.5)
    process.kill()
    process.wait()
    run_dir = only_run_dir(out)
    assert not (run_dir / "summary.json").exists()
    before = fingerprint(run_dir)
    with pytest.warns(vf.RunDirWarning):
        run = vf.load_run(run_dir, checkpoint="last")
    assert run.summary["status"] == "unknown" and run.latent_dim == 4
    for command, target in (("encode", "z.npz"), ("report", "report")):
        result = vaeframe(command, run_dir, "--checkpoint", "last", "--out", tmp_path / target
                          ) if command == "encode" else vaeframe(command, run_dir, "--out",
                                                                 tmp_path / target)
        assert result.returncode == 0, result.stderr
        assert "warning: " in result.stderr and "Traceback" not in result.stderr
    assert fingerprint(run_dir) == before
    resumed = vaeframe("run", "--resume", run_dir)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "finished"


@pytest.fixture(scope="module")
def other_latent_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """last.pt of a smoke run with latent_dim 3 (the smoke run's is 4)."""
    out = tmp_path_factory.mktemp("other")
    result = vaeframe("run", CONFIGS / "smoke.toml", "--epochs", "1", "--set",
                      f"run.output_dir={out}", "--set", "model.latent_dim=3")
    assert result.returncode == 0, result.stderr
    return only_run_dir(out) / "checkpoints" / "last.pt"


@pytest.mark.slow
@pytest.mark.parametrize("args", [[], ["--epochs", "3"], ["--epochs", "5"]])
def test_a_refused_resume_changes_nothing_in_the_run(smoke_run: Path, tmp_path: Path,
                                                      other_latent_checkpoint: Path,
                                                      args: list[str]) -> None:
    """The reproduction: a checkpoint that does not fit is refused before config.toml or
    summary.json is rewritten; the finished run still says it finished."""
    copy = damaged_copy(smoke_run, tmp_path)
    shutil.copy(other_latent_checkpoint, copy / "checkpoints" / "last.pt")
    before = fingerprint(copy)
    result = vaeframe("run", "--resume", copy, *args)
    assert result.returncode == 2, result.stderr
    assert "does not fit this run's model, optimizer or" in result.stderr
    assert result.stderr.count("error: ") == 1 and "Traceback" not in result.stderr
    assert fingerprint(copy) == before
    assert json.loads((copy / "summary.json").read_text())["status"] == "finished"


def test_a_resume_with_an_unreadable_checkpoint_changes_nothing(smoke_run: Path,
                                                                tmp_path: Path) -> None:
    copy = damaged_copy(smoke_run, tmp_path)
    (copy / "checkpoints" / "last.pt").write_bytes(b"not a checkpoint")
    before = fingerprint(copy)
    result = vaeframe("run", "--resume", copy, "--epochs", "5")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "last.pt" in result.stderr and fingerprint(copy) == before


@pytest.mark.slow
def test_resume_drops_a_torn_last_row_and_says_so(smoke_run: Path, tmp_path: Path) -> None:
    """The reproduction: a half-written last row of a finished run's metrics.jsonl; resume
    extends the run and the history holds whole rows only."""
    copy = damaged_copy(smoke_run, tmp_path, torn=True)
    result = vaeframe("run", "--resume", copy, "--epochs", "5")
    assert result.returncode == 0, result.stderr
    assert "note: metrics.jsonl: dropped a torn last line" in result.stderr
    rows = [json.loads(line) for line in (copy / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows if "epoch/loss" in r] == [1, 2, 3, 4, 5]
    assert json.loads((copy / "summary.json").read_text())["status"] == "finished"


def test_trim_history_keeps_rows_up_to_the_checkpoint(tmp_path: Path) -> None:
    history = tmp_path / "h.csv"
    history.write_text("1,a\n2,b\n3,c\n4,d\n5,")

    def step_of(line: str) -> int:
        step, value = line.split(",")
        if not value.strip():
            raise ValueError("a torn row")
        return int(step)

    assert vf.trim_history(history, 2, step_of) == (
        "h.csv: dropped 2 row(s) past the checkpoint (step 2) and a torn last line")
    assert history.read_text() == "1,a\n2,b\n"
    assert vf.trim_history(history, 2, step_of) is None and history.read_text() == "1,a\n2,b\n"
    history.write_text("1,a\nbad\n3,c\n")
    with pytest.raises(ValueError):
        vf.trim_history(history, 5, lambda line: int(line.split(",")[0]))
    assert history.read_text() == "1,a\nbad\n3,c\n"


HUGE = "1000000000000000000000000000000"


@pytest.mark.parametrize(("old", "new", "fragments"), [
    ("num_heldout = 32", f"num_heldout = {HUGE}",
     ["data.num_heldout: must be <= 10,000,000", "held in memory"]),
    ("num_train = 96", "num_train = 10000001", ["data.num_train: must be <= 10,000,000"]),
    ("epochs = 3", f"epochs = {HUGE}", ["train.epochs: must be <= 16,777,216", "float32"]),
    ("epochs = 3", "epochs = 16777217", ["train.epochs: must be <= 16,777,216"]),
    ('name = "synthetic"\nnum_train = 96\nnum_heldout = 32',
     f'name = "arc-shapes"\nnum_train = {HUGE}', ["data.num_train: must be <= 10,000,000"]),
])
def test_absurd_values_are_refused_up_front_with_the_bound(tmp_path: Path, old: str, new: str,
                                                           fragments: list[str]) -> None:
    """The reproduction: sizes no machine can honour are one error naming the file and the
    key, at once, and no run directory is made."""
    text = (CONFIGS / "smoke.toml").read_text()
    assert old in text
    bad = tmp_path / "absurd.toml"
    bad.write_text(text.replace(old, new, 1).replace('output_dir = "runs"',
                                                     f'output_dir = "{tmp_path / "runs"}"'))
    result = vaeframe("run", bad, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {bad}: ")
    assert all(f in result.stderr for f in fragments), result.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("args", [["--epochs", HUGE], ["--set", f"data.num_heldout={HUGE}"]])
def test_absurd_flags_are_refused_naming_the_flag(tmp_path: Path, args: list[str]) -> None:
    result = vaeframe("run", CONFIGS / "smoke.toml", "--set", f"run.output_dir={tmp_path}",
                      *args, timeout=60)
    assert result.returncode == 2 and result.stderr.startswith(f"error: {args[0]} ")
    assert "must be <= " in result.stderr and not any(tmp_path.iterdir())


def start_run(out: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "vaeframe", "run", str(CONFIGS / "smoke.toml"),
         "--set", f"run.output_dir={out}", *args], env=cli_env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def assert_understood(out: Path, returncode: int, stderr: str) -> None:
    """A run stopped by SIGTERM: no traceback, and no run directory, or one that resumes."""
    assert "Traceback" not in stderr, stderr
    runs = list(out.iterdir()) if out.exists() else []
    if not runs:
        assert returncode in (143, -signal.SIGTERM), stderr
        return
    assert returncode == 143, stderr
    run_dir = only_run_dir(out)
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "interrupted"
    resumed = vaeframe("run", "--resume", run_dir)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "finished"


@pytest.mark.slow
def test_sigterm_as_the_run_directory_appears_leaves_a_run_that_resumes(tmp_path: Path) -> None:
    """The reproduction: SIGTERM the moment the run directory exists."""
    out = tmp_path / "runs"
    process = start_run(out)
    deadline = time.monotonic() + 60
    while not (out.exists() and any(out.iterdir())):
        assert process.poll() is None and time.monotonic() < deadline, "no run directory"
        time.sleep(0.001)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert_understood(out, process.returncode, stderr.decode())
    assert list(out.iterdir()), "the run directory was there before the signal"


@pytest.mark.parametrize("delay", [0.05, 0.3, 0.6, 0.9, 1.2, 1.6, 2.2])
@pytest.mark.slow
def test_sigterm_at_any_moment_of_start_up_is_understood(tmp_path: Path, delay: float) -> None:
    """SIGTERM during imports, data loading, setup or the first steps: exit 143 (or the
    default handler's death before Python catches it) and no half-made run directory."""
    out = tmp_path / "runs"
    process = start_run(out, "--set", "data.num_train=2000")
    time.sleep(delay)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert_understood(out, process.returncode, stderr.decode())


@pytest.fixture
def small_disk(tmp_path: Path):
    """A tmpfs of 2 MB mounted for the test (CI runs as root); skipped where mount is not
    allowed."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


def assert_write_error(result: subprocess.CompletedProcess[str], path_part: str) -> None:
    assert result.returncode == 74, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert path_part in errors[0] and "no space left on the device" in errors[0]


@pytest.mark.slow
def test_a_disk_that_fills_during_training_is_one_error_and_keeps_the_last_checkpoint(
        small_disk: Path) -> None:
    """The reproduction: checkpoints of a bigger model fill a 2 MB disk after the first."""
    out = small_disk / "runs"
    result = vaeframe("run", CONFIGS / "smoke.toml", "--epochs", "20", "--set",
                      f"run.output_dir={out}", "--set", "model.channels=[32, 64, 96]")
    assert_write_error(result, "checkpoints/")
    run_dir = only_run_dir(out)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "failed"
    # the failed write stops training after the step in flight, not epochs later
    assert summary["epochs_completed"] <= 2, summary["epochs_completed"]
    assert not list((run_dir / "checkpoints").glob(".*.tmp"))
    for checkpoint in (run_dir / "checkpoints").glob("*.pt"):
        assert load_checkpoint(checkpoint)["epoch"] >= 1


@pytest.mark.slow
def test_a_disk_full_from_the_start_is_one_error_and_leaves_no_run_directory(
        small_disk: Path) -> None:
    subprocess.run(["dd", "if=/dev/zero", f"of={small_disk / 'filler'}", "bs=64k"],
                   capture_output=True, check=False)  # fills the disk; dd then fails
    out = small_disk / "runs"
    result = vaeframe("run", CONFIGS / "smoke.toml", "--set", f"run.output_dir={out}")
    assert_write_error(result, "config.toml")
    assert not out.exists() or not any(out.iterdir())


def _mutations(rng: np.random.Generator, table: dict, path: tuple = ()) -> list[tuple]:
    """Every (key path, value) of a parsed run file, for the fuzz to pick from."""
    found = []
    for key, value in table.items():
        here = (*path, key)
        if isinstance(value, dict):
            found += _mutations(rng, value, here)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for index, item in enumerate(value):
                found += _mutations(rng, item, (*here, index))
        else:
            found.append((here, value))
    return found


BAD_VALUES = ["", "three", -1, 0, -1e30, 1e30, 10**30, 2**63, True, [], [1, "a"], {"x": 1},
              float("nan"), float("inf"), 1.5, "auto:0", "../../etc", None]


def _mutated(rng: np.random.Generator, config: dict) -> tuple[dict, str]:
    import copy

    mutated = copy.deepcopy(config)
    path, _ = _mutations(rng, mutated)[rng.integers(len(_mutations(rng, mutated)))]
    holder = mutated
    for key in path[:-1]:
        holder = holder[key]
    action = rng.integers(4)
    if action == 0:
        del holder[path[-1]]
        return mutated, f"delete {path}"
    if action == 1:
        holder[f"{path[-1]}_typo"] = holder.pop(path[-1])
        return mutated, f"rename {path}"
    value = BAD_VALUES[rng.integers(len(BAD_VALUES))]
    if value is None:
        value = "null"
    holder[path[-1]] = value
    return mutated, f"set {path} = {value!r}"


def test_a_seeded_fuzz_of_the_run_file_gives_config_errors_only(registry) -> None:
    """300 seeded mutations of configs/smoke.toml (a key deleted or misspelt, a value of the
    wrong type or far out of range): each is accepted, or refused with one ConfigError that
    names the file; never another exception."""
    from vaeframe.config.overrides import configure
    from vaeframe.config.tomlfile import loads_toml
    from vaeframe.errors import ConfigError

    source = str(CONFIGS / "smoke.toml")
    config = loads_toml((CONFIGS / "smoke.toml").read_text())
    rng = np.random.default_rng(20261202)
    refused = 0
    for trial in range(300):
        mutated, what = _mutated(rng, config)
        try:
            configure(mutated, registry, source)
        except ConfigError as exc:
            refused += 1
            assert str(exc).startswith(f"{source}: "), (trial, what, str(exc))
            message = str(exc)
            assert "Traceback" not in message and message.count(source) == 1, (trial, what)
        except Exception as exc:  # the point of the test: nothing else may escape
            pytest.fail(f"trial {trial}, {what}: {type(exc).__name__}: {exc}")
    assert refused > 150  # most mutations break the file: the fuzz is not a no-op


def _damage(run_dir: Path, kind: str) -> None:
    checkpoints = run_dir / "checkpoints"
    damage = {
        "no-config": lambda: (run_dir / "config.toml").unlink(),
        "config-not-toml": lambda: (run_dir / "config.toml").write_text("[run\nname = "),
        "config-unknown-model": lambda: (run_dir / "config.toml").write_text(
            (run_dir / "config.toml").read_text().replace('name = "conv"', 'name = "nope"')),
        "summary-not-json": lambda: (run_dir / "summary.json").write_text("{"),
        "summary-a-list": lambda: (run_dir / "summary.json").write_text("[1, 2]"),
        "history-bad-middle-row": lambda: (run_dir / "metrics.jsonl").write_text(
            "{oops\n" + (run_dir / "metrics.jsonl").read_text()),
        "checkpoints-truncated": lambda: [p.write_bytes(p.read_bytes()[:100])
                                          for p in checkpoints.glob("*.pt")],
        "checkpoints-gone": lambda: shutil.rmtree(checkpoints),
    }
    damage[kind]()


DAMAGE = ["no-config", "config-not-toml", "config-unknown-model", "summary-not-json",
          "summary-a-list", "history-bad-middle-row", "checkpoints-truncated",
          "checkpoints-gone"]
SURFACES = {
    "encode": lambda d, out: ["encode", d, "--out", out / "z.npz"],
    "report": lambda d, out: ["report", d, "--out", out / "report"],
    "resume": lambda d, out: ["run", "--resume", d, "--epochs", "4"],
}
# damage a surface does not read (resume takes nothing from summary.json) is no error there
NOT_READ = {("resume", "summary-not-json"), ("resume", "summary-a-list")}


@pytest.mark.slow
@pytest.mark.parametrize(("surface", "kind"), [(surface, kind) for surface in SURFACES
                                               for kind in DAMAGE
                                               if (surface, kind) not in NOT_READ])
def test_a_damaged_run_directory_is_one_error_on_every_surface_and_stays_as_it_was(
        smoke_run: Path, tmp_path: Path, surface: str, kind: str) -> None:
    copy = damaged_copy(smoke_run, tmp_path)
    _damage(copy, kind)
    before = fingerprint(copy)
    result = vaeframe(*SURFACES[surface](copy, tmp_path))
    if (surface, kind) == ("report", "checkpoints-gone"):  # a report without pictures
        assert result.returncode == 0, result.stderr
        assert "no checkpoint: no reconstructions" in (tmp_path / "report" / "report.md"
                                                        ).read_text()
        assert fingerprint(copy) == before
        return
    assert result.returncode == 2, (result.returncode, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert str(copy) in errors[0] or "nope" in errors[0], errors[0]
    assert fingerprint(copy) == before


DISK_FILLER = """
    from pathlib import Path
    from typing import Any
    import attrs
    from vaeframe import Logger, hookimpl

    @attrs.define
    class DiskFiller(Logger):
        '''Writes 256 kB into the run directory at every logging step: a real full disk.'''

        _file: Any = attrs.field(init=False, default=None)

        def open(self, run):
            self._file = Path(run.run_dir, "filler.bin").open("ab")

        def log(self, metrics, step):
            self._file.write(b"\\\\0" * 262144)
            self._file.flush()

        def close(self, summary, status):
            self._file.close()

    @hookimpl
    def register_loggers(register):
        register("disk_filler", DiskFiller)
"""


@pytest.mark.slow
def test_a_logger_that_fills_the_disk_is_one_write_error_naming_the_logger(
        small_disk: Path, tmp_path: Path) -> None:
    out = small_disk / "runs"
    result = run_with_plugin(tmp_path, "disk_filler_plugin", DISK_FILLER, "run",
                             CONFIGS / "smoke.toml", "--epochs", "20",
                             "--set", f"run.output_dir={out}",
                             "--set", 'loggers=[{name="jsonl"}, {name="disk_filler"}]')
    assert result.returncode == 74, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert errors[0].startswith("error: logger 'disk_filler'")
    assert "no space left on the device" in errors[0]


def test_the_jsonl_logger_on_a_full_disk_is_a_write_error_naming_it(small_disk: Path) -> None:
    """The built-in history writer: a row that no longer fits is a WriteError (exit 74) that
    names the logger, raised through the same plugin call as every logger's."""
    from vaeframe_loggers import JsonlLogger

    from vaeframe.config.schema import ComponentConfig
    from vaeframe.errors import WriteError
    from vaeframe.registry.calls import call_plugin
    from vaeframe.registry.types import RunInfo

    logger = ComponentConfig("loggers", "jsonl", JsonlLogger())
    call_plugin(logger, "open", RunInfo(name="full", run_dir=small_disk, config={}))
    subprocess.run(["dd", "if=/dev/zero", f"of={small_disk / 'filler'}", "bs=64k"],
                   capture_output=True, check=False)  # fills the disk; dd then fails
    try:
        with pytest.raises(WriteError) as caught:
            for step in range(1, 200):  # the handle's buffer takes the first rows
                call_plugin(logger, "log", {"train/loss": 1.0, "pad": "x" * 4000}, step)
    finally:
        (small_disk / "filler").unlink()
        call_plugin(logger, "close", {}, "failed")
    assert caught.value.exit_code == 74
    assert str(caught.value).startswith("logger 'jsonl' failed in log(): could not write")
    assert "no space left on the device" in str(caught.value)
