"""Shared helpers: run the installed ``vaeframe`` command as a user would, write plugin modules
and sweep files, and the one registry of everything installed."""

from __future__ import annotations

import functools
import importlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from vaeframe.registry.manager import Registry

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
VAEFRAME = Path(sys.executable).with_name("vaeframe")

# Two test files run at a time (pyproject's addopts). A torch process with two OpenMP threads
# beside another one on two cores stalls for minutes, so each test process, and every process
# a test starts, computes on one thread unless the environment already says how many.
os.environ.setdefault("OMP_NUM_THREADS", "1")


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


def run_with_plugin(directory: Path, module: str, source: str, *args: str | Path,
                    **options) -> subprocess.CompletedProcess[str]:
    """``vaeframe -p MODULE ARGS...`` with the plugin module ``source`` written into
    ``directory`` (see ``write_plugin``) and ``directory`` on ``PYTHONPATH``; ``options`` as
    ``vaeframe`` takes them (``cwd``, ``timeout``, environment variables)."""
    path = [write_plugin(directory, module, source), os.environ.get("PYTHONPATH", "")]
    return vaeframe("-p", module, *args, PYTHONPATH=os.pathsep.join(filter(None, path)),
                    **options)


def load_plugin(directory: Path, module: str, source: str) -> Registry:
    """A fresh ``Registry`` (no entry points) that loaded only the plugin module ``source``,
    written into ``directory``, as ``-p MODULE`` loads it, in this process; ``sys.path`` and
    ``sys.modules`` are left as they were."""
    from vaeframe.registry.manager import Registry

    path = write_plugin(directory, module, source)
    sys.path.insert(0, path)
    importlib.invalidate_caches()
    try:
        registry = Registry()
        registry.load_modules([module])
    finally:
        sys.path.remove(path)
        sys.modules.pop(module, None)
    return registry


@functools.cache
def shared_registry() -> Registry:
    """The registry of everything installed (built-ins, installed plugin distributions,
    ``VAEFRAME_PLUGINS``), built on first use and shared by the whole session: read it, never
    register into it. Tests take the ``registry`` fixture; module-level helpers call this."""
    from vaeframe.registry.manager import build_registry

    return build_registry()


@pytest.fixture(scope="session")
def registry() -> Registry:
    """``shared_registry()``: the one registry of everything installed."""
    return shared_registry()


SMOKE_TEXT = (CONFIGS / "smoke.toml").read_text()


def write_sweep(directory: Path, table: str, *, base: str = SMOKE_TEXT,
                name: str = "sweep") -> Path:
    """Write the sweep file ``directory/NAME.toml``: the run file text ``base`` (the smoke run
    file's unless given), then ``table`` (its ``[sweep]`` table); returns its path."""
    path = directory / f"{name}.toml"
    path.write_text(base + "\n" + table)
    return path


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


SYNC_METHODS = ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__",
                "__index__")


def host_syncs_of_one_epoch(trainer, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every tensor-to-host call (``.cpu()``, ``.item()``, ...) in one epoch of ``trainer``'s
    epoch loop, with the step it came at. The optimizers' step counters are left out: Adam
    keeps them on the host by design, and reading them never waits for a GPU."""
    import torch

    parts = trainer.parts
    parts.scheduler.step(1)
    trainer.state.epoch = 1
    parts.training_step(parts.data.train[:16])  # creates the optimizers' state
    networks = parts.training_step.networks
    optimizers = [parts.optimizer, *([networks.optimizer] if networks else [])]
    host = {id(s["step"]) for optimizer in optimizers for s in optimizer.state.values()
            if "step" in s}
    calls: list[tuple[str, int]] = []
    for name in SYNC_METHODS:
        original = getattr(torch.Tensor, name)

        def spy(self, *args, _original=original, _name=name, **kwargs):
            if id(self) not in host:
                calls.append((_name, trainer.state.step))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, spy)
    trainer.epoch_loop.run()
    monkeypatch.undo()
    return calls
