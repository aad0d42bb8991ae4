"""The extra schedules: their formulas directly, then through vaeframe's registry."""

import math

import pytest
from vaeframe_schedules_extra.cyclical import CyclicalAnnealing
from vaeframe_schedules_extra.sigmoid import SigmoidWarmup

from vaeframe import ParameterError, get_beta_schedule


def test_sigmoid_reaches_half_of_max_beta_at_its_midpoint() -> None:
    schedule = SigmoidWarmup(max_beta=0.2, midpoint=5, steepness=1.0)
    assert schedule.beta(5, 20) == pytest.approx(0.1)
    assert schedule.beta(1, 20) == pytest.approx(0.2 / (1 + math.exp(4)))
    assert schedule.beta(100_000, 20) == pytest.approx(0.2)  # far out: no overflow


def test_cyclical_ramps_then_holds_in_each_of_m_cycles() -> None:
    linear = CyclicalAnnealing(M=2, R=0.75, max_beta=1.0)
    assert [linear.beta(t, 8) for t in range(1, 9)] == pytest.approx([0, 1 / 3, 2 / 3, 1] * 2)
    cosine = CyclicalAnnealing(M=2, R=0.75, max_beta=1.0, ramp="cosine")
    assert [cosine.beta(t, 8) for t in range(1, 9)] == pytest.approx([0, 0.25, 0.75, 1] * 2)
    uneven = CyclicalAnnealing(M=3, R=0.5, max_beta=1.0)  # cycles of ⌈10 / 3⌉ = 4 epochs
    assert [t for t in range(1, 11) if uneven.beta(t, 10) == 0] == [1, 5, 9]


def test_bad_parameters_name_the_parameter() -> None:
    with pytest.raises(ParameterError, match="R: must be <= 1"):
        CyclicalAnnealing(R=1.5)
    with pytest.raises(ParameterError, match="ramp: must be one of"):
        CyclicalAnnealing(ramp="cos")


def test_installed_schedules_are_found_by_name() -> None:
    # get_beta_schedule looks the name up in vaeframe's registry, as a run file does
    assert get_beta_schedule(5, "sigmoid_warmup", max_beta=0.2, midpoint=5) == pytest.approx(0.1)
    assert get_beta_schedule(4, "cyclical_annealing", num_epochs=8, M=2, R=0.75) == 1.0
