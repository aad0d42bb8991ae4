"""Per-grid labels and factors of a dataset: checked when loaded, scored at the end of a run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CONFIGS, only_run_dir, run_with_plugin, vaeframe
from tracker_runs import not_imported

PLUGIN = """
    import attrs
    import numpy as np

    from vaeframe import GridData, hookimpl

    @attrs.define
    class Labelled:
        \"\"\"Synthetic grids with labels, broken in the way `broken` says.\"\"\"

        broken: str = "no"

        def load(self):
            grids = [np.full((3, 3), i % 10) for i in range(40)]
            train_labels = {"size": [3] * 32, "tint": [i % 10 for i in range(32)]}
            heldout_labels = {"size": [3] * 8, "tint": [i % 10 for i in range(32, 40)]}
            factors = ("tint",)
            if self.broken == "length":
                train_labels["size"] = [3] * 31
            if self.broken == "missing":
                factors = ("tint", "shade")
            if self.broken == "float":
                heldout_labels["tint"] = [0.5] * 8
            return GridData(train=grids[:32], heldout=grids[32:], train_labels=train_labels,
                            heldout_labels=heldout_labels, factors=factors)

    @hookimpl
    def register_datasets(register):
        register("labelled", Labelled)
"""


def run(tmp_path: Path, out: Path, data: str):
    return run_with_plugin(tmp_path, "labelled_plugin", PLUGIN, "run", CONFIGS / "smoke.toml",
                           "--epochs", "1", "--set", f"run.output_dir={out}",
                           "--set", f"data={data}", "--set", "loggers.0.progress=false")


@pytest.mark.parametrize(("broken", "message"), [
    ("length", "train_labels['size'] has 31 values for 32 train grids; give one value per grid"),
    ("missing", "factor 'shade' is not a column of train_labels (columns: size, tint)"),
    ("float", "factor 'tint' must hold integers in heldout_labels"),
])
def test_labels_that_do_not_fit_are_refused_naming_the_plugin(tmp_path: Path, broken: str,
                                                              message: str) -> None:
    result = run(tmp_path, tmp_path / "runs", f'{{name="labelled", broken="{broken}"}}')
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: dataset 'labelled' of ") and last.endswith(message), last


def test_a_dataset_with_factors_gets_disentanglement_scores(tmp_path: Path) -> None:
    result = run(tmp_path, tmp_path / "runs", '{name="labelled"}')
    assert result.returncode == 0, result.stderr
    scores = json.loads((only_run_dir(tmp_path / "runs") / "summary.json").read_text())[
        "disentanglement"]
    assert scores["factors"] == ["tint"]
    assert (scores["train_grids"], scores["heldout_grids"]) == (32, 8)
    for key in ("mig", "dci_disentanglement", "dci_completeness", "dci_informativeness", "sap"):
        assert 0.0 <= scores[key] <= 1.0, key


@pytest.mark.slow
def test_an_arc_shapes_run_reports_mig_and_dci(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    result = vaeframe("run", CONFIGS / "smoke.toml", "--set", f"run.output_dir={out}",
                      "--set", 'data={name="arc-shapes", num_train=256, num_heldout=64}',
                      "--set", "loggers.0.progress=false")
    assert result.returncode == 0, result.stderr
    run_dir = only_run_dir(out)
    scores = json.loads((run_dir / "summary.json").read_text())["disentanglement"]
    assert scores["factors"] == ["kind", "colour", "size", "orientation", "row", "col"]
    assert all(0.0 <= scores[k] <= 1.0 for k in ("mig", "dci_disentanglement", "sap"))
    report = vaeframe("report", run_dir, "--out", tmp_path / "report")
    assert report.returncode == 0, report.stderr
    table = (tmp_path / "report" / "table.md").read_text()
    assert f"| MIG | {scores['mig']:.3f} |" in table
    assert f"| DCI disentanglement | {scores['dci_disentanglement']:.3f} |" in table
    picture = tmp_path / "report" / "latents_smoke.png"
    assert picture.is_file() and picture.stat().st_size > 10_000


def test_a_run_without_factors_does_not_import_scikit_learn(tmp_path: Path) -> None:
    """scikit-learn's import takes seconds: only runs that score disentanglement pay it."""
    result = not_imported(["sklearn"], ["run", str(CONFIGS / "smoke.toml"), "--epochs", "1",
                                        "--set", f"run.output_dir={tmp_path}",
                                        "--set", 'loggers=[{name="jsonl"}]'])
    assert result.returncode == 0, result.stderr
    assert (only_run_dir(tmp_path) / "summary.json").is_file()
