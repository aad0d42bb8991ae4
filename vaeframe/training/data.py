"""A dataset component's grids and labels, loaded and checked once for every user."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from vaeframe.config.schema import ComponentConfig
from vaeframe.errors import PluginError, VaeframeError
from vaeframe.registry.calls import call_plugin
from vaeframe.registry.types import GridData

SPLITS = ("train", "heldout")


def _check_labels(labels: Mapping[str, Sequence[Any]], count: int, split: str,
                  who: str) -> None:
    for column, values in labels.items():
        if len(values) != count:
            raise PluginError(f"{who}: {split}_labels[{column!r}] has {len(values)} values "
                              f"for {count} {split} grids; give one value per grid")


def _check_factors(data: GridData, who: str) -> None:
    for factor in data.factors:
        for split in SPLITS:
            labels = labels_of(data, split)
            if factor not in labels:
                raise PluginError(f"{who}: factor {factor!r} is not a column of "
                                  f"{split}_labels (columns: {', '.join(labels) or 'no labels'})")
            if not np.issubdtype(np.asarray(labels[factor]).dtype, np.integer):
                raise PluginError(f"{who}: factor {factor!r} must hold integers in "
                                  f"{split}_labels")


def load_grid_data(data: ComponentConfig) -> GridData:
    """``data.load()``, checked: a GridData with grids in both splits and labels that fit."""
    found = call_plugin(data, "load")
    who = data.describe()
    if not isinstance(found, GridData):
        raise PluginError(f"{who}: load() returned {type(found).__name__}, "
                          "not a vaeframe.GridData")
    if not found.train or not found.heldout:
        raise VaeframeError(f"dataset {data.name!r} has {len(found.train)} training and "
                            f"{len(found.heldout)} held-out grids; it needs at least one of each")
    _check_labels(found.train_labels, len(found.train), "train", who)
    _check_labels(found.heldout_labels, len(found.heldout), "heldout", who)
    _check_factors(found, who)
    return found


def grids_of(data: GridData, split: str) -> list[np.ndarray]:
    return data.train if split == "train" else data.heldout


def labels_of(data: GridData, split: str) -> Mapping[str, Sequence[Any]]:
    return data.train_labels if split == "train" else data.heldout_labels


def factor_matrix(data: GridData, split: str) -> np.ndarray:
    """``(n, k)`` integer factors of ``split``'s grids, in the order of ``data.factors``."""
    labels = labels_of(data, split)
    return np.stack([np.asarray(labels[f], dtype=np.int64) for f in data.factors], axis=1)
