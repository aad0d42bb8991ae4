"""`vaeframe sweep` and `vaeframe report` end to end on smoke-sized runs."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CONFIGS, SMOKE_TEXT, cli_env, vaeframe, write_sweep

from vaeframe.report.table import SUMMARY_ROWS

SWEEP = """
[sweep]
name = "tiny"

[[sweep.points]]
name = "plain"
kl = { name = "none" }

[[sweep.points]]
name = "fb0"
kl = { name = "free_bits", threshold = 0.0 }
"""


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-point sweep of the smoke run file (plain KL and free bits 0), two epochs each."""
    root = tmp_path_factory.mktemp("sweep")
    run_file = write_sweep(root, SWEEP, name="tiny",
                           base=SMOKE_TEXT.replace("epochs = 3", "epochs = 2"))
    result = vaeframe("sweep", run_file, "--dir", root / "out")
    assert result.returncode == 0, result.stderr
    (root / "sweep.log").write_text(result.stderr)
    return root / "out"


@pytest.fixture(scope="module")
def reported(swept: Path) -> tuple[Path, str]:
    """``vaeframe report`` of the sweep's two runs: the output directory and stdout."""
    out = swept.parent / "report"
    result = vaeframe("report", *run_dirs(swept).values(), "--out", out)
    assert result.returncode == 0, result.stderr
    return out, result.stdout


def run_dirs(sweep_dir: Path) -> dict[str, Path]:
    return {json.loads((p / "summary.json").read_text())["name"]: p
            for p in sweep_dir.iterdir() if (p / "summary.json").exists()}


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG header; fails on anything that is not a PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def table_cells(path: Path) -> dict[str, list[str]]:
    """Row label → cells of a Markdown table (the header row under the key "")."""
    rows = {}
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if cells[0] != "---":
            rows[cells[0]] = cells[1:]
    return rows


@pytest.mark.slow
def test_sweep_runs_each_point_and_reports_into_its_directory(swept: Path) -> None:
    runs = run_dirs(swept)
    assert set(runs) == {"tiny-plain", "tiny-fb0"}
    for name, run_dir in runs.items():
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["status"] == "finished" and summary["epochs_completed"] == 2, name
    table = table_cells(swept / "report" / "table.md")
    assert table[""] == ["tiny-plain", "tiny-fb0"]  # the order the points ran in
    assert table["5. free bits 0 is the plain KL"] == ["—", "✓ bit-identical to tiny-plain"]
    assert (swept / "report" / "report.md").exists()


@pytest.mark.slow
def test_report_renders_valid_pngs_of_sensible_size(reported: tuple[Path, str]) -> None:
    out, stdout = reported
    names = {"beta.png", "accuracy.png", "kl_per_dim.png",
             *(f"{kind}_{run}.png" for kind in ("reconstructions", "traversals", "latents")
               for run in ("tiny-plain", "tiny-fb0"))}
    assert names <= {p.name for p in out.iterdir()}
    for name in names:
        width, height = png_size(out / name)
        assert 400 <= width <= 4000 and 250 <= height <= 4000, (name, width, height)
        assert (out / name).stat().st_size > 10_000, name
    report = (out / "report.md").read_text()
    assert all(f"]({name})" in report for name in names)
    assert "| 1. KL per dimension monitored |" in stdout


@pytest.mark.slow
def test_table_values_equal_each_summary(swept: Path, reported: tuple[Path, str]) -> None:
    runs = run_dirs(swept)
    table = table_cells(reported[0] / "table.md")
    for column, name in enumerate(table[""]):
        summary = json.loads((runs[name] / "summary.json").read_text())
        for label, get, _show in SUMMARY_ROWS:
            cell, value = table[label][column], get(summary)
            if isinstance(value, float):
                digits = cell.rstrip("%").split(".")
                shown = float(cell.rstrip("%")) / (100 if cell.endswith("%") else 1)
                step = 10.0 ** -(len(digits[1]) if len(digits) > 1 else 0)
                step /= 100 if cell.endswith("%") else 1
                assert abs(shown - value) <= step / 2 + 1e-12, (label, cell, value)
            else:
                assert cell == str(value), (label, cell, value)
        criteria = {c["criterion"]: c for c in summary["criteria"]}
        assert table["3a. non-black accuracy, training grids"][column].endswith(
            f"{100 * criteria['3a. non-black accuracy, training grids']['measured']:.1f}% "
            "vs 30.0%")


def test_a_bad_run_dir_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for bad, message in ((tmp_path / "missing", "no such run directory"),
                         (tmp_path / "empty", "no summary.json")):
        result = vaeframe("report", bad, "--out", tmp_path / "out")
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_checkpoint_that_does_not_fit_is_one_clear_error_from_the_drawing_workers(
        swept: Path, tmp_path: Path) -> None:
    """Pictures are drawn in worker processes; an error there still reaches the user as one
    line that names the run."""
    broken = tmp_path / "broken"
    source = run_dirs(swept)["tiny-fb0"]
    subprocess.run(["cp", "-r", str(source), str(broken)], check=True)
    config = broken / "config.toml"
    config.write_text(config.read_text().replace("latent_dim = 4", "latent_dim = 5"))
    result = vaeframe("report", run_dirs(swept)["tiny-plain"], broken, "--out", tmp_path / "out")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert str(broken) in result.stderr and "size mismatch for" in result.stderr


@pytest.mark.slow
def test_without_a_process_pool_the_pictures_are_drawn_in_this_process(
        swept: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vaeframe.report import make_report, model_pictures

    def no_pool(*args, **kwargs):
        raise OSError(38, "Function not implemented")  # as sem_open says without /dev/shm

    monkeypatch.setattr(model_pictures, "ProcessPoolExecutor", no_pool)
    make_report(list(run_dirs(swept).values()), tmp_path / "out")
    for name in ("tiny-plain", "tiny-fb0"):
        for kind in ("reconstructions", "traversals", "latents"):
            assert png_size(tmp_path / "out" / f"{kind}_{name}.png")[0] > 300


@pytest.mark.slow
def test_run_summary_and_console_state_the_criteria(swept: Path) -> None:
    summary = json.loads((run_dirs(swept)["tiny-fb0"] / "summary.json").read_text())
    ids = [c["id"] for c in summary["criteria"]]
    assert ids == ["kl_monitored", "nonblack_acc_train", "nonblack_acc_heldout",
                   "identity_with_plain", "active_units"]
    assert all({"measured", "threshold", "passed", "text"} <= c.keys()
               for c in summary["criteria"])
    console = (swept.parent / "sweep.log").read_text()
    assert "success criteria" in console and "PASS 1. KL per dimension monitored" in console


def test_help_listing_and_sweep_list_import_neither_torch_nor_matplotlib() -> None:
    code = ("import sys; from vaeframe.cli.app import main; "
            "main(['list-plugins']); main(['sweep', 'configs/ablation.toml', '--list']); "
            "heavy = {'torch', 'matplotlib'} & set(sys.modules); assert not heavy, heavy")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=cli_env(), cwd=CONFIGS.parent)
    assert result.returncode == 0, result.stderr
