"""``[sweep] seeds``: every point once per seed, each run named by its seed, with ``--list``,
``--point``, ``--jobs``, ``--resume`` and submitit's local executor."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import tomllib
from conftest import SMOKE_TEXT, vaeframe, write_sweep

from vaeframe.errors import ConfigError
from vaeframe.registry.manager import Registry
from vaeframe.sweeps.commands import list_commands
from vaeframe.sweeps.pool import PointPool
from vaeframe.sweeps.slots import plan_slots
from vaeframe.sweeps.spec import load_sweep, point_config, point_run_name, select

SEEDED = """
[sweep]
name = "S"
seeds = [0, 1]

[[sweep.points]]
name = "plain"
kl = { name = "none" }

[[sweep.points]]
name = "fb"
"""
ONE_EPOCH = SMOKE_TEXT.replace("epochs = 3", "epochs = 1")
STAMP = re.compile(r"-\d{8}-\d{6}(-\d+)?$")


def run_dirs(directory: Path) -> dict[str, Path]:
    """Each run directory in ``directory`` by its run name (its name without the stamp)."""
    found = {}
    for path in directory.iterdir():
        if (path / "config.toml").is_file():
            name = STAMP.sub("", path.name)
            assert name not in found, f"two runs of {name} in {directory}"
            found[name] = path
    return found


def test_every_point_is_crossed_with_the_seeds(tmp_path: Path, registry: Registry) -> None:
    path = write_sweep(tmp_path, """
[sweep]
name = "S"
grid = { "kl.threshold" = [0.1, 0.3] }
seeds = [0, 7]
[[sweep.points]]
name = "linear"
[[sweep.points]]
name = "ultra"
schedule = { name = "ultra_conservative" }
""")
    sweep = load_sweep(path, registry)
    assert sweep.seeds == (0, 7)
    assert [p.label for p in sweep.points] == [
        "linear-kl.threshold=0.1-seed=0", "linear-kl.threshold=0.1-seed=7",
        "linear-kl.threshold=0.3-seed=0", "linear-kl.threshold=0.3-seed=7",
        "ultra-kl.threshold=0.1-seed=0", "ultra-kl.threshold=0.1-seed=7",
        "ultra-kl.threshold=0.3-seed=0", "ultra-kl.threshold=0.3-seed=7",
    ]
    assert [p.index for p in sweep.points] == list(range(8))
    assert [p.seed for p in sweep.points] == [0, 7] * 4
    point = sweep.points[7]
    assert point.overrides[-1] == ("run.seed", 7)
    config = point_config(sweep, point, tmp_path / "out", registry)
    assert config.run.seed == 7 and config.run.name == "S-ultra-kl.threshold=0.3-seed=7"
    assert config.schedule.name == "ultra_conservative" and config.kl.params.threshold == 0.3
    assert point_run_name(sweep, point) == "S-ultra-kl.threshold=0.3-seed=7"
    # the file's own [run] seed is what a sweep without seeds runs
    assert point_config(sweep, sweep.points[0], tmp_path, registry).run.seed == 0


def test_one_unnamed_point_with_seeds_is_named_by_its_seed(tmp_path: Path,
                                                           registry: Registry) -> None:
    sweep = load_sweep(write_sweep(tmp_path, '[sweep]\nname = "g"\nseeds = [3, 1]\n'), registry)
    assert [p.label for p in sweep.points] == ["seed=3", "seed=1"]
    configs = [point_config(sweep, p, tmp_path, registry) for p in sweep.points]
    assert [(c.run.name, c.run.seed) for c in configs] == [("g-seed=3", 3), ("g-seed=1", 1)]


def test_without_seeds_the_points_are_as_they_were(tmp_path: Path, registry: Registry) -> None:
    sweep = load_sweep(write_sweep(tmp_path, SEEDED.replace("seeds = [0, 1]\n", "")), registry)
    assert sweep.seeds == ()
    assert [(p.label, p.seed) for p in sweep.points] == [("plain", None), ("fb", None)]
    assert [p.overrides for p in sweep.points] == [(("kl", {"name": "none"}),), ()]
    assert point_run_name(sweep, sweep.points[1]) == "S-fb"


def test_a_seeded_point_is_selected_by_index_or_label(tmp_path: Path,
                                                      registry: Registry) -> None:
    sweep = load_sweep(write_sweep(tmp_path, SEEDED), registry)
    assert select(sweep, "3").label == "fb-seed=1"
    assert select(sweep, "plain-seed=1").index == 1
    with pytest.raises(ConfigError) as caught:
        select(sweep, "plain")  # a point's seeds are points of their own
    assert "0 (plain-seed=0), 1 (plain-seed=1), 2 (fb-seed=0)" in caught.value.message


@pytest.mark.parametrize("seeds", ["[]", "3", '["0"]', "[1.5]", "[true]", "[0, [1]]",
                                   "{ a = 1 }"])
def test_seeds_must_be_an_array_of_integers(tmp_path: Path, registry: Registry,
                                            seeds: str) -> None:
    path = write_sweep(tmp_path, f"[sweep]\nseeds = {seeds}\n")
    with pytest.raises(ConfigError) as caught:
        load_sweep(path, registry)
    assert (caught.value.source, caught.value.path) == (str(path), "sweep.seeds")
    assert "non-empty array of distinct non-negative integers" in caught.value.message


@pytest.mark.parametrize(("seeds", "message"), [
    ("[0, -1]", "non-negative integers; got -1"),
    ("[2, 0, 2]", "seed 2 is given twice"),
])
def test_seeds_are_distinct_and_non_negative(tmp_path: Path, registry: Registry, seeds: str,
                                             message: str) -> None:
    path = write_sweep(tmp_path, f"[sweep]\nseeds = {seeds}\n")
    with pytest.raises(ConfigError) as caught:
        load_sweep(path, registry)
    assert (caught.value.source, caught.value.path) == (str(path), "sweep.seeds")
    assert message in caught.value.message


@pytest.mark.parametrize(("table", "where"), [
    ('seeds = [0, 1]\n[[sweep.points]]\nname = "a"\n"run.seed" = 4\n',
     'sweep.points.0."run.seed"'),
    ('seeds = [0, 1]\ngrid = { "run.seed" = [4, 5] }\n', 'sweep.grid."run.seed"'),
])
def test_run_seed_beside_seeds_is_one_clear_error(tmp_path: Path, registry: Registry,
                                                  table: str, where: str) -> None:
    path = write_sweep(tmp_path, "[sweep]\n" + table)
    with pytest.raises(ConfigError) as caught:
        load_sweep(path, registry)
    assert (caught.value.source, caught.value.path) == (str(path), where)
    assert "cannot be set with [sweep] seeds" in caught.value.message


def test_set_run_seed_beside_seeds_is_refused(tmp_path: Path, registry: Registry) -> None:
    path = write_sweep(tmp_path, SEEDED)
    with pytest.raises(ConfigError) as caught:
        load_sweep(path, registry, ["run.seed=4"])
    assert (caught.value.source, caught.value.path) == ("--set run.seed=4", "run.seed")
    assert "cannot be set for a sweep with seeds" in caught.value.message
    # without seeds, --set run.seed seeds every point as before
    unseeded = load_sweep(write_sweep(tmp_path, SEEDED.replace("seeds = [0, 1]\n", "")),
                          registry, ["run.seed=4"])
    assert point_config(unseeded, unseeded.points[0], tmp_path, registry).run.seed == 4


def test_list_prints_one_command_per_seeded_point(tmp_path: Path, registry: Registry) -> None:
    path = write_sweep(tmp_path, SEEDED)
    result = vaeframe("sweep", path, "--list", "--dir", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    *points, report = result.stdout.splitlines()
    assert [line.split("  # ", 1)[1] for line in points] == [
        'plain-seed=0: kl = { name = "none" }, run.seed = 0',
        'plain-seed=1: kl = { name = "none" }, run.seed = 1',
        "fb-seed=0: run.seed = 0",
        "fb-seed=1: run.seed = 1",
    ]
    for index, line in enumerate(points):
        words = shlex.split(line.split("  # ", 1)[0])
        assert words[words.index("--point") + 1] == str(index)
    assert report.startswith("vaeframe report ")
    assert not (tmp_path / "out").exists()
    sweep = load_sweep(path, registry)
    assert result.stdout.splitlines() == list_commands(sweep, tmp_path / "out")


def test_the_pool_and_the_cluster_run_each_seeded_points_command(tmp_path: Path,
                                                                 registry: Registry) -> None:
    """--jobs and --executor start the same ``--point I`` command that --list prints."""
    sweep = load_sweep(write_sweep(tmp_path, SEEDED), registry)
    slots = plan_slots(1, 1)
    pool = PointPool(sweep, tmp_path, slots, [], resume=True)
    command = pool.point_command(sweep.points[3], slots[0], tmp_path / "p.json")
    assert command[:6] == ["sweep", str(sweep.source), "--point", "3", "--dir", str(tmp_path)]


@pytest.mark.slow
def test_a_listed_seeded_point_runs_its_seed(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, SEEDED, base=ONE_EPOCH)
    listed = vaeframe("sweep", path, "--list", "--dir", tmp_path / "out")
    command = shlex.split(listed.stdout.splitlines()[3].split("  # ", 1)[0])
    assert vaeframe(*command[1:]).returncode == 0
    by_label = vaeframe("sweep", path, "--point", "plain-seed=1", "--dir", tmp_path / "out")
    assert by_label.returncode == 0, by_label.stderr
    runs = run_dirs(tmp_path / "out")
    assert sorted(runs) == ["S-fb-seed=1", "S-plain-seed=1"]
    for run_dir in runs.values():
        assert tomllib.loads((run_dir / "config.toml").read_text())["run"]["seed"] == 1
    assert not (tmp_path / "out" / "report").exists()  # --point runs one point, no report


@pytest.fixture(scope="module")
def seeded_jobs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """The 2-point × 2-seed sweep with --jobs 2: its file, its directory and its output."""
    root = tmp_path_factory.mktemp("seeds")
    path = write_sweep(root, SEEDED, base=ONE_EPOCH)
    result = vaeframe("sweep", path, "--jobs", "2", "--threads", "1", "--dir", root / "out")
    return path, root / "out", result.stderr + f"\nexit code {result.returncode}"


@pytest.mark.slow
def test_jobs_finish_every_seeded_point_with_its_seed(
        seeded_jobs: tuple[Path, Path, str]) -> None:
    _, directory, output = seeded_jobs
    assert output.endswith("exit code 0"), output
    assert "4 point(s), 2 at a time" in output
    runs = run_dirs(directory)
    assert sorted(runs) == ["S-fb-seed=0", "S-fb-seed=1", "S-plain-seed=0", "S-plain-seed=1"]
    for name, run_dir in runs.items():
        config = tomllib.loads((run_dir / "config.toml").read_text())
        assert config["run"]["seed"] == int(name[-1]) and config["run"]["name"] == name
        assert json.loads((run_dir / "summary.json").read_text())["status"] == "finished"
    plain = [tomllib.loads((runs[f"S-plain-seed={s}"] / "config.toml").read_text())
             for s in (0, 1)]
    assert plain[0]["kl"]["name"] == "none"
    # the report groups each point's seeds
    table = (directory / "report" / "table.md").read_text()
    header = table.splitlines()[0]
    assert header == "| | S-plain | S-fb |", table
    assert "(n=2)" in table and " ± " in table


@pytest.mark.slow
def test_resume_after_the_jobs_skips_every_seeded_point(
        seeded_jobs: tuple[Path, Path, str]) -> None:
    path, directory, _ = seeded_jobs
    before = {p: p.stat().st_mtime_ns for p in directory.glob("*/summary.json")}
    assert len(before) == 4
    result = vaeframe("sweep", path, "--jobs", "2", "--dir", directory, "--resume")
    assert result.returncode == 0, result.stderr
    for index, label in enumerate(["plain-seed=0", "plain-seed=1", "fb-seed=0", "fb-seed=1"]):
        assert f"sweep S: [{index}] {label} finished already; skipped" in result.stderr
    assert {p: p.stat().st_mtime_ns for p in directory.glob("*/summary.json")} == before
    assert len(run_dirs(directory)) == 4
    sequential = vaeframe("sweep", path, "--dir", directory, "--resume")
    assert sequential.returncode == 0, sequential.stderr
    assert sequential.stderr.count("finished already") == 4
    assert len(run_dirs(directory)) == 4


@pytest.mark.slow
def test_seeded_points_as_jobs_of_submitits_local_executor(tmp_path: Path) -> None:
    pytest.importorskip("submitit")
    path = write_sweep(tmp_path, '[sweep]\nname = "X"\nseeds = [0, 1]\n'
                       "[sweep.slurm]\ntime_min = 5\n", base=ONE_EPOCH)
    result = vaeframe("sweep", path, "--executor", "local", "--dir", tmp_path / "x")
    assert result.returncode == 0, result.stderr
    runs = run_dirs(tmp_path / "x")
    assert sorted(runs) == ["X-seed=0", "X-seed=1"]
    for name, run_dir in runs.items():
        assert tomllib.loads((run_dir / "config.toml").read_text())["run"]["seed"] == \
            int(name[-1])
    assert (tmp_path / "x" / "report" / "table.md").read_text().startswith("| | X |\n")
