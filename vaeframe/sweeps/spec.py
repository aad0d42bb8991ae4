"""Sweeps: a run file with a ``[sweep]`` table becomes independent runs, one per point.

```toml
[sweep]
name = "ablation"                                  # optional; default: the file's stem
grid = { "kl.threshold" = [0.0, 0.3] }             # optional; every combination of the lists
seeds = [0, 1, 2]                                  # optional; every point once per seed
slurm = { partition = "gpu", time_min = 120 }      # optional; jobs for --executor slurm

[[sweep.points]]                                   # optional; named points
name = "ultra"
schedule = { name = "ultra_conservative" }         # a table value replaces the whole section
"kl.threshold" = 0.3                               # a quoted dotted key sets one key
```

The points are the named points (or one unnamed point) crossed with the grid, and then, with
``seeds``, with the seeds: a seeded point sets ``run.seed`` and its label ends in ``seed=N``
(``ultra-seed=1``, run name ``<sweep>-ultra-seed=1``), so the report can group a point's seeds;
without ``seeds`` the points and their names are those of a sweep that never had them. Each
point applies its overrides to the rest of the file, exactly as ``vaeframe run FILE --set
KEY=VALUE`` would, and then the sweep command's own ``--set`` overrides. ``run_points`` runs
points in this process, one after another; ``vaeframe.sweeps.pool`` runs several at once, each in
a process of its own.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from vaeframe.config.overrides import (
    apply_overrides,
    key_path,
    parse_assignment,
    parse_path,
    set_path,
)
from vaeframe.config.schema import RunConfig
from vaeframe.config.tomlfile import parse_toml, toml_value
from vaeframe.errors import ConfigError
from vaeframe.registry.manager import Registry
from vaeframe.rundir.layout import CONFIG_FILE, dirs_named, slug, stamped
from vaeframe.sweeps.cluster import slurm_options

SWEEP_KEYS = ("grid", "name", "points", "slurm", "seeds")
SEED_KEY = "run.seed"  # what each seed of [sweep] seeds sets
SEED_PATH = parse_path(SEED_KEY)


@attrs.frozen
class SweepPoint:
    """One point: its label (part of its run name) and its overrides in the order applied."""

    index: int
    label: str
    overrides: tuple[tuple[str, Any], ...]
    seed: int | None = None  # with [sweep] seeds: the run.seed it sets (its last override)


@attrs.frozen
class Sweep:
    source: Path
    name: str
    output_dir: str
    base: Mapping[str, Any]  # the run file without its [sweep] table
    points: tuple[SweepPoint, ...]
    sets: tuple[str, ...] = ()  # the command's --set KEY=VALUE, applied to every point
    slurm: Mapping[str, Any] = attrs.field(factory=dict)  # [sweep.slurm], for --executor
    seeds: tuple[int, ...] = ()  # [sweep] seeds; every point is crossed with them


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Mapping):
        return "_".join(f"{k}={_format_value(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "_".join(_format_value(v) for v in value)
    return str(value)


def run_name(sweep_name: str, label: str) -> str:
    """``<sweep>-<label>`` with only characters that are safe in a directory name."""
    return slug(f"{sweep_name}-{label}" if label else sweep_name)


def _key(where: str, key: str) -> str:
    """``where."a.b"``: a dotted key quoted as TOML writes it."""
    return f'{where}."{key}"' if "." in key else f"{where}.{key}"


SWEEP_OWNS = "a sweep names its points' runs ([sweep] name and the point) and puts them in " \
             "its directory (--dir, or a new one under run.output_dir)"


def _sweep_owned(path: Sequence[str | int], with_output_dir: bool) -> bool:
    """Whether ``path`` would set what the sweep decides: the runs' names (and directory)."""
    owned = ("name", "output_dir") if with_output_dir else ("name",)
    return path[0] == "run" and (len(path) == 1 or path[1] in owned)


def _overrides(table: Mapping[str, Any], source: str, where: str) -> list[tuple[str, Any]]:
    found = []
    for key, value in table.items():
        path = parse_path(key)
        if path is None:
            raise ConfigError(source, _key(where, key), "not a key path such as kl.threshold")
        if _sweep_owned(path, with_output_dir=True):
            raise ConfigError(source, _key(where, key), f"cannot be set for a point: {SWEEP_OWNS}")
        found.append((key, value))
    return found


def _check_sets(sets: Sequence[str]) -> None:
    """``--set run.name`` (or the whole ``run`` table) is refused; ``--set run.output_dir``
    chooses where a new sweep directory is made."""
    for expression in sets:
        path, _ = parse_assignment(expression)
        if _sweep_owned(path, with_output_dir=False):
            raise ConfigError(f"--set {expression}", key_path(path),
                              f"cannot be set for a sweep: {SWEEP_OWNS}")


def _refuse_seed_sets(sets: Sequence[str]) -> None:
    """With ``seeds``, ``--set run.seed`` would give every seeded point the same seed."""
    for expression in sets:
        path, _ = parse_assignment(expression)
        if path == SEED_PATH:
            raise ConfigError(f"--set {expression}", key_path(path),
                              f"cannot be set for a sweep with seeds: {SEEDS_OWN}")


def _points(table: Mapping[str, Any], source: str) -> list[SweepPoint]:
    unknown = sorted(set(table) - set(SWEEP_KEYS))
    if unknown:
        raise ConfigError(source, f"sweep.{unknown[0]}",
                          f"unknown key; valid keys: {', '.join(SWEEP_KEYS)}")
    grid = table.get("grid", {})
    if not isinstance(grid, Mapping):
        raise ConfigError(source, "sweep.grid", "expected a table of key = [values]")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(source, _key("sweep.grid", key),
                              "expected a non-empty array of values")
    named = table.get("points", [{"name": ""}])
    if not isinstance(named, list) or not named:
        raise ConfigError(source, "sweep.points", "expected an array of tables ([[sweep.points]])")
    bases: list[tuple[str, list[tuple[str, Any]]]] = []
    for i, point in enumerate(named):
        where = f"sweep.points.{i}"
        if not isinstance(point, Mapping):
            raise ConfigError(source, where, "expected a table")
        label = point.get("name")
        if not isinstance(label, str) or (not label and "points" in table):
            raise ConfigError(source, f"{where}.name", "every point needs a name (a string)")
        if label in (name for name, _ in bases):
            raise ConfigError(source, f"{where}.name", f"point name {label!r} is used twice")
        rest = {k: v for k, v in point.items() if k != "name"}
        bases.append((label, _overrides(rest, source, where)))
    grid_items = _overrides(grid, source, "sweep.grid")
    seeds = sweep_seeds(table, source)
    if seeds:
        _refuse_seed_overrides(bases, grid_items, source)
    points = []
    for label, overrides in bases:
        for combo in itertools.product(*(values for _, values in grid_items)):
            grid_sets = [(key, value) for (key, _), value in zip(grid_items, combo, strict=True)]
            parts = [label] * bool(label) + [f"{k}={_format_value(v)}" for k, v in grid_sets]
            for seed in seeds or [None]:
                seeded = [] if seed is None else [(SEED_KEY, seed)]
                points.append(SweepPoint(len(points), "-".join(parts + seed_part(seed)),
                                         tuple(overrides + grid_sets + seeded), seed))
    return points


def seed_part(seed: int | None) -> list[str]:
    """The part of a seeded point's label that names its seed (``seed=1``); none without."""
    return [] if seed is None else [f"seed={seed}"]


def sweep_seeds(table: Mapping[str, Any], source: str) -> list[int]:
    """``[sweep] seeds``: distinct non-negative integers, or none when it is not given."""
    if "seeds" not in table:
        return []
    seeds = table["seeds"]
    if (not isinstance(seeds, list) or not seeds
            or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)):
        raise ConfigError(source, "sweep.seeds", "expected a non-empty array of distinct "
                          f"non-negative integers such as [0, 1, 2], got {toml_value(seeds)}")
    negative = [s for s in seeds if s < 0]
    if negative:
        raise ConfigError(source, "sweep.seeds", f"seeds are non-negative integers; "
                          f"got {negative[0]}")
    repeated = [s for s in seeds if seeds.count(s) > 1]
    if repeated:
        raise ConfigError(source, "sweep.seeds", f"seed {repeated[0]} is given twice; each "
                          "seed runs every point once")
    return seeds


SEEDS_OWN = "[sweep] seeds sets run.seed of every point; give the seeds there"


def _refuse_seed_overrides(bases: Sequence[tuple[str, Sequence[tuple[str, Any]]]],
                           grid_items: Sequence[tuple[str, Any]], source: str) -> None:
    """With ``seeds``, no point and no grid key may set ``run.seed`` as well."""
    for i, (_, overrides) in enumerate(bases):
        for key, _ in overrides:
            if parse_path(key) == SEED_PATH:
                raise ConfigError(source, _key(f"sweep.points.{i}", key),
                                  f"cannot be set with [sweep] seeds: {SEEDS_OWN}")
    for key, _ in grid_items:
        if parse_path(key) == SEED_PATH:
            raise ConfigError(source, _key("sweep.grid", key),
                              f"cannot be set with [sweep] seeds: {SEEDS_OWN}")


def point_raw(sweep: Sweep, point: SweepPoint, directory: Path) -> dict[str, Any]:
    """The run file of ``point``, its runs going into ``directory``."""
    raw = copy.deepcopy(dict(sweep.base))
    flag = f"{sweep.source} [sweep point {point.label or point.index}]"
    for key, value in point.overrides:
        path = parse_path(key)
        assert path is not None
        set_path(raw, path, value, flag)
    return _placed(raw, sweep, point, directory)


def _placed(raw: dict[str, Any], sweep: Sweep, point: SweepPoint,
            directory: Path) -> dict[str, Any]:
    run = raw.setdefault("run", {})
    run["name"] = run_name(sweep.name, point.label)
    run["output_dir"] = str(directory)
    return raw


def point_config(sweep: Sweep, point: SweepPoint, directory: Path,
                 registry: Registry) -> RunConfig:
    source = f"{sweep.source} [sweep point {point.label or point.index}]"
    overridden = apply_overrides(point_raw(sweep, point, directory), registry, sets=sweep.sets)
    # after the --set flags: their run.output_dir chose where the sweep directory is made
    _placed(overridden.raw, sweep, point, directory)
    return overridden.build(registry, source)  # with the overrides' notes


def point_run_name(sweep: Sweep, point: SweepPoint) -> str:
    return run_name(sweep.name, point.label)


def load_sweep(path: Path, registry: Registry, sets: Sequence[str] = ()) -> Sweep:
    """Read a sweep file and check every point's run configuration (with ``sets`` applied)
    before anything runs."""
    raw = parse_toml(path)
    table = raw.pop("sweep", None)
    if not isinstance(table, Mapping):
        raise ConfigError(str(path), "sweep", "a sweep file needs a [sweep] table "
                          "(see `vaeframe sweep --help`)")
    name = table.get("name", path.stem)
    if not isinstance(name, str) or not name:
        raise ConfigError(str(path), "sweep.name", "expected a non-empty string")
    _check_sets(sets)
    run = apply_overrides(raw, registry, sets=sets).raw.get("run", {})
    output_dir = run.get("output_dir", "runs") if isinstance(run, Mapping) else "runs"
    points = _points({k: v for k, v in table.items() if k not in ("name", "slurm")}, str(path))
    seeds = tuple(sweep_seeds(table, str(path)))
    if seeds:
        _refuse_seed_sets(sets)
    slurm = table.get("slurm", {})
    slurm_options(slurm, str(path))  # checked now, used by --executor
    sweep = Sweep(path, name, str(output_dir), raw, tuple(points), tuple(sets), slurm, seeds)
    for point in sweep.points:
        point_config(sweep, point, Path(sweep.output_dir), registry)
    return sweep


def default_dir(sweep: Sweep) -> Path:
    """``<run.output_dir>/<sweep name>-<timestamp>``."""
    return Path(sweep.output_dir) / stamped(sweep.name)


def latest_dir(sweep: Sweep) -> Path | None:
    """The newest ``<run.output_dir>/<sweep name>-<timestamp>`` sweep directory, if any (a
    run directory of the same name, which has a config.toml, is not one)."""
    found = [path for path in dirs_named(Path(sweep.output_dir), sweep.name)
             if not (path / CONFIG_FILE).exists()]
    return found[-1] if found else None


def select(sweep: Sweep, which: str) -> SweepPoint:
    """A point by index (from 0) or label."""
    for point in sweep.points:
        if which in (str(point.index), point.label):
            return point
    labels = ", ".join(f"{p.index} ({p.label})" if p.label else str(p.index)
                       for p in sweep.points)
    raise ConfigError(str(sweep.source), "--point", f"no point {which!r}; points: {labels}")
