"""The example plugin distribution, installed by CI like any outside plugin (see README)."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import pytest
import tomllib
from conftest import ROOT, only_run_dir, read_jsonl, vaeframe

import vaeframe as vaeframe_api

EXAMPLE = ROOT / "examples" / "vaeframe-schedules-extra"
PROJECT = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
INSTALL_HINT = ("pip install ./examples/vaeframe-schedules-extra first "
                "(the README test command does)")


def example_modules() -> list[Path]:
    return sorted((EXAMPLE / "vaeframe_schedules_extra").glob("*.py"))


def test_installed_copy_is_the_source_here() -> None:
    package = pytest.importorskip("vaeframe_schedules_extra", reason=INSTALL_HINT)
    installed = Path(package.__file__).parent
    for module in example_modules():
        assert (installed / module.name).read_text() == module.read_text(), (
            f"{module.name} changed since it was installed: reinstall the example")


def test_listing_shows_the_example_with_its_package_and_version() -> None:
    result = vaeframe("list-plugins", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    extra = {e["name"]: e for e in data["schedules"]
             if e["package"] == PROJECT["name"]}
    assert set(extra) == {"cyclical_annealing", "sigmoid_warmup"}, INSTALL_HINT
    assert {e["version"] for e in extra.values()} == {PROJECT["version"]}
    assert extra["cyclical_annealing"]["module"] == "vaeframe_schedules_extra.cyclical"
    assert [(p["name"], p["default"]) for p in extra["cyclical_annealing"]["parameters"]] == [
        ("M", 4), ("R", 0.5), ("max_beta", 1.0), ("ramp", "linear")]
    assert data["problems"] == []

    text = vaeframe("list-plugins").stdout
    origin = f"[{PROJECT['name']} {PROJECT['version']}]"
    for name in extra:
        [line] = [line for line in text.splitlines() if line.startswith(f"  {name} ")]
        assert line.endswith(origin)


def expected_cyclical(epoch: int, num_epochs: int, m: int, r: float, max_beta: float) -> float:
    """Fu et al. 2019, eq. 6, linear f, with t = epoch and T = num_epochs."""
    tau = ((epoch - 1) % math.ceil(num_epochs / m)) / (num_epochs / m)
    return max_beta * tau / r if tau <= r else max_beta


def test_example_run_file_runs_end_to_end(tmp_path: Path) -> None:
    run_file = EXAMPLE / "run.toml"
    config = tomllib.loads(run_file.read_text())
    schedule = config["schedule"]
    assert schedule["name"] == "cyclical_annealing" and schedule["ramp"] == "linear"
    result = vaeframe("run", run_file, "--set", f"run.output_dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    run_dir = only_run_dir(tmp_path)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished"

    epochs = config["train"]["epochs"]
    expected = [expected_cyclical(t, epochs, schedule["M"], schedule["R"], schedule["max_beta"])
                for t in range(1, epochs + 1)]
    assert summary["beta_history"] == pytest.approx(expected, abs=1e-12)
    assert min(expected) == 0 and max(expected) == schedule["max_beta"]  # ramps and holds
    rows = read_jsonl(run_dir / "metrics.jsonl")
    assert [r["beta"] for r in rows if "epoch/loss" in r] == summary["beta_history"]

    # the schedule declares its period, so it gets the cyclical criterion like a built-in
    period = math.ceil(epochs / schedule["M"])
    assert summary["declared"]["beta_period"] == period
    [cycles] = [c for c in summary["criteria"] if c["id"] == "beta_period"]
    assert cycles["measured"] == period and cycles["threshold"] == period
    assert cycles["passed"] is True


def test_example_imports_only_the_public_api() -> None:
    """The example must not reach into vaeframe's modules: only ``from vaeframe import ...``."""
    for path in [*example_modules(), *(EXAMPLE / "tests").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                bad = [a.name for a in node.names if a.name.split(".")[0] == "vaeframe"]
                assert not bad, f"{path.name}: import {bad[0]}; use 'from vaeframe import ...'"
            elif isinstance(node, ast.ImportFrom) and node.module:
                root = node.module.split(".")[0]
                assert root != "vaeframe" or node.module == "vaeframe", (
                    f"{path.name}: from {node.module} import ...: not the public API")
                if node.module == "vaeframe":
                    private = {a.name for a in node.names} - set(vaeframe_api.__all__)
                    assert not private, f"{path.name}: {private} not in vaeframe.__all__"
