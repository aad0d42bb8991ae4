"""Criterion 5: a run whose KL regularizer declares a floor of 0 must reproduce the run with
the plain KL bit for bit."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from vaeframe.rundir.layout import checkpoint_path
from vaeframe.rundir.record import RunRecord
from vaeframe.runs.criteria import criterion

TITLE = "5. free bits 0 is the plain KL"


def has_zero_floor(record: RunRecord) -> bool:
    """A run whose KL regularizer declares a floor, set to 0."""
    return record.declared.kl_floor == 0


def is_plain(record: RunRecord) -> bool:
    """A run whose KL regularizer declares no floor and the plain KL."""
    return record.declared.kl_floor is None and record.declared.plain_kl


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    """The config minus what may differ between twins: names, places, loggers and kl."""
    config = copy.deepcopy(config)
    for key in ("loggers", "kl"):
        config.pop(key, None)
    config.get("run", {}).pop("name", None)
    config.get("run", {}).pop("output_dir", None)
    return config


def plain_twin(record: RunRecord, records: Sequence[RunRecord]) -> RunRecord | None:
    """A finished run with the plain KL and otherwise the same config as ``record``."""
    for other in records:
        if (other is not record and is_plain(other)
                and other.summary.get("status") == "finished"
                and _comparable(other.config) == _comparable(record.config)):
            return other
    return None


def _max_weight_difference(a: RunRecord, b: RunRecord) -> tuple[float, int]:
    """Largest absolute difference between the final weights, and the number of tensors."""
    from vaeframe.rundir.checkpoint import load_checkpoint

    left = load_checkpoint(checkpoint_path(a.path, "last"))["model"]
    right = load_checkpoint(checkpoint_path(b.path, "last"))["model"]
    if left.keys() != right.keys():
        return float("inf"), len(left)
    worst = 0.0
    for key, tensor in left.items():
        if tensor.shape != right[key].shape:
            return float("inf"), len(left)
        worst = max(worst, (tensor.double() - right[key].double()).abs().max().item())
    return worst, len(left)


def compare(record: RunRecord, twin: RunRecord) -> dict[str, Any]:
    """Criterion 5 measured: final weights and every logged row of the two runs."""
    worst, tensors = _max_weight_difference(record, twin)
    rows = len(record.history)
    same_rows = record.history == twin.history and rows > 0
    passed = worst == 0 and same_rows
    logged = (f"all {rows} metrics.jsonl rows equal" if same_rows
              else "metrics.jsonl rows differ")
    found = criterion("identity_with_plain", TITLE, worst, 0.0, passed,
                      f"vs {twin.label}: final weights max |Δ| = {worst:g} over {tensors} "
                      f"tensors, {logged}")
    return {**found, "compared_with": twin.label, "rows_equal": same_rows}


def identity_criteria(records: Sequence[RunRecord]) -> dict[str, dict[str, Any]]:
    """Criterion 5 for every zero-floor run whose plain twin is among ``records``."""
    found = {}
    for record in records:
        if has_zero_floor(record):
            twin = plain_twin(record, records)
            if twin is not None:
                found[record.label] = compare(record, twin)
    return found
