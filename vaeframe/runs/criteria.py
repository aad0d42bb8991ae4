"""The specification's success criteria (docs/specification.md#success-criteria), measured
on one run.

Each criterion is a plain dict, ready for summary.json::

    {"id": "free_bits_floor", "criterion": "2. free bits prevents collapse",
     "measured": 0.31, "threshold": 0.3, "passed": true, "text": "..."}

``passed`` is ``None`` where a criterion applies but cannot be measured from this run alone.
Which criteria apply follows from what the run's components declare
(:mod:`vaeframe.registry.declarations`), never from their names. Nothing here imports torch:
runs are judged from their history and declarations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from vaeframe.registry.declarations import Declared
from vaeframe.rundir.record import epoch_rows

ACCURACY_BAR = 0.30  # the seed: "maintains non-black accuracy > 30 %"

Row = Mapping[str, Any]


def criterion(id_: str, title: str, measured: Any, threshold: Any, passed: bool | None,
              detail: str) -> dict[str, Any]:
    """One criterion; ``text`` is the one line a console shows."""
    mark = {True: "PASS", False: "FAIL", None: "n/a "}[passed]
    return {"id": id_, "criterion": title, "measured": measured, "threshold": threshold,
            "passed": passed, "text": f"{mark} {title}: {detail}"}


def dims_logged(row: Row, prefix: str) -> list[float]:
    """``prefix/dim_0``, ``prefix/dim_1``, ... of one row, in dimension order."""
    values = []
    while f"{prefix}/dim_{len(values)}" in row:
        values.append(row[f"{prefix}/dim_{len(values)}"])
    return values


def measure_period(values: Sequence[float], rel_tol: float = 1e-9) -> int | None:
    """The smallest ``p`` with ``values[i + p] == values[i]`` for every ``i``, seen at least
    twice over (``p <= len(values) / 2``); ``None`` for a flat or non-repeating sequence."""
    if len(values) < 2 or max(values) - min(values) <= 0:
        return None
    tol = rel_tol * max(abs(v) for v in values)
    for p in range(1, len(values) // 2 + 1):
        if all(abs(values[i + p] - values[i]) <= tol for i in range(len(values) - p)):
            return p
    return None


def _kl_monitored(rows: Sequence[Row], latent_dim: int) -> dict[str, Any]:
    complete = [r for r in rows if len(dims_logged(r, "epoch/kl_per_dim")) == latent_dim
                and "epoch/kl_per_dim/min" in r]
    passed = bool(rows) and len(complete) == len(rows)
    return criterion("kl_monitored", "1. KL per dimension monitored", len(complete),
                     len(rows), passed,
                     f"all {latent_dim} dimensions (+ min/max/mean) logged in "
                     f"{len(complete)} of {len(rows)} epochs")


def _free_bits_floor(last: Row, threshold: float) -> dict[str, Any]:
    values = dims_logged(last, "epoch/kl_per_dim")
    title = "2. free bits prevents collapse"
    if not values:
        return criterion("free_bits_floor", title, None, threshold, None,
                         "no per-dimension KL in the final epoch")
    smallest = min(values)
    dim = values.index(smallest)
    passed = smallest >= threshold
    heldout = dims_logged(last, "heldout/kl_per_dim")
    extra = f"; held-out min {min(heldout):.3f}" if heldout else ""
    return criterion("free_bits_floor", title, smallest, threshold, passed,
                     f"smallest final-epoch KL per dimension {smallest:.3f} nats (dim {dim}) "
                     f"{'>=' if passed else '<'} λ = {threshold:g}{extra}")


def _accuracy(last_eval: Row, split: str, label: str, number: str) -> dict[str, Any]:
    value = last_eval.get(f"{split}/nonblack_acc")
    title = f"{number}. non-black accuracy, {label} grids"
    if value is None:
        return criterion(f"nonblack_acc_{split}", title, None, ACCURACY_BAR, None,
                         "never evaluated")
    passed = value > ACCURACY_BAR
    return criterion(f"nonblack_acc_{split}", title, value, ACCURACY_BAR, passed,
                     f"{100 * value:.1f}% {'>' if passed else '<='} {100 * ACCURACY_BAR:.0f}% "
                     f"(final evaluation, epoch {int(last_eval['epoch'])})")


def _beta_period(betas: Sequence[float], cycle_length: int) -> dict[str, Any]:
    """Criterion 4 against the period the schedule declares (``cycle_length``)."""
    period = measure_period(betas)
    title = "4. cyclical β cycles"
    if len(betas) < 2 * cycle_length:
        return criterion("beta_period", title, period, cycle_length, None,
                         f"{len(betas)} epochs cannot show two cycles of {cycle_length}")
    passed = period == cycle_length
    found = "β never repeats" if period is None else f"β repeats every {period} epochs"
    return criterion("beta_period", title, period, cycle_length, passed,
                     f"{found} over {len(betas)} epochs (peak {max(betas):g}); "
                     f"declared period {cycle_length}")


def identity_pending() -> dict[str, Any]:
    """Criterion 5 for a threshold-0 free-bits run before a plain twin is compared."""
    return criterion("identity_with_plain", "5. free bits 0 is the plain KL", None,
                     "bit-identical", None,
                     "needs a run of the same config with the plain KL: "
                     "vaeframe report THIS_RUN PLAIN_RUN compares them")


def _active_units(last_eval: Row, latent_dim: int) -> dict[str, Any]:
    units = last_eval.get("active_units")
    shown = "-" if units is None else f"{int(units)}/{latent_dim}"
    return criterion("active_units", "active units (informational)",
                     None if units is None else int(units), latent_dim, None,
                     f"{shown} dimensions with Var(E[z|x]) > 0.01 over the training grids")


def latent_dim_of(history: Sequence[Row]) -> int:
    """The number of latent dimensions a history logged."""
    rows = epoch_rows(history)
    return len(dims_logged(rows[0], "epoch/kl_per_dim")) if rows else 0


def evaluate_run(history: Sequence[Row], declared: Declared,
                 beta_history: Sequence[float] | None = None,
                 latent_dim: int | None = None) -> list[dict[str, Any]]:
    """The criteria that apply to a run, from its history rows and its declarations."""
    rows = epoch_rows(history)
    latent_dim = latent_dim_of(history) if latent_dim is None else latent_dim
    betas = list(beta_history) if beta_history is not None else [r["beta"] for r in rows]
    evaluated = [r for r in rows if "heldout/nonblack_acc" in r]
    last_eval = evaluated[-1] if evaluated else {}
    found = [_kl_monitored(rows, latent_dim)]
    if declared.kl_floor is not None and declared.kl_floor > 0 and rows:
        found.append(_free_bits_floor(rows[-1], declared.kl_floor))
    found.append(_accuracy(last_eval, "train", "training", "3a"))
    found.append(_accuracy(last_eval, "heldout", "held-out", "3b"))
    if declared.beta_period is not None:
        found.append(_beta_period(betas, declared.beta_period))
    if declared.kl_floor == 0:
        found.append(identity_pending())
    found.append(_active_units(last_eval, latent_dim))
    return found
