"""`vaeframe sweep FILE --list`: one command per point, with the point's overrides and the
command's -p modules, that runs exactly that point."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from conftest import CONFIGS, run_with_plugin, vaeframe, write_sweep


def test_list_prints_each_points_overrides_and_plugin_modules(tmp_path: Path) -> None:
    result = run_with_plugin(tmp_path, "listed_plugin", """
        from vaeframe import hookimpl
    """, "sweep", CONFIGS / "ablation.toml", "--list", "--dir", tmp_path / "sweep")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    *points, report = lines
    assert len(points) == 8 and report.startswith("vaeframe report ")
    for index, line in enumerate(points):
        command, comment = line.split("  # ", 1)
        words = shlex.split(command)
        assert words[:4] == ["vaeframe", "-p", "listed_plugin", "sweep"]
        assert words[words.index("--point") + 1] == str(index)
        assert "--set" not in comment, line  # the overrides, not the flags
    assert points[0].endswith("  # baseline: the file as it is")
    assert points[3].endswith('  # fb0.5: kl = { name = "free_bits", threshold = 0.5 }')
    assert points[6].split("  # ", 1)[1] == (
        'ultra-b0.1-fb0.3-mean: schedule = { name = "ultra_conservative", warmup_epochs = 20, '
        'ramp_epochs = 60, max_beta = 0.1 }, kl = { name = "free_bits", threshold = 0.3 }, '
        'loss.reduction = "mean"')


@pytest.mark.slow
def test_a_listed_command_runs_the_point_it_names(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path, '''
[sweep]
name = "tiny"
grid = { "train.epochs" = [1, 2] }
''', name="tiny")
    listed = vaeframe("sweep", sweep, "--list", "--dir", tmp_path / "out")
    assert listed.returncode == 0, listed.stderr
    command = shlex.split(listed.stdout.splitlines()[1].split("  # ", 1)[0])
    assert listed.stdout.splitlines()[1].endswith("  # train.epochs=2: train.epochs = 2")
    result = vaeframe(*command[1:])
    assert result.returncode == 0, result.stderr
    [run] = [p for p in (tmp_path / "out").iterdir() if p.name.startswith("tiny-train.epochs=2")]
    assert '"epochs_completed": 2' in (run / "summary.json").read_text()
