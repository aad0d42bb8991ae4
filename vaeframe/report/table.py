"""The Markdown table that compares runs side by side, one column a run or a group of runs
that differ only in their seed (:mod:`vaeframe.report.seeds`): a group's figures are
``mean ± std (n=k)``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from vaeframe.report.seeds import RunGroup, group_runs, numbers, spread, strip_seed
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


def _at(path: str) -> Callable[[Mapping[str, Any]], Any]:
    """The value at a dotted key path of summary.json (``final.kl_raw``)."""
    return _get(*path.split("."))


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
    ("FactorVAE score", _at("disentanglement.factor_vae.score"), percent),
]

#: how a group shows a row whose single runs show whole numbers or text
GROUP_SHOW: dict[str, Callable[[Any], str]] = {
    "epochs": number(1), "best epoch": number(1), "active units": number(1)}


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


def _general(value: Any) -> str:
    return "—" if value is None else f"{value:g}"


def _twins(items: Sequence[Mapping[str, Any]]) -> str:
    """The plain twins of a group's runs, by what their labels share without the seed."""
    return ", ".join(dict.fromkeys(strip_seed(str(i.get("compared_with"))) for i in items))


def _group_identity(items: Sequence[Mapping[str, Any]]) -> str:
    measured = [i for i in items if i.get("measured") is not None]
    if not measured:
        return "needs a plain run"
    if all(i.get("passed") for i in items):
        return f"bit-identical to {_twins(measured)} (n={len(measured)})"
    figures = spread((i["measured"] for i in measured), _general)
    return f"max abs Δw {figures} vs {_twins(measured)}"


def _marks(items: Sequence[Mapping[str, Any]]) -> str:
    """One mark for a group whose runs agree; else each run's mark, in the group's order."""
    marks = [MARKS[i.get("passed")] for i in items]
    return marks[0] if len(set(marks)) == 1 else "".join(marks)


def group_criterion_cell(items: Sequence[Mapping[str, Any] | None]) -> str:
    """A criterion of a group of runs: their marks, ``mean ± std (n=k)`` of the measured
    figure and the threshold; ``—`` where it applies to none of them."""
    present = [i for i in items if i is not None]
    if not present:
        return "—"
    t = present[0].get("threshold")
    ms = [i.get("measured") for i in present]

    def of(show: Callable[[Any], str]) -> str:
        return spread(ms, show)

    shown = {
        "kl_monitored": lambda: f"{of(number(1))} of {t} epochs",
        "free_bits_floor": lambda: f"{of(number(3))} vs λ {t:g}",
        "nonblack_acc_train": lambda: f"{of(percent)} vs {percent(t)}",
        "nonblack_acc_heldout": lambda: f"{of(percent)} vs {percent(t)}",
        "beta_period": lambda: f"{'no period' if not numbers(ms) else of(number(1))} vs "
                               f"{t} epochs",
        "identity_with_plain": lambda: _group_identity(present),
        "active_units": lambda: f"{of(number(1))} of {t}",
    }.get(present[0].get("id", ""), lambda: of(_general))()
    return f"{_marks(present)} {shown}"


def _order(id_: str) -> int:
    """Criteria in the specification's order; any others after them."""
    return CRITERIA_ORDER.index(id_) if id_ in CRITERIA_ORDER else len(CRITERIA_ORDER)


def _criteria_rows(groups: Sequence[RunGroup],
                   criteria: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[list[str]]:
    titles: dict[str, str] = {}
    for group in groups:
        for record in group.records:
            for item in criteria[record.label]:
                titles.setdefault(item["id"], item["criterion"])
    rows = []
    for id_, title in sorted(titles.items(), key=lambda item: _order(item[0])):
        cells = []
        for group in groups:
            found = [next((c for c in criteria[r.label] if c["id"] == id_), None)
                     for r in group.records]
            cells.append(group_criterion_cell(found) if group.grouped
                         else criterion_cell(found[0]))
        rows.append([title, *cells])
    return rows


def group_figure(values: Sequence[Any], label: str, show: Callable[[Any], str]) -> str:
    """A summary row of a group: ``mean ± std (n=k)`` of its numbers, or, for text (a
    status), each value with its count."""
    if numbers(values):
        return spread(values, GROUP_SHOW.get(label, show))
    counts = {str(v): 0 for v in values if v is not None}
    for v in values:
        if v is not None:
            counts[str(v)] += 1
    return ", ".join(f"{v} ×{c}" for v, c in counts.items()) or "—"


def _figure(group: RunGroup, label: str, get: Callable[[Mapping[str, Any]], Any],
            show: Callable[[Any], str]) -> str:
    if not group.grouped:
        return show(get(group.first.summary))
    return group_figure([get(r.summary) for r in group.records], label, show)


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def comparison_table(records: Sequence[RunRecord],
                     criteria: Mapping[str, Sequence[Mapping[str, Any]]],
                     groups: Sequence[RunGroup] | None = None) -> str:
    """Runs side by side: setup, final figures from summary.json, then the criteria. Runs
    that differ only in their seed share a column (``groups``, by default
    :func:`vaeframe.report.seeds.group_runs` of ``records``), with a row of their seeds."""
    groups = group_runs(records) if groups is None else groups
    rows = [[title, *(component_label(g.first.config, section) for g in groups)]
            for title, section in (("model", "model"), ("reconstruction loss", "loss"),
                                   ("schedule", "schedule"), ("KL regularizer", "kl"))]
    if any(g.grouped for g in groups):
        rows.append(["seeds", *(", ".join(map(str, g.seeds)) for g in groups)])
    with_factors = any("disentanglement" in r.summary for g in groups for r in g.records)
    rows += [[label, *(_figure(g, label, get, show) for g in groups)]
             for label, get, show in SUMMARY_ROWS + DISENTANGLEMENT_ROWS * with_factors]
    rows += _criteria_rows(groups, criteria)
    lines = ["| | " + " | ".join(_escape(g.label) for g in groups) + " |",
             "| --- |" + " --- |" * len(groups)]
    lines += ["| " + " | ".join(_escape(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
