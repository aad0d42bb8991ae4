"""The Markdown table that compares runs side by side, one column a run."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from vaeframe.rundir.record import RunRecord, component_label

MARKS = {True: "✓", False: "✗", None: "·"}
CRITERIA_ORDER = ("kl_monitored", "free_bits_floor", "nonblack_acc_train", "nonblack_acc_heldout",
                  "beta_period", "identity_with_plain", "active_units")


def percent(value: Any) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def number(digits: int) -> Callable[[Any], str]:
    def show(value: Any) -> str:
        return "—" if value is None else f"{value:.{digits}f}"

    return show




def _get(*keys: str) -> Callable[[Mapping[str, Any]], Any]:
    def get(summary: Mapping[str, Any]) -> Any:
        value: Any = summary
        for key in keys:
            value = value.get(key) if isinstance(value, Mapping) else None
        return value

    return get


# (row label, value from summary.json, how it is shown)
SUMMARY_ROWS: list[tuple[str, Callable[[Mapping[str, Any]], Any], Callable[[Any], str]]] = [
    ("status", _get("status"), str),
    ("epochs", _get("epochs_completed"), str),
    ("final β", _get("final", "beta"), number(4)),
    ("non-black acc, training", _get("final", "train_nonblack_acc"), percent),
    ("non-black acc, held-out", _get("final", "heldout_nonblack_acc"), percent),
    ("best held-out acc", _get("best", "heldout_nonblack_acc"), percent),
    ("best epoch", _get("best", "epoch"), str),
    ("active units", _get("final", "active_units"), number(0)),
    ("KL/dim min (nats)", _get("final", "kl_per_dim_min"), number(3)),
    ("KL/dim mean (nats)", _get("final", "kl_per_dim_mean"), number(3)),
    ("KL/dim max (nats)", _get("final", "kl_per_dim_max"), number(3)),
    ("KL raw (nats)", _get("final", "kl_raw"), number(3)),
    ("reconstruction loss", _get("final", "recon_loss"), number(1)),
    ("wall time (s)", _get("wall_time_s"), number(1)),
]


DISENTANGLEMENT_ROWS: list[tuple[str, Callable[[Mapping[str, Any]], Any],
                                 Callable[[Any], str]]] = [
    ("MIG", _get("disentanglement", "mig"), number(3)),
    ("DCI disentanglement", _get("disentanglement", "dci_disentanglement"), number(3)),
    ("DCI completeness", _get("disentanglement", "dci_completeness"), number(3)),
    ("DCI informativeness", _get("disentanglement", "dci_informativeness"), percent),
    ("SAP", _get("disentanglement", "sap"), number(3)),
]


def _identity(item: Mapping[str, Any]) -> str:
    if item.get("measured") is None:
        return "needs a plain run"
    if item.get("passed"):
        return f"bit-identical to {item.get('compared_with')}"
    rows = "rows equal" if item.get("rows_equal") else "rows differ"
    return f"max abs Δw {item['measured']:g}, {rows} vs {item.get('compared_with')}"


def criterion_cell(item: Mapping[str, Any] | None) -> str:
    """A criterion as ``✓ figure vs threshold``; ``—`` where it does not apply."""
    if item is None:
        return "—"
    m, t = item.get("measured"), item.get("threshold")
    shown = {
        "kl_monitored": lambda: f"{m}/{t} epochs",
        "free_bits_floor": lambda: f"{number(3)(m)} vs λ {t:g}",
        "nonblack_acc_train": lambda: f"{percent(m)} vs {percent(t)}",
        "nonblack_acc_heldout": lambda: f"{percent(m)} vs {percent(t)}",
        "beta_period": lambda: f"{'no period' if m is None else m} vs {t} epochs",
        "identity_with_plain": lambda: _identity(item),
        "active_units": lambda: f"{'—' if m is None else m}/{t}",
    }.get(item.get("id", ""), lambda: str(m))()
    return f"{MARKS[item.get('passed')]} {shown}"


def _order(id_: str) -> int:
    """Criteria in the specification's order; any others after them."""
    return CRITERIA_ORDER.index(id_) if id_ in CRITERIA_ORDER else len(CRITERIA_ORDER)


def _criteria_rows(records: Sequence[RunRecord],
                   criteria: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[list[str]]:
    titles: dict[str, str] = {}
    for record in records:
        for item in criteria[record.label]:
            titles.setdefault(item["id"], item["criterion"])
    rows = []
    for id_, title in sorted(titles.items(), key=lambda item: _order(item[0])):
        cells = []
        for record in records:
            found = [c for c in criteria[record.label] if c["id"] == id_]
            cells.append(criterion_cell(found[0] if found else None))
        rows.append([title, *cells])
    return rows


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def comparison_table(records: Sequence[RunRecord],
                     criteria: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    """Runs side by side: setup, final figures from summary.json, then the criteria."""
    rows = [[title, *(component_label(r.config, section) for r in records)]
            for title, section in (("model", "model"), ("reconstruction loss", "loss"),
                                   ("schedule", "schedule"), ("KL regularizer", "kl"))]
    with_factors = any("disentanglement" in r.summary for r in records)
    rows += [[label, *(show(get(r.summary)) for r in records)]
             for label, get, show in SUMMARY_ROWS + DISENTANGLEMENT_ROWS * with_factors]
    rows += _criteria_rows(records, criteria)
    lines = ["| | " + " | ".join(_escape(r.label) for r in records) + " |",
             "| --- |" + " --- |" * len(records)]
    lines += ["| " + " | ".join(_escape(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
