"""Overrides that say what they did: ``--free-bits`` on a regularizer without a floor switches
it with a note, and ``--set`` of what ``--free-bits`` chose beside it is one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomllib
from conftest import CONFIGS, only_run_dir, vaeframe

from vaeframe import ConfigError
from vaeframe.config.overrides import apply_overrides, configure
from vaeframe.registry.manager import Registry, build_registry

CAPACITY_NOTE = ("note: --free-bits 0.3: kl was 'capacity' (gamma = 100.0, c_min = 0.0, "
                 "c_max = 25.0, c_epochs = 80), which declares no floor; switched to "
                 "'free_bits' with threshold = 0.3")
# configs/capacity.toml's [kl] on the smoke run's data, model and length: seconds, not hours
SMALL = ['data={name="synthetic", num_train=96, num_heldout=32}',
         'model={name="conv", latent_dim=4, channels=[8, 16, 16]}',
         "train.epochs=1", "train.batch_size=32", "train.device=cpu",
         "train.eval_every_n_epochs=1"]


@pytest.fixture(scope="module")
def registry() -> Registry:
    return build_registry()


def set_args(*sets: str) -> list[str]:
    return [word for expression in sets for word in ("--set", expression)]


def notes_of(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("note: ")]


# -- the real command --------------------------------------------------------------------------

@pytest.mark.slow
def test_free_bits_on_capacity_says_what_it_replaced(tmp_path: Path) -> None:
    result = vaeframe("run", CONFIGS / "capacity.toml", "--free-bits", "0.3",
                      *set_args(*SMALL, f"run.output_dir={tmp_path / 'runs'}"))
    assert result.returncode == 0, result.stderr
    assert notes_of(result.stderr) == [CAPACITY_NOTE]
    resolved = tomllib.loads((only_run_dir(tmp_path / "runs") / "config.toml").read_text())
    assert resolved["kl"] == {"name": "free_bits", "threshold": 0.3, "per": "sample"}


@pytest.mark.slow
def test_free_bits_on_a_floor_sets_it_without_a_note_and_other_kl_keys_apply_after(
        tmp_path: Path) -> None:
    """smoke.toml's free_bits declares its floor: --free-bits sets it, nothing to say; a
    --set of another kl key, given before --free-bits on the line, still applies."""
    result = vaeframe("run", CONFIGS / "smoke.toml", "--set", "kl.per=batch", "--free-bits",
                      "0.2", "--epochs", "1", "--set", f"run.output_dir={tmp_path / 'runs'}")
    assert result.returncode == 0, result.stderr
    assert notes_of(result.stderr) == []
    resolved = tomllib.loads((only_run_dir(tmp_path / "runs") / "config.toml").read_text())
    assert resolved["kl"] == {"name": "free_bits", "threshold": 0.2, "per": "batch"}


@pytest.mark.slow
@pytest.mark.parametrize("expression", ['kl={name="none"}', "kl.name=none",
                                        "kl.threshold=0.2"])
@pytest.mark.parametrize("free_bits_first", [True, False])
def test_setting_what_free_bits_chose_is_one_error_naming_both_flags(
        tmp_path: Path, expression: str, free_bits_first: bool) -> None:
    free_bits, setting = ["--free-bits", "0.3"], ["--set", expression]
    flags = free_bits + setting if free_bits_first else setting + free_bits
    result = vaeframe("run", CONFIGS / "smoke.toml", *flags,
                      "--set", f"run.output_dir={tmp_path / 'runs'}")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert lines[0].startswith(f"error: --free-bits 0.3 and --set {expression}: ")
    assert "give one of them" in lines[0]
    assert not (tmp_path / "runs").exists()


# -- apply_overrides ---------------------------------------------------------------------------

def test_switching_notes_the_run_files_parameters(registry: Registry) -> None:
    raw = {"kl": {"name": "capacity", "gamma": 10.0, "c_max": 5.0}}
    overridden = apply_overrides(raw, registry, free_bits=0.3)
    assert overridden.notes == [
        "--free-bits 0.3: kl was 'capacity' (gamma = 10.0, c_max = 5.0), which declares no "
        "floor; switched to 'free_bits' with threshold = 0.3"]
    assert overridden.raw["kl"] == {"name": "free_bits", "threshold": 0.3}
    assert overridden.flags["kl.name"] == overridden.flags["kl.threshold"] == "--free-bits 0.3"
    assert raw == {"kl": {"name": "capacity", "gamma": 10.0, "c_max": 5.0}}  # a copy


@pytest.mark.parametrize(("raw", "was"), [
    ({"kl": {"name": "none"}}, "kl was 'none', which"),
    ({}, "kl was 'none' (the default), which")])
def test_a_plain_kl_is_named_as_the_run_file_had_it(registry: Registry, raw: dict,
                                                     was: str) -> None:
    (note,) = apply_overrides(raw, registry, free_bits=0.5).notes
    assert note == (f"--free-bits 0.5: {was} declares no floor; switched to 'free_bits' with "
                    "threshold = 0.5")


def test_a_declared_floor_is_set_silently(registry: Registry) -> None:
    raw = {"kl": {"name": "free_bits", "threshold": 0.1, "per": "batch"}}
    overridden = apply_overrides(raw, registry, free_bits=0.4)
    assert overridden.notes == []
    assert overridden.raw["kl"] == {"name": "free_bits", "threshold": 0.4, "per": "batch"}
    assert "kl.name" not in overridden.flags
    assert apply_overrides(raw, registry).notes == []


def test_other_kl_keys_apply_after_free_bits(registry: Registry) -> None:
    overridden = apply_overrides({"kl": {"name": "capacity", "gamma": 10.0}}, registry,
                                 free_bits=0.3, sets=["kl.per=batch"])
    assert overridden.raw["kl"] == {"name": "free_bits", "threshold": 0.3, "per": "batch"}
    assert overridden.flags["kl.per"] == "--set kl.per=batch"


@pytest.mark.parametrize(("expression", "path", "what"), [
    ('kl={name="none"}', "kl", "replaces the whole kl table"),
    ("kl.name=capacity", "kl.name", "picks the KL regularizer"),
    ("kl.threshold=0.2", "kl.threshold", "sets kl.threshold too")])
@pytest.mark.parametrize("kl", [{"name": "free_bits"}, {"name": "capacity"}])
def test_a_set_of_what_free_bits_chose_is_refused(registry: Registry, expression: str,
                                                   path: str, what: str, kl: dict) -> None:
    with pytest.raises(ConfigError) as caught:
        apply_overrides({"kl": kl}, registry, free_bits=0.3,
                        sets=["train.epochs=2", expression])
    error = caught.value
    assert (error.source, error.path) == (f"--free-bits 0.3 and --set {expression}", path)
    assert f"--free-bits sets the KL floor (kl.threshold) and this --set {what}; give one" \
        in error.message


def test_an_unknown_regularizer_is_reported_not_replaced(registry: Registry) -> None:
    with pytest.raises(ConfigError) as unknown:
        configure({"kl": {"name": "fre_bits"}}, registry, "run.toml", free_bits=0.3)
    assert str(unknown.value).startswith("run.toml: kl.name: unknown KL regularizer 'fre_bits'")
    with pytest.raises(ConfigError) as both:
        apply_overrides({"kl": {"name": "fre_bits"}}, registry, free_bits=0.3,
                        sets=["kl.name=free_bits"])
    assert (both.value.source, both.value.path) == (
        "--free-bits 0.3 and --set kl.name=free_bits", "kl.name")


def test_configure_puts_the_notes_of_overrides_before_those_of_the_build(
        registry: Registry) -> None:
    raw = tomllib.loads((CONFIGS / "smoke.toml").read_text())
    raw["kl"] = {"name": "none"}
    config = configure(raw, registry, "smoke.toml", free_bits=0.3, beta_schedule="cyclical")
    assert config.notes == [
        "--free-bits 0.3: kl was 'none', which declares no floor; switched to 'free_bits' with "
        "threshold = 0.3",
        "schedule switched to 'cyclical', which does not take ramp_epochs, warmup_epochs: "
        "dropped"]
    assert (config.kl.name, config.kl.params.threshold) == ("free_bits", 0.3)


def test_sweep_points_build_through_the_same_path(registry: Registry, tmp_path: Path) -> None:
    """A sweep point's overrides go through apply_overrides too: its RunConfig keeps the
    notes (none here: a sweep has no --free-bits) and builds as before."""
    from vaeframe.sweeps.spec import load_sweep, point_config

    sweep_file = tmp_path / "sweep.toml"
    sweep_file.write_text((CONFIGS / "smoke.toml").read_text()
                          + '\n[sweep]\ngrid = { "kl.threshold" = [0.0, 0.3] }\n')
    sweep = load_sweep(sweep_file, registry, sets=["kl.per=batch"])
    configs = [point_config(sweep, point, tmp_path, registry) for point in sweep.points]
    assert [(c.kl.params.threshold, c.kl.params.per, c.notes) for c in configs] == [
        (0.0, "batch", []), (0.3, "batch", [])]
