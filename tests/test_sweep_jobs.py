"""``vaeframe sweep --jobs N``: slots, the same figures as one after another, failures,
Ctrl-C and ``--resume``, all with real ``vaeframe`` processes."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import VAEFRAME, cli_env, read_jsonl, vaeframe, write_sweep

from vaeframe.cli.app import run_point
from vaeframe.errors import ConfigError, VaeframeError
from vaeframe.registry.manager import Registry
from vaeframe.rundir.layout import checkpoint_path
from vaeframe.sweeps.cluster import SlurmOptions, cluster_launcher, slurm_options
from vaeframe.sweeps.pool import LocalProcess, PointPool, describe_outcomes
from vaeframe.sweeps.progress import (
    ProgressDisplay,
    ProgressFile,
    progress_line,
    read_progress,
)
from vaeframe.sweeps.sequential import run_points
from vaeframe.sweeps.slots import Slot, environment_threads, parse_devices, plan_slots
from vaeframe.sweeps.spec import latest_dir, load_sweep, point_run_name
from vaeframe.sweeps.state import FINISHED, NEW, RESUMABLE, point_run_dirs, point_state

# every point a few hundred steps: long enough to be interrupted, a few seconds each
LONG = ["--set", "data.num_train=384", "--set", "train.batch_size=8",
        "--set", "train.log_every_n_steps=4", "--set", "model.channels=[4, 8, 8]"]
COMPARED = ("final", "best", "beta_history", "criteria", "epochs_completed", "steps",
            "dataset", "declared")


def summaries(directory: Path) -> dict[str, dict]:
    """Each run's summary.json by run name (the directory without its timestamp)."""
    found = {}
    for path in directory.glob("*/summary.json"):
        name = re.sub(r"-\d{8}-\d{6}(-\d+)?$", "", path.parent.name)
        assert name not in found, f"two runs of {name} in {directory}"
        found[name] = json.loads(path.read_text())
    return found


# -- slots: threads and devices --------------------------------------------------------------

def test_threads_add_up_to_the_cpus() -> None:
    assert [s.threads for s in plan_slots(3, 16)] == [6, 5, 5]
    assert [s.threads for s in plan_slots(2, 2)] == [1, 1]
    assert [s.threads for s in plan_slots(4, 2)] == [1, 1, 1, 1]  # never 0
    assert [s.threads for s in plan_slots(3, 16, threads=2)] == [2, 2, 2]
    assert sum(s.threads for s in plan_slots(5, 64)) == 64
    with pytest.raises(VaeframeError, match="--jobs 0"):
        plan_slots(0, 4)


def test_devices_are_assigned_round_robin_by_slot() -> None:
    slots = plan_slots(3, 6, parse_devices("cuda:0, cuda:1"))
    assert [s.device for s in slots] == ["cuda:0", "cuda:1", "cuda:0"]
    assert slots[1].sets() == ['train.device="cuda:1"']
    assert plan_slots(2, 2)[0].sets() == []  # no --devices: the point's own train.device
    env = slots[2].environment({"PATH": "/bin", "OMP_NUM_THREADS": "8"})
    assert env == {"PATH": "/bin", "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}


def test_the_point_command_puts_each_slot_on_its_device(tmp_path: Path,
                                                        registry: Registry) -> None:
    sweep = load_sweep(write_sweep(tmp_path, '[sweep]\ngrid = { "train.epochs" = [1, 2, 3] }\n'),
                       registry)
    slots = plan_slots(2, 2, parse_devices("cuda:0,cuda:1"))
    pool = PointPool(sweep, tmp_path, slots, ["my_plugin"], resume=True)
    command = pool.point_command(sweep.points[2], slots[1], tmp_path / "p.json")
    assert command == ["-p", "my_plugin", "sweep", str(sweep.source), "--point", "2",
                       "--dir", str(tmp_path), "--resume", "--set", 'train.device="cuda:1"',
                       "--progress-file", str(tmp_path / "p.json")]


@pytest.mark.parametrize("text", ["cuda:0,,cuda:1", "gpu0", "cpu:1"])
def test_bad_devices_name_the_flag(text: str) -> None:
    with pytest.raises(VaeframeError) as caught:
        parse_devices(text)
    assert str(caught.value).startswith(f"--devices {text}: ") and "cuda:N" in str(caught.value)


def test_omp_num_threads_sets_the_threads_of_every_point() -> None:
    assert environment_threads({"OMP_NUM_THREADS": "3"}) == 3
    assert environment_threads({"OMP_NUM_THREADS": "0"}) is None
    assert environment_threads({}) is None


# -- state of a point in the sweep directory --------------------------------------------------

def test_a_points_runs_are_told_apart_from_a_longer_name(tmp_path: Path) -> None:
    for name in ("s-fb0-20260101-101010", "s-fb0-20260101-101010-2",
                 "s-fb0-20260101-101010-10", "s-fb0.5-20260101-101011", "s-fb0-notes"):
        (tmp_path / name).mkdir()
    assert [p.name for p in point_run_dirs(tmp_path, "s-fb0")] == [
        "s-fb0-20260101-101010", "s-fb0-20260101-101010-2", "s-fb0-20260101-101010-10"]
    assert point_state(tmp_path, "s-fb0").status == NEW  # no checkpoint, no summary
    assert point_state(tmp_path / "absent", "s-fb0").status == NEW


# -- stopping with points still queued ------------------------------------------------------

WAITS_FOR_SIGINT = ("import signal, sys, time\n"
                    "signal.signal(signal.SIGINT, lambda *_: sys.exit(130))\n"
                    "print('waiting', flush=True)\n"
                    "time.sleep(60)\n")


class CtrlCAfterFirstStart:
    """Starts each point as a real process that waits for SIGINT; right after starting the
    first, Ctrl-C reaches the sweep (this process), with more points still queued."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, argv, slot: Slot, log: Path) -> LocalProcess:
        with log.open("w") as handle:
            process = subprocess.Popen([sys.executable, "-c", WAITS_FOR_SIGINT],
                                       stdout=handle, start_new_session=True)
        self.started.append(process)
        while "waiting" not in log.read_text():
            time.sleep(0.01)
        signal.raise_signal(signal.SIGINT)
        return LocalProcess(process)

    def describe(self, slot: Slot) -> str:
        return slot.describe()


def test_a_stop_signal_with_points_queued_ends_the_pool_and_leaves_them_not_started(
        tmp_path: Path, registry: Registry) -> None:
    table = "[sweep]\nname = \"Q\"\n" + "".join(
        f'[[sweep.points]]\nname = "{x}"\n"train.epochs" = 1\n' for x in "abc")
    sweep = load_sweep(write_sweep(tmp_path, table), registry)
    launcher = CtrlCAfterFirstStart()
    pool = PointPool(sweep, tmp_path / "sweep", [Slot(0, 1)], launcher=launcher)

    def too_long(*_: object) -> None:
        raise TimeoutError("the pool did not end after the stop signal")

    previous = signal.signal(signal.SIGALRM, too_long)
    signal.alarm(20)
    try:
        outcomes = pool.run(list(sweep.points))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert len(launcher.started) == 1 and launcher.started[0].returncode == 130
    assert pool.signum == signal.SIGINT
    assert [(o.point.label, o.status) for o in outcomes] == [
        ("a", "interrupted"), ("b", "not started"), ("c", "not started")]
    assert describe_outcomes(outcomes)[0] == "1 interrupted, 2 not started"


# -- the progress file and its line ---------------------------------------------------------

def test_a_point_reports_its_progress_through_its_file(tmp_path: Path,
                                                       registry: Registry) -> None:
    sweep = load_sweep(write_sweep(tmp_path, '[sweep]\nname = "P"\n'), registry)
    progress = tmp_path / "logs" / "p.json"
    failed, interrupted = run_points(sweep, list(sweep.points), tmp_path / "out", registry,
                                     watchers=[ProgressFile(progress)])
    assert (failed, interrupted) == ([], None)
    state = read_progress(progress)
    [run_dir] = point_run_dirs(tmp_path / "out", "P")
    assert state == {"run_dir": str(run_dir), "step": 9, "epoch": 3, "epochs": 3, "steps": 9,
                     "loss": state["loss"], "status": "finished"}
    logged = [row for row in read_jsonl(run_dir / "metrics.jsonl") if "train/loss" in row]
    assert state["loss"] == logged[-1]["train/loss"]  # the last logged step's loss
    line = progress_line("[0] P", state, 75, Slot(0, 1).describe())
    assert line == (f"[0] P  epoch 3/3  step 9/9 (100%)  loss {state['loss']:.4g}  1m15s  "
                    "its own train.device, 1 thread")
    assert progress_line("[1] Q", {}, 2, "cuda:1, 4 threads") == (
        "[1] Q  starting  0m02s  cuda:1, 4 threads")


def test_without_a_terminal_the_lines_are_printed_every_interval(
        capsys: pytest.CaptureFixture[str]) -> None:
    with ProgressDisplay(interval_s=3600) as display:
        display.update(["[0] a  epoch 1/3"])  # within the interval: nothing yet
        display.event("[1] b: started")
        display.interval_s = 0
        display.update(["[0] a  epoch 2/3", "[1] b  starting"])
    assert capsys.readouterr().err.splitlines() == [
        "[1] b: started", "  [0] a  epoch 2/3", "  [1] b  starting"]


# -- whole sweeps in processes --------------------------------------------------------------

FOUR_POINTS = """
[sweep]
name = "J"
[[sweep.points]]
name = "plain"
kl = { name = "none" }
[[sweep.points]]
name = "fb"
"kl.threshold" = 0.3
[[sweep.points]]
name = "bad"
"data.max_side" = 40   # passes the run file's checks; the dataset refuses it at run time
[[sweep.points]]
name = "cyclical"
schedule = { name = "cyclical", cycle_length = 2, max_beta = 0.2 }
"""


@pytest.fixture(scope="module")
def parallel_sweep(tmp_path_factory: pytest.TempPathFactory,
                   registry: Registry) -> tuple[Path, Path, str]:
    """The same four points one after another in this process and with --jobs 2."""
    tmp = tmp_path_factory.mktemp("jobs")
    path = write_sweep(tmp, FOUR_POINTS)
    sweep = load_sweep(path, registry)
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each of the two points in parallel
    try:
        failed, interrupted = run_points(sweep, list(sweep.points), tmp / "one-by-one",
                                         registry)
    finally:
        torch.set_num_threads(threads)
    assert (failed, interrupted) == (["bad"], None)
    result = vaeframe("sweep", path, "--jobs", "2", "--threads", "1", "--devices", "cpu",
                      "--dir", tmp / "jobs")
    return tmp / "one-by-one", tmp / "jobs", result.stderr + f"\nexit code {result.returncode}"


@pytest.mark.slow
def test_points_in_parallel_give_the_same_figures(parallel_sweep: tuple[Path, Path, str]) -> None:
    sequential, parallel, output = parallel_sweep
    one, two = summaries(sequential), summaries(parallel)
    assert sorted(two) == ["J-bad", "J-cyclical", "J-fb", "J-plain"], output
    for name in ["J-plain", "J-fb", "J-cyclical"]:
        assert two[name]["status"] == "finished", output
        assert {k: two[name][k] for k in COMPARED} == {k: one[name][k] for k in COMPARED}
    assert one["J-plain"]["final"] != one["J-fb"]["final"]  # the points differ
    report = (parallel / "report" / "table.md").read_text()
    assert all(name in report for name in two), report
    logs = sorted(p.name for p in (parallel / "logs").glob("*.log"))
    assert logs == ["J-bad.log", "J-cyclical.log", "J-fb.log", "J-plain.log"]
    log = (parallel / "logs" / "J-fb.log").read_text()
    assert "vaeframe run J-fb" in log
    assert "vaeframe run J-fb" not in output  # the points' console output is in their logs
    assert "[1] fb: started (cpu, 1 thread)" in output  # --devices cpu, --threads 1
    assert "--set 'train.device=\"cpu\"' --progress-file" in log.splitlines()[0]


@pytest.mark.slow
def test_a_failed_point_is_reported_and_the_others_finish(
        parallel_sweep: tuple[Path, Path, str]) -> None:
    _, parallel, output = parallel_sweep
    assert output.endswith("exit code 1"), output
    assert "sweep J: 3 finished, 1 failed" in output
    failure = output[output.index("sweep J: [2] bad: failed with exit code 1"):]
    assert str(parallel / "logs" / "J-bad.log") in failure.splitlines()[0]
    assert "need min_side <= max_side <= 30, got 3 and 40" in failure  # its log's last lines
    assert summaries(parallel)["J-bad"]["status"] == "failed"
    assert "Traceback" not in output


@pytest.mark.slow
def test_resume_skips_every_finished_point(parallel_sweep: tuple[Path, Path, str],
                                          tmp_path: Path, registry: Registry) -> None:
    parallel = shutil.copytree(parallel_sweep[1], tmp_path / "copy")
    before = {p: p.stat().st_mtime_ns for p in parallel.glob("*/summary.json")}
    sweep = load_sweep(write_sweep(parallel.parent, FOUR_POINTS), registry)
    states = {p.label: point_state(parallel, point_run_name(sweep, p)) for p in sweep.points}
    assert {label: s.status for label, s in states.items()} == {
        "plain": FINISHED, "fb": FINISHED, "bad": NEW, "cyclical": FINISHED}
    # only the failed point runs again (and fails again), in this process
    failed, _ = run_points(sweep, list(sweep.points), parallel, registry, resume=True)
    assert failed == ["bad"]
    assert {p: p.stat().st_mtime_ns for p in before} == before
    assert len(point_run_dirs(parallel, "J-bad")) == 2


# the long points wait at their first step while the gate file exists (see Gate in
# tests/helper_plugins): they are surely training, and surely not done, when Ctrl-C comes
THREE_POINTS = """
[sweep]
name = "C"
[[sweep.points]]
name = "short"
"train.epochs" = 1
[[sweep.points]]
name = "long-a"
"train.epochs" = 16
transforms = [{{ name = "gate", path = "{gate}" }}]
[[sweep.points]]
name = "long-b"
"train.epochs" = 16
"schedule.max_beta" = 0.3
transforms = [{{ name = "gate", path = "{gate}" }}]
"""
HELPERS = Path(__file__).parent / "helper_plugins"


def wait_until_training(directory: Path, process: subprocess.Popen[str]) -> None:
    """Until the short point has finished and both long ones are training."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert process.poll() is None, "the sweep ended before it could be interrupted"
        short = point_state(directory, "C-short").status == FINISHED
        training = [read_progress(directory / "logs" / f"C-long-{x}.progress.json")
                    .get("epoch") for x in "ab"]
        if short and all(training):
            return
        time.sleep(0.05)
    raise AssertionError("the long points never started training")


@pytest.mark.slow
def test_ctrl_c_stops_every_point_and_resume_completes_the_sweep(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    gate.touch()
    path = write_sweep(tmp_path, THREE_POINTS.format(gate=gate))
    directory = tmp_path / "sweep"
    process = subprocess.Popen(
        [str(VAEFRAME), "-p", "vaeframe_test_helpers", "sweep", str(path), "--jobs", "2",
         "--threads", "1", "--dir", str(directory), *LONG],
        env=cli_env(PYTHONPATH=str(HELPERS)), text=True, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, start_new_session=True)
    wait_until_training(directory, process)
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends: the sweep's process group
    time.sleep(0.5)  # the points have the signal; now let their first step end
    gate.unlink()
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "SIGINT: asking 2 running point(s) to stop" in stderr
    assert "sweep C: 1 finished, 2 interrupted" in stderr, stderr
    stopped = summaries(directory)
    assert stopped["C-short"]["status"] == "finished"
    for name in ("C-long-a", "C-long-b"):
        assert stopped[name]["status"] == "interrupted", stderr
        assert stopped[name]["epochs_completed"] < 16
        [run_dir] = point_run_dirs(directory, name)
        assert checkpoint_path(run_dir, "last").is_file()
        assert point_state(directory, name).status == RESUMABLE
    assert not (directory / "report").exists()

    command = stderr.split("Resume the sweep with\n", 1)[1].splitlines()[0].strip()
    assert command.endswith("--resume") and f"--dir {directory}" in command
    short_summary = next(directory.glob("C-short-*/summary.json"))
    written = short_summary.stat().st_mtime_ns
    resumed = vaeframe(*shlex.split(command)[1:], PYTHONPATH=str(HELPERS))
    assert resumed.returncode == 0, resumed.stderr
    assert "[0] short finished already; skipped" in resumed.stderr
    assert short_summary.stat().st_mtime_ns == written  # not run again
    finished = summaries(directory)  # still one run directory a point
    assert all(s["status"] == "finished" for s in finished.values()), finished
    assert [finished[n]["epochs_completed"] for n in ("C-short", "C-long-a", "C-long-b")] == [
        1, 16, 16]
    for name in ("C-long-a", "C-long-b"):
        assert "resuming at step" in (directory / "logs" / f"{name}.log").read_text()
    assert (directory / "report" / "table.md").is_file()


# -- the command line -------------------------------------------------------------------------

@pytest.mark.parametrize(("flags", "message"), [
    (["--jobs", "0"], "--jobs: give a whole number of at least 1"),
    (["--threads", "0"], "--threads: give a whole number of at least 1"),
    (["--jobs", "2", "--point", "0"], "--point runs one point; --jobs and --executor run several"),
    (["--jobs", "2", "--devices", "cuda:0,gpu1"], "--devices cuda:0,gpu1: 'gpu1' must be"),
    (["--executor", "local", "--point", "0"], "--point runs one point; --jobs and --executor"),
    (["--slurm", "partition=gpu"], "--slurm sets what a cluster job asks for: it needs"),
    (["--executor", "slurm", "--devices", "cuda:0"], "--devices assigns this machine's"),
    (["--resume"], "--resume: no sweep directory"),
    (["--resume", "--dir", "absent"], "--resume --dir absent: no such sweep directory"),
])
def test_bad_sweep_flags_get_one_clear_error(tmp_path: Path, flags: list[str],
                                             message: str) -> None:
    path = write_sweep(tmp_path, '[sweep]\nname = "E"\n')
    result = vaeframe("sweep", path, *flags, "--set", f"run.output_dir={tmp_path / 'runs'}",
                      cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: {message}"), result.stderr
    assert not (tmp_path / "runs").exists()


def test_resume_without_dir_takes_the_newest_sweep_directory(tmp_path: Path,
                                                             registry: Registry) -> None:
    path = write_sweep(tmp_path, '[sweep]\nname = "E"\n')
    sweep = load_sweep(path, registry, [f"run.output_dir={tmp_path / 'runs'}"])
    assert sweep.output_dir == str(tmp_path / "runs")  # --set run.output_dir moves the sweep
    for name in ("E-20260101-101010", "E-20260102-090000", "E-x-20260103-090000"):
        (tmp_path / "runs" / name).mkdir(parents=True)
    (tmp_path / "runs" / "E-20260104-090000").mkdir()  # a plain run named E, not a sweep
    (tmp_path / "runs" / "E-20260104-090000" / "config.toml").write_text("")
    assert latest_dir(sweep) == tmp_path / "runs" / "E-20260102-090000"


def test_the_help_says_how_to_stop_and_resume() -> None:
    result = vaeframe("sweep", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for phrase in ("--jobs N", "--devices LIST", "--threads T", "--resume",
                   "DIR/logs/<run name>.log", "skips the points whose run finished",
                   "128 + the signal's number"):
        assert phrase in text, phrase


# -- cluster jobs with submitit ------------------------------------------------------------

def test_slurm_options_come_from_the_file_and_the_flags(tmp_path: Path,
                                                         registry: Registry) -> None:
    path = write_sweep(tmp_path, '[sweep]\n[sweep.slurm]\npartition = "gpu"\n'
                       'gpus_per_node = 1\nsetup = ["module load cuda"]\n')
    sweep = load_sweep(path, registry)
    options = slurm_options(sweep.slurm, str(path), ["time_min=240", "additional.gres=gpu:1"])
    assert options.parameters("vaeframe-sweep") == {
        "name": "vaeframe-sweep", "timeout_min": 240, "gpus_per_node": 1,
        "cpus_per_task": None, "mem_gb": None, "stderr_to_stdout": True,
        "slurm_partition": "gpu", "slurm_setup": ["module load cuda"],
        "slurm_additional_parameters": {"gres": "gpu:1"}}


@pytest.mark.parametrize(("table", "where", "message"), [
    ('partiton = "gpu"', "sweep.slurm.partiton", "unknown key"),
    ("time_min = 0", "sweep.slurm.time_min", "must be >= 1"),
    ('gpus_per_node = "1"', "sweep.slurm.gpus_per_node", "expected an integer"),
])
def test_bad_slurm_options_in_the_file_name_the_key(tmp_path: Path, registry: Registry,
                                                     table: str, where: str,
                                                     message: str) -> None:
    path = write_sweep(tmp_path, f"[sweep]\n[sweep.slurm]\n{table}\n")
    with pytest.raises(ConfigError) as caught:
        load_sweep(path, registry)  # checked with the file, before anything runs
    assert (caught.value.source, caught.value.path) == (str(path), where)
    assert message in caught.value.message


@pytest.mark.parametrize(("flag", "where", "message"), [
    ("time_min=long", "sweep.slurm.time_min", "expected an integer"),
    ("partition", "", "expected KEY=VALUE"),
])
def test_bad_slurm_flags_name_the_flag(flag: str, where: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        slurm_options({}, "sweep.toml", [flag])
    assert (caught.value.source, caught.value.path) == (f"--slurm {flag}", where)
    assert message in caught.value.message


def test_without_submitit_the_executor_says_what_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "submitit", None)  # as if it were not installed
    with pytest.raises(VaeframeError, match=r"pip install 'vaeframe\[slurm\]'"):
        cluster_launcher("slurm", tmp_path, SlurmOptions(), "x", None, run_point)


@pytest.mark.slow
def test_points_as_jobs_of_submitits_local_executor(tmp_path: Path) -> None:
    pytest.importorskip("submitit")
    path = write_sweep(tmp_path, '[sweep]\nname = "X"\n'
                       'grid = { "schedule.max_beta" = [0.1, 0.3] }\n'
                       "[sweep.slurm]\ntime_min = 5\n")
    result = vaeframe("sweep", path, "--executor", "local", "--dir", tmp_path / "x")
    assert result.returncode == 0, result.stderr
    assert "2 point(s), 2 at a time" in result.stderr and "(local job)" in result.stderr
    done = summaries(tmp_path / "x")
    assert sorted(done) == ["X-schedule.max_beta=0.1", "X-schedule.max_beta=0.3"]
    assert all(s["status"] == "finished" for s in done.values())
    log = (tmp_path / "x" / "logs" / "X-schedule.max_beta=0.3.log").read_text()
    assert "local job" in log and "vaeframe run X-schedule.max_beta=0.3" in log
    assert (tmp_path / "x" / "report" / "table.md").is_file()
    assert "--resume" in log  # a job that its cluster starts again continues its point
