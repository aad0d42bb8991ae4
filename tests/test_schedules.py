"""Every schedule against the specification's formulas (docs/specification.md), epochs
1-indexed."""

from __future__ import annotations

import pytest

from vaeframe import BetaScheduler, ConfigError, PluginError, get_beta_schedule


def seed_warmup_ramp(epoch: int, max_beta: float, warmup_epochs: int, ramp_epochs: int) -> float:
    """The specification's ultra-conservative formula, step by step."""
    if epoch <= warmup_epochs:
        return 0.0
    elif epoch <= warmup_epochs + ramp_epochs:
        progress = (epoch - warmup_epochs) / ramp_epochs
        return progress * max_beta
    else:
        return max_beta


def seed_cyclical(epoch: int, max_beta: float, cycle_length: int) -> float:
    """The specification's cyclical formula, step by step."""
    cycle_position = epoch % cycle_length
    if cycle_position < cycle_length / 2:
        return (cycle_position / (cycle_length / 2)) * max_beta
    else:
        return ((cycle_length - cycle_position) / (cycle_length / 2)) * max_beta


@pytest.mark.parametrize("epoch", [1, 9, 10, 11, 35, 59, 60, 61, 100])
def test_linear_warmup_defaults(epoch: int) -> None:
    assert get_beta_schedule(epoch, "linear_warmup") == seed_warmup_ramp(epoch, 0.5, 10, 50)


@pytest.mark.parametrize("epoch", [1, 19, 20, 21, 50, 79, 80, 81, 100])
def test_ultra_conservative_defaults(epoch: int) -> None:
    assert get_beta_schedule(epoch, "ultra_conservative") == seed_warmup_ramp(epoch, 0.1, 20, 60)


def test_ultra_conservative_boundaries_by_value() -> None:
    assert get_beta_schedule(20, "ultra_conservative") == 0.0
    assert get_beta_schedule(21, "ultra_conservative") == pytest.approx(0.1 / 60)
    assert get_beta_schedule(80, "ultra_conservative") == pytest.approx(0.1)
    assert get_beta_schedule(81, "ultra_conservative") == 0.1


@pytest.mark.parametrize("epoch", [1, 5, 9, 10, 11, 19, 20, 21, 30, 39, 40, 41])
def test_cyclical_defaults(epoch: int) -> None:
    assert get_beta_schedule(epoch, "cyclical") == seed_cyclical(epoch, 0.1, 20)


def test_cyclical_peaks_and_troughs() -> None:
    assert get_beta_schedule(10, "cyclical") == pytest.approx(0.1)
    assert get_beta_schedule(20, "cyclical") == 0.0
    assert get_beta_schedule(7, "cyclical", cycle_length=7, max_beta=1.0) == 0.0


@pytest.mark.parametrize("epoch", [1, 5, 9, 10, 11, 50])
def test_aggressive_has_no_warmup(epoch: int) -> None:
    assert get_beta_schedule(epoch, "aggressive") == seed_warmup_ramp(epoch, 0.5, 0, 10)
    assert get_beta_schedule(1, "aggressive") > 0


@pytest.mark.parametrize("epoch", [1, 2, 100])
def test_constant(epoch: int) -> None:
    assert get_beta_schedule(epoch, "constant", max_beta=0.25) == 0.25


def test_parameters_override_defaults() -> None:
    assert get_beta_schedule(3, "linear_warmup", max_beta=1.0, warmup_epochs=1,
                             ramp_epochs=4) == 0.5


def test_beta_scheduler_keeps_history() -> None:
    scheduler = BetaScheduler.from_name("cyclical", num_epochs=4, cycle_length=4, max_beta=1.0)
    assert [scheduler.step(e) for e in range(1, 5)] == [0.5, 1.0, 0.5, 0.0]
    assert scheduler.beta_history == [0.5, 1.0, 0.5, 0.0]
    assert scheduler.current_epoch == 4
    restored = BetaScheduler.from_name("cyclical", num_epochs=4, cycle_length=4, max_beta=1.0)
    restored.load_state_dict(scheduler.state_dict())
    assert restored.beta_history == scheduler.beta_history


def test_unknown_schedule_lists_names() -> None:
    with pytest.raises(PluginError, match=r"unknown schedule 'nope'.*cyclical"):
        get_beta_schedule(1, "nope")


def test_unknown_parameter_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"cycle_length.*linear_warmup"):
        get_beta_schedule(1, "linear_warmup", cycle_length=3)


def test_schedule_raising_names_epoch() -> None:
    class Broken:
        def beta(self, epoch: int, num_epochs: int) -> float:
            raise ZeroDivisionError("boom")

    with pytest.raises(PluginError, match=r"failed in beta\(\) at epoch 3.*boom"):
        BetaScheduler(Broken(), 5).step(3)
