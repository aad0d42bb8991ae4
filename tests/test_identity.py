"""Criterion 5 between hand-made run directories: twins found, weights and rows compared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from vaeframe.report.identity import identity_criteria
from vaeframe.rundir.checkpoint import save_checkpoint
from vaeframe.rundir.record import RunRecord

ROWS = [{"step": 1, "epoch": 1.0, "epoch/loss": 2.0}]


def record(tmp_path: Path, label: str, kl: dict[str, Any], weight: float,
           rows: list[dict[str, Any]] = ROWS, seed: int = 0) -> RunRecord:
    path = tmp_path / label
    save_checkpoint({"model": {"w": torch.full((2, 2), weight)}, "epoch": 1},
                    path / "checkpoints" / "last.pt")
    config = {"run": {"name": label, "seed": seed, "output_dir": "x"}, "kl": kl,
              "model": {"latent_dim": 2}, "loggers": [{"name": "jsonl"}]}
    return RunRecord(path, {"status": "finished"}, config, [dict(r) for r in rows], label)


def test_identical_twins_pass(tmp_path: Path) -> None:
    zero = record(tmp_path, "zero", {"name": "free_bits", "threshold": 0.0, "per": "sample"}, 1.0)
    plain = record(tmp_path, "plain", {"name": "none"}, 1.0)
    found = identity_criteria([plain, zero])
    assert set(found) == {"zero"}
    assert found["zero"]["passed"] is True and found["zero"]["measured"] == 0.0
    assert found["zero"]["compared_with"] == "plain"


def test_different_weights_or_rows_fail(tmp_path: Path) -> None:
    zero = record(tmp_path, "zero", {"name": "free_bits", "threshold": 0.0}, 1.0)
    plain = record(tmp_path, "plain", {"name": "none"}, 1.0 + 2**-20)
    found = identity_criteria([zero, plain])["zero"]
    assert found["passed"] is False and found["measured"] == 2**-20
    other = record(tmp_path, "other", {"name": "none"}, 1.0,
                   rows=[{**ROWS[0], "epoch/loss": 2.5}])
    found = identity_criteria([zero, other])["zero"]
    assert found["passed"] is False and found["rows_equal"] is False


def test_no_twin_when_the_rest_of_the_config_differs(tmp_path: Path) -> None:
    zero = record(tmp_path, "zero", {"name": "free_bits", "threshold": 0.0}, 1.0)
    seeded = record(tmp_path, "seeded", {"name": "none"}, 1.0, seed=1)
    clamped = record(tmp_path, "clamped", {"name": "free_bits", "threshold": 0.3}, 1.0)
    assert identity_criteria([zero, seeded, clamped]) == {}
