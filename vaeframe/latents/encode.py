"""``vaeframe encode``: every grid of a dataset through a trained encoder, with its provenance.

The table has one row per grid: ``mu`` and ``logvar`` ``(N, latent_dim)``, ``split``,
``index`` (the grid's position in its split), ``height`` and ``width``, and one
``label/<column>`` per label column the dataset gives in every chosen split (for ARC:
task id, pair, pair kind, role, source; for a factor dataset: its factors, also listed in
``factors``). Run-level facts (``dataset``, ``run_dir``, ``checkpoint``, ``epoch``) are
0-d entries of the ``.npz``.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vaeframe.config.overrides import configure
from vaeframe.errors import VaeframeError
from vaeframe.latents.trained import TrainedRun, load_run
from vaeframe.registry.manager import get_registry
from vaeframe.registry.types import GridData
from vaeframe.rundir.layout import CONFIG_FILE
from vaeframe.training.data import SPLITS, grids_of, labels_of, load_grid_data

SPLIT_CHOICES = ("train", "heldout", "all")
FORMATS = (".npz", ".csv")


def chosen_splits(split: str) -> tuple[str, ...]:
    return SPLITS if split == "all" else (split,)


def _shared_columns(data: GridData, splits: Sequence[str]) -> list[str]:
    columns = [set(labels_of(data, split)) for split in splits]
    first = list(labels_of(data, splits[0]))
    return [c for c in first if all(c in found for found in columns)]


def encoded_table(run: TrainedRun, data: GridData, dataset: str, split: str
                  ) -> dict[str, np.ndarray]:
    """The columns described above for ``split`` (``train``, ``heldout`` or ``all``)."""
    splits = chosen_splits(split)
    grids = [grid for s in splits for grid in grids_of(data, s)]
    mu, logvar = run.encode(grids)
    table: dict[str, np.ndarray] = {
        "mu": mu, "logvar": logvar,
        "split": np.array([s for s in splits for _ in grids_of(data, s)]),
        "index": np.concatenate([np.arange(len(grids_of(data, s))) for s in splits]),
        "height": np.array([np.shape(g)[0] for g in grids]),
        "width": np.array([np.shape(g)[1] for g in grids]),
    }
    for column in _shared_columns(data, splits):
        table[f"label/{column}"] = np.concatenate(
            [np.asarray(labels_of(data, s)[column]) for s in splits])
    table["factors"] = np.array([f for f in data.factors if f"label/{f}" in table], dtype=str)
    table.update(dataset=np.array(dataset), run_dir=np.array(str(run.run_dir)),
                 checkpoint=np.array(run.checkpoint.name), epoch=np.array(run.epoch))
    return table


def check_format(out: Path) -> None:
    if out.suffix not in FORMATS:
        raise VaeframeError(f"--out {out}: unknown format {out.suffix or '(none)'!r}; "
                            f"use one of {', '.join(FORMATS)}")


def write_table(table: dict[str, np.ndarray], out: Path) -> None:
    """``.npz`` (every entry) or ``.csv`` (one row per grid, ``mu_i`` and ``logvar_i`` columns)."""
    check_format(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".npz":
            np.savez(out, **table)
        else:
            _write_csv(table, out)
    except OSError as exc:
        raise VaeframeError(f"--out {out}: cannot write it ({exc.strerror})") from None


def _write_csv(table: dict[str, np.ndarray], out: Path) -> None:
    per_grid = [k for k, v in table.items() if v.ndim == 1 and k != "factors"]
    columns: list[tuple[str, Any]] = [(k, table[k]) for k in per_grid]
    for name in ("mu", "logvar"):
        columns += [(f"{name}_{i}", table[name][:, i]) for i in range(table[name].shape[1])]
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["dataset", *(name for name, _ in columns)])
        dataset = str(table["dataset"])
        for row in zip(*(values.tolist() for _, values in columns), strict=True):
            writer.writerow([dataset, *row])


def data_config(run: TrainedRun, name: str | None, sets: Sequence[str]) -> Any:
    """The dataset to encode: the run's ``[data]``, or ``name`` with its own defaults, with
    ``--set data.KEY=VALUE`` applied; a bad value names the flag."""
    for expression in sets:
        if not expression.strip().startswith("data."):
            raise VaeframeError(f"--set {expression}: vaeframe encode sets dataset parameters "
                                "only (data.KEY=VALUE)")
    raw = {**run.record.config, "loggers": []}
    if name is not None:
        raw["data"] = {"name": name}
    source = f"{run.run_dir / CONFIG_FILE}" + (f" with --data {name}" if name else "")
    return configure(raw, get_registry(), source, sets=sets).data


def encode_command(run_dir: Path, out: Path, name: str | None, sets: Sequence[str],
                   split: str, checkpoint: str, device: str) -> tuple[Path, int, int]:
    """``vaeframe encode``: returns the file written, its number of rows and latent size."""
    check_format(out)  # before any work
    run = load_run(run_dir, checkpoint, device, device_source="--device")
    component = data_config(run, name, sets)
    table = encoded_table(run, load_grid_data(component), component.name, split)
    write_table(table, out)
    return out, len(table["mu"]), run.latent_dim
