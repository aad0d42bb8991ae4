"""The seed's success criteria measured on hand-made histories."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import shared_registry

from vaeframe.config.schema import ComponentConfig
from vaeframe.registry.declarations import Declared, declarations
from vaeframe.runs.criteria import evaluate_run, measure_period


def triangle(epochs: int, cycle: int, peak: float) -> list[float]:
    """β of the cyclical schedule plugin, epochs 1..N."""
    cyclical = shared_registry().get("schedules", "cyclical").cls
    schedule = cyclical(cycle_length=cycle, max_beta=peak)
    return [schedule.beta(e, epochs) for e in range(1, epochs + 1)]


def row(epoch: int, beta: float, kl: list[float], acc: tuple[float, float] | None = None
        ) -> dict[str, Any]:
    r: dict[str, Any] = {"epoch": float(epoch), "beta": beta, "epoch/loss": 1.0}
    r.update({f"epoch/kl_per_dim/dim_{i}": v for i, v in enumerate(kl)})
    r.update({"epoch/kl_per_dim/min": min(kl), "epoch/kl_per_dim/max": max(kl),
              "epoch/kl_per_dim/mean": sum(kl) / len(kl)})
    if acc is not None:
        r.update({"train/nonblack_acc": acc[0], "heldout/nonblack_acc": acc[1],
                  "active_units": 2.0})
    return r


def component(kind: str, table: dict[str, Any]) -> ComponentConfig:
    fields = dict(table)
    name = fields.pop("name")
    return ComponentConfig(kind, name, shared_registry().get(kind, name).cls(**fields))


def config(schedule: dict[str, Any], kl: dict[str, Any], epochs: int = 100) -> Declared:
    """What the real schedule and regularizer components declare."""
    return declarations(component("schedules", schedule), component("kl_regularizers", kl),
                        epochs)


def history(betas: list[float], kl: list[float], acc: tuple[float, float] = (0.5, 0.2)
            ) -> list[dict[str, Any]]:
    rows = [row(e, b, kl) for e, b in enumerate(betas[:-1], 1)]
    return [*rows, row(len(betas), betas[-1], kl, acc)]


def by_id(found: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in found}


@pytest.mark.parametrize(("values", "period"), [
    (triangle(100, 20, 0.1), 20),
    (triangle(60, 7, 0.3), 7),
    ([0.0, 0.05, 0.1, 0.05] * 5, 4),
    ([0.1] * 10, None),                         # flat: no oscillation
    ([e / 10 for e in range(10)], None),        # a ramp never repeats
    ([0.0, 0.1, 0.0, 0.2, 0.0, 0.1], None),     # irregular
    ([0.0, 0.1, 0.2, 0.0, 0.1], None),          # period 3 seen less than twice
])
def test_period_measured_from_a_beta_history(values: list[float], period: int | None) -> None:
    assert measure_period(values) == period


def test_cyclical_run_passes_when_beta_repeats_every_cycle_length() -> None:
    betas = triangle(100, 20, 0.1)
    found = by_id(evaluate_run(history(betas, [1.0, 1.0, 1.0]),
                               config({"name": "cyclical", "cycle_length": 20, "max_beta": 0.1},
                                      {"name": "none"})))
    assert found["beta_period"]["measured"] == 20 and found["beta_period"]["passed"] is True
    wrong = by_id(evaluate_run(history(betas, [1.0, 1.0, 1.0]),
                               config({"name": "cyclical", "cycle_length": 10, "max_beta": 0.1},
                                      {"name": "none"})))
    assert wrong["beta_period"]["measured"] == 20 and wrong["beta_period"]["passed"] is False
    short = by_id(evaluate_run(history(betas[:30], [1.0, 1.0, 1.0]),
                               config({"name": "cyclical", "cycle_length": 20, "max_beta": 0.1},
                                      {"name": "none"})))
    assert short["beta_period"]["passed"] is None  # 30 epochs cannot show two cycles of 20


@pytest.mark.parametrize(("kl", "passed"), [([0.31, 0.9, 2.0], True), ([0.3, 0.5, 0.6], True),
                                            ([0.27, 0.9, 2.0], False)])
def test_free_bits_floor_compares_the_smallest_final_kl_with_lambda(kl: list[float],
                                                                    passed: bool) -> None:
    rows = [row(1, 0.0, [0.01, 0.01, 0.01]), row(2, 0.1, kl, (0.5, 0.2))]
    found = by_id(evaluate_run(rows, config({"name": "constant"},
                                            {"name": "free_bits", "threshold": 0.3})))
    floor = found["free_bits_floor"]
    assert floor["measured"] == min(kl) and floor["threshold"] == 0.3
    assert floor["passed"] is passed
    assert f"(dim {kl.index(min(kl))})" in floor["text"]


def test_non_black_accuracy_against_thirty_percent_on_both_splits() -> None:
    found = by_id(evaluate_run(history([0.0, 0.1], [1.0] * 3, acc=(0.65, 0.30)),
                               config({"name": "constant"}, {"name": "none"})))
    assert found["nonblack_acc_train"]["measured"] == 0.65
    assert found["nonblack_acc_train"]["passed"] is True
    assert found["nonblack_acc_heldout"]["passed"] is False  # the bar is "> 30 %"
    assert found["active_units"]["measured"] == 2 and found["active_units"]["passed"] is None


def test_which_criteria_apply_to_which_run() -> None:
    rows = history([0.0, 0.1], [1.0] * 3)
    plain = by_id(evaluate_run(rows, config({"name": "constant"}, {"name": "none"})))
    assert set(plain) == {"kl_monitored", "nonblack_acc_train", "nonblack_acc_heldout",
                          "active_units"}
    zero = by_id(evaluate_run(rows, config({"name": "constant"},
                                           {"name": "free_bits", "threshold": 0.0})))
    assert "free_bits_floor" not in zero
    assert zero["identity_with_plain"]["passed"] is None  # needs the plain run: see report


def test_kl_monitoring_fails_when_a_dimension_is_missing() -> None:
    rows = history([0.0, 0.1], [1.0] * 3)
    del rows[0]["epoch/kl_per_dim/dim_2"]
    found = by_id(evaluate_run(rows, config({"name": "constant"}, {"name": "none"})))
    assert found["kl_monitored"]["passed"] is False
    assert (found["kl_monitored"]["measured"], found["kl_monitored"]["threshold"]) == (1, 2)
