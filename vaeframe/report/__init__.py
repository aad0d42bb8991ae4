"""``vaeframe report``: plots and a side-by-side table of finished runs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vaeframe.criteria import evaluate_run
from vaeframe.errors import VaeframeError
from vaeframe.report.runs import RunRecord, load_runs
from vaeframe.rundir import slug

RECONSTRUCTED_GRIDS = 8


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


def _markdown(records: Sequence[RunRecord], table: str, images: list[tuple[str, str]],
              notes: list[str]) -> str:
    lines = ["# vaeframe report", "", "Runs:", ""]
    lines += [f"- **{r.label}**: `{r.path}`" for r in records]
    lines += ["", "## Comparison", "",
              "Final-epoch figures from each run's summary.json; ✓ pass, ✗ fail, "
              "· not measurable here, — does not apply. Criteria: "
              "docs/specification.md#success-criteria.", "", table]
    lines += ["## Plots", ""] + [f"![{alt}]({name})" for alt, name in images]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def _model_pictures(record: RunRecord, checkpoint: Path, out: Path) -> list[tuple[str, str]]:
    """Reconstructions, latent traversals and the latent map of one run's checkpoint."""
    from vaeframe.report.arc_grids import plot_reconstructions
    from vaeframe.report.latent_pictures import encode_sample, plot_latent_map, plot_traversals
    from vaeframe.report.reconstruct import reconstruct
    from vaeframe.trained import open_checkpoint

    run = open_checkpoint(record, checkpoint)
    data = run.data()
    name = slug(record.label)
    plot_reconstructions(reconstruct(run, data, RECONSTRUCTED_GRIDS), record.label,
                         out / f"reconstructions_{name}.png")
    encoded = encode_sample(run, data)
    plot_traversals(run, data, encoded, record.label, out / f"traversals_{name}.png")
    plot_latent_map(data, encoded, record.label, out / f"latents_{name}.png")
    return [(f"{record.label}: reconstructions", f"reconstructions_{name}.png"),
            (f"{record.label}: latent traversals", f"traversals_{name}.png"),
            (f"{record.label}: latent map", f"latents_{name}.png")]


def make_report(run_dirs: Sequence[Path], out: Path) -> Path:
    """Write the table (report.md) and the PNG plots of ``run_dirs`` into ``out``."""
    from vaeframe.report.plots import plot_accuracy, plot_beta, plot_kl_heatmap
    from vaeframe.report.reconstruct import find_checkpoint
    from vaeframe.report.table import comparison_table

    records = load_runs(run_dirs)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VaeframeError(f"--out {out}: cannot create it ({exc.strerror})") from None
    table = comparison_table(records, all_criteria(records))
    (out / "table.md").write_text(table, encoding="utf-8")
    notes = [f"{r.label}: no metrics.jsonl (the jsonl logger was off): no curves"
             for r in records if not r.epochs]
    plot_beta(records, out / "beta.png")
    images = [("β per epoch", "beta.png")]
    with_history = [r for r in records if r.epochs]
    if with_history:
        plot_accuracy(with_history, out / "accuracy.png")
        plot_kl_heatmap(with_history, out / "kl_per_dim.png")
        images += [("non-black accuracy", "accuracy.png"),
                   ("KL per dimension", "kl_per_dim.png")]
    for record in records:
        checkpoint = find_checkpoint(record)
        if checkpoint is None:
            notes.append(f"{record.label}: no checkpoint: no reconstructions or traversals")
            continue
        images += _model_pictures(record, checkpoint, out)
    report = out / "report.md"
    report.write_text(_markdown(records, table, images, notes), encoding="utf-8")
    return report
