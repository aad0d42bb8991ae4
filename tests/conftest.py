"""Shared helpers: run the installed ``vaeframe`` command as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
VAEFRAME = Path(sys.executable).with_name("vaeframe")


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAEFRAME_")}
    env.setdefault("WANDB_MODE", "disabled")
    env.update(extra)
    return env


def write_plugin(directory: Path, module: str, source: str) -> str:
    """Write a plugin module (``source`` dedented) into ``directory``; returns the directory,
    for ``PYTHONPATH``, and the module loads with ``vaeframe -p MODULE``."""
    (directory / f"{module}.py").write_text(textwrap.dedent(source))
    return str(directory)


def vaeframe(*args: str | Path, cwd: Path | None = None, timeout: float = 300,
             **env: str) -> subprocess.CompletedProcess[str]:
    """Run the installed console script and capture its output."""
    assert VAEFRAME.exists(), f"{VAEFRAME} missing: install the project (pip install -e .)"
    return subprocess.run([str(VAEFRAME), *map(str, args)], cwd=cwd, env=cli_env(**env),
                          capture_output=True, text=True, timeout=timeout)


def only_run_dir(output_dir: Path) -> Path:
    runs = [p for p in output_dir.iterdir() if p.is_dir()]
    assert len(runs) == 1, f"expected one run directory in {output_dir}, found {runs}"
    return runs[0]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def read_written_rows(path: Path) -> list[dict]:
    """The rows of a ``metrics.jsonl`` that a running process is still writing: every line
    that is complete (a reader can see the start of a line whose write is in progress)."""
    text = path.read_text()
    complete = text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


@pytest.fixture
def smoke_args(tmp_path: Path) -> list[str]:
    """``run configs/smoke.toml`` into a temporary output directory."""
    return ["run", str(CONFIGS / "smoke.toml"), "--set", f"run.output_dir={tmp_path / 'runs'}"]
