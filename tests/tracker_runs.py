"""Runs for the tracker loggers' tests (TensorBoard, MLflow): the ``vaeframe`` command started
as a user starts it, stopped by real signals, and what ``metrics.jsonl`` says a tracker holds."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from conftest import CONFIGS, VAEFRAME, cli_env, read_jsonl, read_written_rows

# long enough to interrupt (48 steps an epoch), small enough to take seconds
LONG = ["--epochs", "3", "--set", "data.num_train=384", "--set", "train.batch_size=8",
        "--set", "train.log_every_n_steps=5", "--set", "model.channels=[4, 8, 8]"]
KL_PER_DIM = [f"train/kl_per_dim/{k}" for k in ("dim_0", "dim_1", "dim_2", "dim_3", "min",
                                                 "max", "mean")]


def tracker_env() -> dict[str, str]:
    """No tracking server from the environment, no MLflow telemetry: nothing goes out."""
    env = cli_env(MLFLOW_DISABLE_TELEMETRY="true")
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def start(output_dir: Path, loggers: str, *args: str) -> subprocess.Popen[str]:
    """``vaeframe run configs/smoke.toml`` with ``loggers``, started in ``output_dir``."""
    output_dir.mkdir(parents=True, exist_ok=True)
    command = [str(VAEFRAME), "run", str(CONFIGS / "smoke.toml"),
               "--set", f"run.output_dir={output_dir}", "--set", f"loggers={loggers}", *args]
    return subprocess.Popen(command, cwd=output_dir, env=tracker_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def run(output_dir: Path, *args: str | Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``vaeframe ARGS`` in ``output_dir``, to its end (``env`` added to the environment)."""
    return subprocess.run([str(VAEFRAME), *map(str, args)], cwd=output_dir,
                          env={**tracker_env(), **env}, capture_output=True, text=True,
                          timeout=300)


def wait_for_rows(output_dir: Path, process: subprocess.Popen[str],
                  ready: Callable[[list[dict]], bool], name: str = "smoke") -> Path:
    """Poll the ``metrics.jsonl`` of the run called ``name`` until ``ready(rows)``; the run
    directory."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the run ended first: {process.stderr.read()}"
        for path in output_dir.glob(f"{name}-*/metrics.jsonl"):
            if ready(read_written_rows(path)):
                return path.parent
        time.sleep(0.01)
    raise AssertionError("the run never logged the rows waited for")


def in_epoch(epoch: int) -> Callable[[list[dict]], bool]:
    """Whether the epoch before ``epoch`` ended and ``epoch`` logged two training rows: every
    logger after ``jsonl`` has had the first."""
    def ready(rows: list[dict]) -> bool:
        ended = any("epoch/loss" in r and r["epoch"] == epoch - 1 for r in rows)
        return ended and sum("train/loss" in r and r["epoch"] == epoch for r in rows) >= 2

    return ready


in_second_epoch = in_epoch(2)


def expected_series(run_dir: Path, up_to: float = float("inf")
                    ) -> dict[str, list[tuple[int, float]]]:
    """Each figure of ``metrics.jsonl`` as (step, value) pairs, one per step (up to ``up_to``).

    An epoch's last step has two rows (training and epoch) that both carry ``epoch``, with
    the same value; any other figure twice at one step would be a defect.
    """
    series: dict[str, dict[int, float]] = {}
    for row in read_jsonl(run_dir / "metrics.jsonl"):
        step = row.pop("step")
        if step > up_to:
            continue
        for key, value in row.items():
            seen = series.setdefault(key, {})
            assert seen.get(step, value) == value, (key, step)
            seen[step] = value
    return {key: sorted(steps.items()) for key, steps in series.items()}


def not_imported(packages: list[str], *argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run each ``vaeframe`` command line in one process, then check that none of
    ``packages`` was imported."""
    code = ("import sys\nfrom vaeframe.cli.app import main\n"
            + "".join(f"assert main({args!r}) == 0, {args!r}\n" for args in argv)
            + "".join(f"assert {p!r} not in sys.modules, '{p} was imported'\n"
                      for p in packages))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=tracker_env(), timeout=300)


def hidden(package: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``vaeframe ARGS`` in a process where ``package`` cannot be imported, as if it were not
    installed (Python refuses a module whose ``sys.modules`` entry is ``None``)."""
    code = (f"import sys\nsys.modules[{package!r}] = None\nfrom vaeframe.cli.app import main\n"
            f"sys.exit(main({list(args)!r}))\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=cwd, env=tracker_env(), timeout=300)
