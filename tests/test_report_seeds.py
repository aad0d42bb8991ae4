"""The report groups runs that differ only in their seed: one column of ``mean ± std (n=k)``
figures, mean curves with a ±1 std band, and the rate–distortion plane."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CONFIGS, vaeframe

from vaeframe.report.plots import plot_accuracy, plot_beta, plot_rate_distortion
from vaeframe.report.seeds import group_runs, mean_std, spread, strip_seed
from vaeframe.report.table import SUMMARY_ROWS, comparison_table, number, percent
from vaeframe.rundir.record import RunRecord

CONFIG: dict[str, Any] = {
    "run": {"name": "S-fb", "seed": 0, "output_dir": "runs"},
    "data": {"name": "synthetic", "num_train": 96, "seed": 0},
    "model": {"name": "conv", "latent_dim": 4},
    "train": {"epochs": 3, "device": "cpu"},
    "schedule": {"name": "linear_warmup", "max_beta": 0.5},
    "kl": {"name": "free_bits", "threshold": 0.1},
    "loggers": [{"name": "jsonl", "filename": "metrics.jsonl"}],
}


def config(seed: int = 0, **changes: Any) -> dict[str, Any]:
    """CONFIG with ``run.seed`` and dotted keys (``kl__threshold``) changed."""
    found = copy.deepcopy(CONFIG)
    found["run"]["seed"] = seed
    for key, value in changes.items():
        *path, last = key.split("__")
        table = found
        for part in path:
            table = table.setdefault(part, {})
        table[last] = value
    return found


def summary(acc: float, kl_raw: float, recon: float, mig: float, factor_vae: float,
            status: str = "finished", epochs: int = 3) -> dict[str, Any]:
    return {"status": status, "epochs_completed": epochs, "wall_time_s": 2.0,
            "final": {"beta": 0.5, "train_nonblack_acc": acc, "heldout_nonblack_acc": acc / 2,
                      "active_units": 4, "kl_per_dim_min": kl_raw / 8,
                      "kl_per_dim_mean": kl_raw / 4, "kl_per_dim_max": kl_raw / 2,
                      "kl_raw": kl_raw, "recon_loss": recon},
            "best": {"heldout_nonblack_acc": acc / 2, "epoch": epochs},
            "disentanglement": {"mig": mig, "dci_disentanglement": mig, "dci_completeness": mig,
                                "dci_informativeness": 0.5, "sap": mig / 2,
                                "factor_vae": {"score": factor_vae}}}


def history(accs: list[float]) -> list[dict[str, Any]]:
    return [{"epoch/loss": 1.0, "epoch": e, "beta": 0.25 * e, "train/nonblack_acc": a,
             "heldout/nonblack_acc": a / 2} for e, a in enumerate(accs, 1)]


def record(label: str, run_config: dict[str, Any], run_summary: dict[str, Any] | None = None,
           rows: list[dict[str, Any]] | None = None) -> RunRecord:
    found = run_summary or summary(0.5, 10.0, 100.0, 0.2, 0.6)
    found.setdefault("name", run_config["run"]["name"])  # as summary.json has it
    return RunRecord(Path("runs") / label, found, run_config, rows or [], label)


# -- groups ---------------------------------------------------------------------------------

def test_configs_that_differ_only_in_the_seed_are_one_group() -> None:
    seeded = [record(f"S-fb-seed={s}", config(s, run__name=f"S-fb-seed={s}",
                                              run__output_dir=f"sweep{s}")) for s in (0, 1, 2)]
    other = record("S-plain-seed=0", config(0, run__name="S-plain-seed=0", kl={"name": "none"}))
    groups = group_runs([seeded[0], other, *seeded[1:]])
    assert [(g.label, g.grouped) for g in groups] == [("S-fb", True), ("S-plain-seed=0", False)]
    assert groups[0].records == tuple(seeded) and groups[0].seeds == [0, 1, 2]
    assert groups[1].records == (other,)


@pytest.mark.parametrize("change", [
    {"kl__threshold": 0.2}, {"kl": {"name": "none"}}, {"train__epochs": 4},
    {"train__compile": "graph"}, {"data__seed": 1}, {"model__latent_dim": 8},
    {"schedule__max_beta": 0.1}, {"loggers": []}, {"run__extra": 1},
])
def test_runs_that_differ_in_any_other_key_are_not_grouped(change: dict[str, Any]) -> None:
    runs = [record("a0", config(0)), record("a1", config(1)), record("b2", config(2, **change))]
    groups = group_runs(runs)
    assert [[r.label for r in g.records] for g in groups] == [["a0", "a1"], ["b2"]]


def test_seeds_that_ran_on_different_devices_are_one_group() -> None:
    runs = [record("a0", config(0)), record("a1", config(1, train__device="cuda:1"))]
    assert [[r.label for r in g.records] for g in group_runs(runs)] == [["a0", "a1"]]


def test_a_group_is_labelled_by_what_its_labels_share_without_the_seed() -> None:
    assert strip_seed("S-ultra-kl.threshold=0.3-seed=12") == "S-ultra-kl.threshold=0.3"
    assert strip_seed("S-seed=1") == "S" and strip_seed("seed=1-x") == "x"
    assert strip_seed("S-reseed=1") == "S-reseed=1"  # only a whole part names the seed
    assert strip_seed("S-a-run.seed=2-b") == "S-a-b"  # a grid over run.seed
    # runs of one run file with --set run.seed=N share their name, labelled by directory
    smoke = [record(f"smoke-20260101-10101{s}", config(s, run__name="smoke")) for s in (0, 1)]
    assert group_runs(smoke)[0].label == "smoke"
    # two groups whose labels would be the same are told apart by their seeds
    twins = [record(f"x{s}", config(s, run__name="smoke", kl__threshold=t))
             for s, t in ((0, 0.1), (1, 0.1), (2, 0.3), (3, 0.3))]
    assert [g.label for g in group_runs(twins)] == ["smoke (seeds 0, 1)", "smoke (seeds 2, 3)"]


# -- mean ± std -----------------------------------------------------------------------------

def test_mean_and_sample_std_of_three_values_by_hand() -> None:
    # mean (0.1 + 0.2 + 0.4) / 3 = 0.2333...; squared deviations 0.017778 + 0.001111 +
    # 0.027778 = 0.046667; over n - 1 = 2: 0.023333; its root 0.152753
    mean, std, n = mean_std([0.1, 0.2, 0.4])
    assert n == 3 and math.isclose(mean, 0.7 / 3) and math.isclose(std, 0.1527525, rel_tol=1e-6)
    assert spread([0.1, 0.2, 0.4], number(3)) == "0.233 ± 0.153 (n=3)"
    assert spread([0.1, 0.2, 0.4], percent) == "23.3% ± 15.3% (n=3)"
    # a run without the figure is left out: (0.1 + 0.4) / 2, √(2 · 0.15² / 1) = 0.2121
    assert spread([0.1, None, 0.4], number(3)) == "0.250 ± 0.212 (n=2)"
    assert spread([None, 0.4], number(3)) == "0.400 (n=1)"
    assert spread([None, None], number(3)) == "—"


def cells(table: str) -> dict[str, list[str]]:
    rows = {}
    for line in table.splitlines():
        found = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if found[0] != "---":
            rows[found[0]] = found[1:]
    return rows


def test_a_groups_column_shows_every_figure_as_mean_and_std() -> None:
    figures = [(0.40, 9.0, 110.0, 0.10, 0.50), (0.50, 10.0, 100.0, 0.20, 0.60),
               (0.60, 11.0, 90.0, 0.30, 0.70)]
    seeded = [record(f"S-fb-seed={s}", config(s, run__name=f"S-fb-seed={s}"), summary(*f))
              for s, f in enumerate(figures)]
    other = record("S-plain", config(0, kl={"name": "none"}), summary(0.45, 12.0, 95.0, 0.25, 0.4))
    criteria = {r.label: [{"id": "nonblack_acc_train", "criterion": "3a. accuracy",
                           "measured": r.summary["final"]["train_nonblack_acc"],
                           "threshold": 0.3, "passed": r.label != "S-fb-seed=1"},
                          {"id": "kl_monitored", "criterion": "1. KL monitored", "measured": 3,
                           "threshold": 3, "passed": True}]
                for r in [*seeded, other]}
    table = cells(comparison_table([*seeded, other], criteria))
    assert table[""] == ["S-fb", "S-plain"]
    assert table["seeds"] == ["0, 1, 2", "0"]
    assert table["KL regularizer"] == ["free_bits (threshold 0.1)", "none"]
    assert table["status"] == ["finished ×3", "finished"]
    assert table["non-black acc, training"] == ["50.0% ± 10.0% (n=3)", "45.0%"]
    assert table["KL raw (nats)"] == ["10.000 ± 1.000 (n=3)", "12.000"]
    assert table["reconstruction loss"] == ["100.0 ± 10.0 (n=3)", "95.0"]
    assert table["epochs"] == ["3.0 ± 0.0 (n=3)", "3"]
    assert table["MIG"] == ["0.200 ± 0.100 (n=3)", "0.250"]
    assert table["FactorVAE score"] == ["60.0% ± 10.0% (n=3)", "40.0%"]
    for label, _, _ in SUMMARY_ROWS[1:]:
        assert table[label][0].endswith("(n=3)") and " ± " in table[label][0], label
        assert "±" not in table[label][1] and "(n=" not in table[label][1], label
    assert table["3a. accuracy"] == ["✓✗✓ 50.0% ± 10.0% (n=3) vs 30.0%", "✓ 45.0% vs 30.0%"]
    assert table["1. KL monitored"] == ["✓ 3.0 ± 0.0 (n=3) of 3 epochs", "✓ 3/3 epochs"]


def test_without_seeds_the_table_has_one_plain_column_a_run() -> None:
    runs = [record("a", config(0)), record("b", config(0, kl__threshold=0.3))]
    table = comparison_table(runs, {"a": [], "b": []})
    assert "±" not in table and "(n=" not in table and "| seeds |" not in table
    assert table.splitlines()[0] == "| | a | b |"


# -- plots ----------------------------------------------------------------------------------

@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """The figures the plots draw, kept open after they are saved."""
    from vaeframe.report import plots

    figures: list[Any] = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: (figures.append(fig),
                                                                 fig.savefig(path))[0])
    yield figures
    for fig in figures:
        plots.pyplot().close(fig)


def test_a_group_is_drawn_as_its_mean_with_a_band_and_error_bars(tmp_path: Path,
                                                                 drawn: list[Any]) -> None:
    seeded = [record(f"g-seed={s}", config(s, run__name=f"g-seed={s}"),
                     summary(0.5, 10.0 + s, 100.0 - 10 * s, 0.2, 0.5),
                     history([0.1 + 0.1 * s, 0.2 + 0.1 * s])) for s in range(3)]
    alone = record("alone", config(0, kl__threshold=0.3), summary(0.4, 5.0, 120.0, 0.1, 0.4),
                   history([0.3, 0.3]))
    without = record("without", config(0, train__epochs=9), {"status": "failed"})
    groups = group_runs([*seeded, alone, without])
    plot_accuracy(groups[:2], tmp_path / "accuracy.png")
    train = drawn[-1].axes[0]
    lines = {line.get_label(): line for line in train.get_lines()}
    mean = lines["g (mean ± std, n=3)"]
    assert list(mean.get_xdata()) == [1, 2]
    assert [round(y, 6) for y in mean.get_ydata()] == [20.0, 30.0]  # 100 × mean of the seeds
    [band] = train.collections  # one band: the group's
    ys = band.get_paths()[0].vertices[:, 1]
    assert math.isclose(ys.min(), 10.0) and math.isclose(ys.max(), 40.0)  # ± 10 points
    assert list(lines["alone"].get_ydata()) == [30.0, 30.0]
    plot_beta(groups[:2], tmp_path / "beta.png")
    missing = plot_rate_distortion(groups, tmp_path / "rate_distortion.png")
    assert missing == ["without"]
    plane = drawn[-1].axes[0]
    [bars] = plane.containers  # the group's error bars, at its mean
    (x,), (y,) = bars.lines[0].get_data()
    assert (x, y) == (11.0, 90.0)
    assert {t.get_text() for t in plane.texts} == {"g", "alone"}
    for name in ("accuracy.png", "beta.png", "rate_distortion.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- a report over real runs ----------------------------------------------------------------

def smoke_run(output_dir: Path, *sets: str) -> Path:
    before = set(output_dir.iterdir()) if output_dir.exists() else set()
    result = vaeframe("run", CONFIGS / "smoke.toml", "--set", "train.epochs=2",
                      "--set", f"run.output_dir={output_dir}", *sets, OMP_NUM_THREADS="1")
    assert result.returncode == 0, result.stderr
    [made] = set(output_dir.iterdir()) - before
    return made


@pytest.mark.slow
def test_a_report_of_three_seeds_and_another_run(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    seeded = [smoke_run(runs, "--set", f"run.seed={seed}") for seed in (0, 1, 2)]
    other = smoke_run(runs, "--set", "kl.threshold=0.2")
    out = tmp_path / "report"
    result = vaeframe("report", *seeded, other, "--out", out, OMP_NUM_THREADS="1")
    assert result.returncode == 0, result.stderr
    table = cells((out / "table.md").read_text())
    assert table[""] == ["smoke", other.name]
    assert table["seeds"] == ["0, 1, 2", "0"]
    group = [cell for row, found in table.items() if row for cell in found[:1]]
    single = [found[1] for row, found in table.items() if row]
    assert sum(" ± " in cell and "(n=3)" in cell for cell in group) >= 15
    assert table["non-black acc, training"][0].endswith("(n=3)")
    assert " ± " in table["KL raw (nats)"][0] and " ± " in table["reconstruction loss"][0]
    assert not any("±" in cell or "(n=" in cell for cell in single), single
    summaries = [json.loads((run / "summary.json").read_text()) for run in seeded]
    kl = [s["final"]["kl_raw"] for s in summaries]
    assert table["KL raw (nats)"][0] == spread(kl, number(3))
    report = (out / "report.md").read_text()
    assert "](rate_distortion.png)" in report and "(3 runs, seeds 0, 1, 2)" in report
    assert "(n=3)" in result.stdout  # the table the command prints
    from matplotlib.image import imread

    picture = imread(out / "rate_distortion.png")
    assert picture.ndim == 3 and picture.shape[0] > 200 and picture.shape[1] > 300
    for run in (*seeded, other):  # the pictures from a checkpoint stay one set a run
        assert (out / f"reconstructions_{run.name}.png").is_file()
