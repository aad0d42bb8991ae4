"""``vaeframe report``: plots and a side-by-side table of finished runs.

Runs that differ only in their seed are one group (:mod:`vaeframe.report.seeds`): one column
of ``mean ± std (n=k)`` figures, one mean curve with a ±1 std band, one point with error bars
in the rate–distortion plane. Pictures drawn from a checkpoint stay one set a run.

- ``seeds``: grouping runs by their config without ``run.seed``, mean and sample std;
- ``table``: the comparison table; ``plots``: β, accuracy, KL heatmap, rate–distortion;
- ``identity``: criterion 5 against a plain twin; ``model_pictures``, ``reconstruct``,
  ``arc_grids``, ``latent_pictures``: each run's pictures from its checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from vaeframe.errors import VaeframeError
from vaeframe.report.seeds import RunGroup, group_runs
from vaeframe.rundir.record import RunRecord, load_runs
from vaeframe.runs.criteria import evaluate_run


def run_criteria(record: RunRecord) -> list[dict[str, Any]]:
    """The criteria in summary.json, or computed from the history for older runs."""
    stored = record.summary.get("criteria")
    if isinstance(stored, list):
        return stored
    if not record.epochs:
        return []
    return evaluate_run(record.history, record.declared, record.summary.get("beta_history"))


def all_criteria(records: Sequence[RunRecord]) -> dict[str, list[dict[str, Any]]]:
    """Every run's criteria, criterion 5 measured against a plain twin among ``records``."""
    from vaeframe.report.identity import identity_criteria

    measured = identity_criteria(records)
    found = {}
    for record in records:
        items = run_criteria(record)
        if record.label in measured:
            items = [measured[record.label] if c["id"] == "identity_with_plain" else c
                     for c in items]
        found[record.label] = items
    return found


def _listed(group: RunGroup) -> str:
    """A column's line in the list of runs: its run, or its runs and their seeds."""
    if not group.grouped:
        return f"- **{group.label}**: `{group.first.path}`"
    seeds = ", ".join(map(str, group.seeds))
    paths = ", ".join(f"`{r.path}`" for r in group.records)
    return f"- **{group.label}** ({len(group.records)} runs, seeds {seeds}): {paths}"


SPREAD_NOTE = ("A column of runs whose configs differ only in `run.seed` shows each figure as "
               "mean ± sample standard deviation (ddof=1) over the n runs that have it; "
               "its curves are the mean with a ±1 std band.")


def _markdown(groups: Sequence[RunGroup], table: str, images: list[tuple[str, str]],
              notes: list[str]) -> str:
    lines = ["# vaeframe report", "", "Runs:", ""]
    lines += [_listed(g) for g in groups]
    lines += ["", "## Comparison", "",
              "Final-epoch figures from each run's summary.json; ✓ pass, ✗ fail, "
              "· not measurable here, — does not apply. Criteria: "
              "docs/specification.md#success-criteria."
              + (" " + SPREAD_NOTE if any(g.grouped for g in groups) else ""), "", table]
    lines += ["## Plots", ""] + [f"![{alt}]({name})" for alt, name in images]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def _kept(groups: Sequence[RunGroup], keep: Callable[[RunRecord], bool]) -> list[RunGroup]:
    return [g for g in (group.where(keep) for group in groups) if g is not None]


def make_report(run_dirs: Sequence[Path], out: Path) -> Path:
    """Write the table (report.md) and the PNG plots of ``run_dirs`` into ``out``."""
    from vaeframe.report.model_pictures import pictures_of_runs
    from vaeframe.report.plots import (
        plot_accuracy,
        plot_beta,
        plot_kl_heatmap,
        plot_rate_distortion,
    )
    from vaeframe.report.reconstruct import find_checkpoint
    from vaeframe.report.table import comparison_table

    records = load_runs(run_dirs)
    groups = group_runs(records)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VaeframeError(f"--out {out}: cannot create it ({exc.strerror})") from None
    table = comparison_table(records, all_criteria(records), groups)
    (out / "table.md").write_text(table, encoding="utf-8")
    notes = [f"{r.label}: no metrics.jsonl (the jsonl logger was off): no curves"
             for r in records if not r.epochs]
    plot_beta(groups, out / "beta.png")
    images = [("β per epoch", "beta.png")]
    with_history = [r for r in records if r.epochs]
    if with_history:
        plot_accuracy(_kept(groups, lambda r: bool(r.epochs)), out / "accuracy.png")
        plot_kl_heatmap(with_history, out / "kl_per_dim.png")
        images += [("non-black accuracy", "accuracy.png"),
                   ("KL per dimension", "kl_per_dim.png")]
    missing = plot_rate_distortion(groups, out / "rate_distortion.png")
    images.append(("rate–distortion plane: final KL (rate) against reconstruction loss "
                   "(distortion)", "rate_distortion.png"))
    notes += [f"{label}: no final.kl_raw and final.recon_loss: not in the rate–distortion "
              "plane" for label in missing]
    checkpoints = [(record, find_checkpoint(record)) for record in records]
    notes += [f"{record.label}: no checkpoint: no reconstructions or traversals"
              for record, checkpoint in checkpoints if checkpoint is None]
    images += pictures_of_runs([(r, c) for r, c in checkpoints if c is not None], out)
    report = out / "report.md"
    report.write_text(_markdown(groups, table, images, notes), encoding="utf-8")
    return report
