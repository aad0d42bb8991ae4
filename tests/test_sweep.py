"""Sweep files: points, grids, errors, the ablation file, and one listed point run alone."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from conftest import CONFIGS, vaeframe, write_sweep

from vaeframe.errors import ConfigError
from vaeframe.registry.manager import Registry
from vaeframe.sweeps.spec import default_dir, load_sweep, point_config


def test_named_points_cross_the_grid_in_order(tmp_path: Path, registry: Registry) -> None:
    path = write_sweep(tmp_path, """
[sweep]
grid = { "schedule.max_beta" = [0.1, 0.5], "train.batch_size" = [16] }
[[sweep.points]]
name = "plain"
kl = { name = "none" }
[[sweep.points]]
name = "fb"
"kl.threshold" = 0.2
""")
    sweep = load_sweep(path, registry)
    assert sweep.name == "sweep"  # the file's stem
    assert [p.label for p in sweep.points] == [
        "plain-schedule.max_beta=0.1-train.batch_size=16",
        "plain-schedule.max_beta=0.5-train.batch_size=16",
        "fb-schedule.max_beta=0.1-train.batch_size=16",
        "fb-schedule.max_beta=0.5-train.batch_size=16",
    ]
    config = point_config(sweep, sweep.points[3], tmp_path / "out", registry)
    assert config.run.name == "sweep-fb-schedule.max_beta=0.5-train.batch_size=16"
    assert config.run.output_dir == str(tmp_path / "out")
    assert (config.kl.name, config.kl.params.threshold) == ("free_bits", 0.2)
    assert config.schedule.params.max_beta == 0.5 and config.train.batch_size == 16
    assert point_config(sweep, sweep.points[0], tmp_path, registry).kl.name == "none"


def test_a_grid_alone_names_runs_by_their_parameters(tmp_path: Path,
                                                     registry: Registry) -> None:
    sweep = load_sweep(write_sweep(tmp_path, '[sweep]\nname = "g"\n'
                                   'grid = { "kl.threshold" = [0.0, 0.3] }\n'), registry)
    names = [point_config(sweep, p, tmp_path, registry).run.name for p in sweep.points]
    assert names == ["g-kl.threshold=0.0", "g-kl.threshold=0.3"]


@pytest.mark.parametrize(("table", "where", "message"), [
    ("", "sweep", "needs a [sweep] table"),
    ("[sweep]\npoint = []\n", "sweep.point", "unknown key; valid keys: grid, name, points, slurm"),
    ('[sweep]\ngrid = { "kl.threshold" = 0.3 }\n', 'sweep.grid."kl.threshold"',
     "non-empty array"),
    ('[sweep]\n[[sweep.points]]\nname = "a"\n[[sweep.points]]\nname = "a"\n',
     "sweep.points.1.name", "used twice"),
    ('[sweep]\n[[sweep.points]]\n"kl.threshold" = 0.3\n', "sweep.points.0.name",
     "needs a name"),
    ('[sweep]\n[[sweep.points]]\nname = "bad"\n"schedule.max_beta" = "high"\n',
     "schedule.max_beta", "expected a number"),
    ('[sweep]\n[[sweep.points]]\nname = "a"\n"run.output_dir" = "elsewhere"\n',
     'sweep.points.0."run.output_dir"', "cannot be set for a point"),
    ('[sweep]\ngrid = { "run.name" = ["x", "y"] }\n', 'sweep.grid."run.name"',
     "cannot be set for a point"),
])
def test_sweep_file_errors_name_the_key(tmp_path: Path, registry: Registry, table: str,
                                        where: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_sweep(write_sweep(tmp_path, table), registry)
    assert caught.value.path == where and message in caught.value.message
    if "bad" in table:
        assert "[sweep point bad]" in caught.value.source


def test_set_run_output_dir_places_the_sweep_directory_and_every_point_in_it(
        tmp_path: Path, registry: Registry) -> None:
    path = write_sweep(tmp_path, '[sweep]\nname = "g"\ngrid = { "kl.threshold" = [0.0, 0.3] }\n')
    sets = [f'run.output_dir="{tmp_path / "elsewhere"}"']
    sweep = load_sweep(path, registry, sets)
    directory = default_dir(sweep)
    assert directory.parent == tmp_path / "elsewhere"
    for point in sweep.points:
        assert point_config(sweep, point, directory, registry).run.output_dir == str(directory)


@pytest.mark.parametrize("expression", ['run.name="mine"', "run={seed=1}"])
def test_set_cannot_rename_a_sweeps_runs(tmp_path: Path, registry: Registry,
                                         expression: str) -> None:
    path = write_sweep(tmp_path, '[sweep]\ngrid = { "kl.threshold" = [0.0, 0.3] }\n')
    with pytest.raises(ConfigError) as caught:
        load_sweep(path, registry, [expression])
    assert caught.value.source == f"--set {expression}"
    assert "cannot be set for a sweep" in caught.value.message


def test_the_ablation_file_holds_the_seeds_test_commands(registry: Registry) -> None:
    sweep = load_sweep(CONFIGS / "ablation.toml", registry)
    configs = {p.label: point_config(sweep, p, Path("runs"), registry) for p in sweep.points}
    assert list(configs) == ["baseline", "ultra-b0.1-fb0.3", "cyclical-b0.1-fb0.3", "fb0.5",
                             "ultra-b0.1-fb0.3-batch", "fb0", "ultra-b0.1-fb0.3-mean",
                             "ultra-b0.1-fb0.3-batch-mean"]
    assert all(c.data.name == "arc-agi-1" and c.train.epochs == 100 for c in configs.values())
    described = {label: (c.schedule.name, c.schedule.params.max_beta, c.kl.name,
                         getattr(c.kl.params, "threshold", None), getattr(c.kl.params, "per", None))
                 for label, c in configs.items()}
    assert described == {
        "baseline": ("linear_warmup", 0.5, "none", None, None),
        "ultra-b0.1-fb0.3": ("ultra_conservative", 0.1, "free_bits", 0.3, "sample"),
        "cyclical-b0.1-fb0.3": ("cyclical", 0.1, "free_bits", 0.3, "sample"),
        "fb0.5": ("linear_warmup", 0.5, "free_bits", 0.5, "sample"),
        "ultra-b0.1-fb0.3-batch": ("ultra_conservative", 0.1, "free_bits", 0.3, "batch"),
        "fb0": ("linear_warmup", 0.5, "free_bits", 0.0, "sample"),
        "ultra-b0.1-fb0.3-mean": ("ultra_conservative", 0.1, "free_bits", 0.3, "sample"),
        "ultra-b0.1-fb0.3-batch-mean": ("ultra_conservative", 0.1, "free_bits", 0.3, "batch"),
    }
    assert [label for label, c in configs.items() if c.loss.params.reduction == "mean"] == [
        "ultra-b0.1-fb0.3-mean", "ultra-b0.1-fb0.3-batch-mean"]


def test_listed_commands_run_one_point_each(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, '[sweep]\nname = "L"\n'
                       'grid = { "train.epochs" = [1, 2] }\n')
    listed = vaeframe("sweep", path, "--list", "--dir", tmp_path / "out")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 3 and lines[-1].startswith("vaeframe report ")
    assert "--point 0" in lines[0] and "--point 1" in lines[1]
    assert not (tmp_path / "out").exists()  # listing runs nothing
    command = shlex.split(lines[0].split("  #", 1)[0])
    result = vaeframe(*command[1:])
    assert result.returncode == 0, result.stderr
    runs = [p for p in (tmp_path / "out").iterdir()]
    assert len(runs) == 1 and runs[0].name.startswith("L-train.epochs=1-")
    assert not (tmp_path / "out" / "report").exists()
    missing = vaeframe("sweep", path, "--point", "7")
    assert missing.returncode == 2 and "no point '7'" in missing.stderr
