"""Two plugins may register the same name: both stay registered, a qualified name
(``plugin_module:name`` or ``distribution:name``) picks one, and the bare name is one error
that suggests every qualified form."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CONFIGS, ROOT, only_run_dir, read_jsonl, vaeframe, write_plugin

from vaeframe.cli.commands import listing
from vaeframe.config.build import build_config
from vaeframe.config.overrides import registered_floor_field
from vaeframe.config.tomlfile import parse_toml
from vaeframe.errors import ConfigError, PluginError
from vaeframe.registry import manager
from vaeframe.registry.manager import PluginSource, Registry, build_registry
from vaeframe.training.beta import BetaScheduler, make_schedule

KL = "kl_regularizers"


def plugin_source(label: str, floor: bool = False) -> str:
    """A plugin registering the KL regularizer ``capacity`` and the schedule ``wave``."""
    declares = '    floor_field: ClassVar[str] = "threshold"\n    threshold: float = 0.0\n'
    return f'''
import attrs
from typing import ClassVar
from vaeframe import hookimpl

@attrs.define
class Capacity:
    """Capacity of {label}."""
{declares if floor else ""}
    def kl_loss(self, kl):
        return kl.sum(1).mean()

@attrs.define
class Wave:
    """Wave of {label}."""
    height: float = 0.1

    def beta(self, epoch, num_epochs):
        return self.height

@hookimpl
def register_kl_regularizers(register):
    register("capacity", Capacity)

@hookimpl
def register_schedules(register):
    register("wave", Wave)
'''


@pytest.fixture
def modules(tmp_path: Path) -> Iterator[dict[str, object]]:
    """The plugin modules clash_a, clash_b and clash_c (clash_b's regularizer declares a
    floor), imported from ``tmp_path`` as ``-p`` imports them; removed again afterwards."""
    names = {"clash_a": False, "clash_b": True, "clash_c": False}
    for name, floor in names.items():
        write_plugin(tmp_path, name, plugin_source(name, floor))
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    try:
        yield {name: importlib.import_module(name) for name in names}
    finally:
        sys.path.remove(str(tmp_path))
        for name in names:
            sys.modules.pop(name, None)


def installed(module: str, package: str) -> PluginSource:
    """Where ``module`` would come from as the entry point of distribution ``package``."""
    return PluginSource(module=module, entry_point=module.rpartition("_")[2], package=package,
                        version="1.0")


@pytest.fixture
def clashing(modules: dict[str, object]) -> Registry:
    """clash_a loaded with -p, clash_b installed as the distribution Clash_B-Dist."""
    registry = Registry()
    registry.load_modules(["clash_a"])
    registry.add_plugin(modules["clash_b"], installed("clash_b", "Clash_B-Dist"))
    return registry


def test_both_components_of_a_clash_stay_registered(clashing: Registry) -> None:
    assert [c.qualified for c in clashing.entries(KL)] == ["clash_a:capacity", "clash_b:capacity"]
    assert set(clashing.components[KL]) == {"clash_a:capacity", "clash_b:capacity"}
    assert clashing.names(KL) == ["capacity"] and clashing.is_ambiguous(KL, "capacity")
    assert clashing.problems() == []  # usable, so not a problem
    [ambiguity] = [a for a in clashing.ambiguities() if "KL regularizer" in a]
    assert ambiguity == clashing.ambiguous_message(KL, "capacity")


def test_the_bare_name_is_one_error_suggesting_both_forms_of_each(clashing: Registry) -> None:
    with pytest.raises(PluginError) as error:
        clashing.get(KL, "capacity")
    assert str(error.value) == (
        "KL regularizer 'capacity' is registered by two plugins: plugin 'clash_a' (loaded "
        "with -p, package not packaged) and plugin 'clash_b' (entry point 'b', package "
        'Clash_B-Dist 1.0); name one of them: "clash_a:capacity", "clash_b:capacity" '
        '(or "Clash_B-Dist:capacity")')
    with pytest.raises(PluginError, match="registered by two plugins"):
        clashing.components[KL].get("capacity")  # the mapping looks names up the same way


def test_two_installed_plugins_get_both_forms_suggested(modules: dict[str, object]) -> None:
    registry = Registry()
    registry.add_plugin(modules["clash_a"], installed("clash_a", "vaeframe-clash-a"))
    registry.add_plugin(modules["clash_b"], installed("clash_b", "x-dist"))
    with pytest.raises(PluginError) as error:
        registry.get(KL, "capacity")
    assert ('name one of them: "clash_a:capacity" (or "vaeframe-clash-a:capacity"), '
            '"clash_b:capacity" (or "x-dist:capacity")') in str(error.value)


@pytest.mark.parametrize(("name", "module"), [
    ("clash_a:capacity", "clash_a"), ("clash_b:capacity", "clash_b"),
    ("Clash_B-Dist:capacity", "clash_b"), ("clash-b-dist:capacity", "clash_b"),
    ("CLASH_B_DIST:capacity", "clash_b"), ("clash.b.dist:capacity", "clash_b")])
def test_each_qualified_form_resolves_to_its_own_class(clashing: Registry, name: str,
                                                       module: str) -> None:
    component = clashing.get(KL, name)
    assert component.cls.__module__ == module and component.source.module == module
    assert component.cls.__doc__ == f"Capacity of {module}."
    assert clashing.components[KL][name] is component


def test_a_qualified_name_works_when_the_bare_name_is_not_ambiguous(
        modules: dict[str, object]) -> None:
    registry = Registry()
    registry.load_modules(["clash_a"])
    assert registry.get(KL, "capacity") is registry.get(KL, "clash_a:capacity")
    assert list(registry.components[KL]) == ["capacity"]


def test_an_unknown_qualifier_lists_the_valid_ones(clashing: Registry) -> None:
    with pytest.raises(PluginError) as error:
        clashing.get(KL, "clash_z:capacity")
    message = str(error.value)
    assert message.startswith("KL regularizer 'clash_z:capacity': no plugin 'clash_z' "
                              "registers KL regularizer 'capacity'; it is registered by "
                              "plugin 'clash_a' (loaded with -p")
    assert message.endswith('name one of them: "clash_a:capacity", "clash_b:capacity" '
                            '(or "Clash_B-Dist:capacity")')
    with pytest.raises(PluginError, match="unknown KL regularizer 'clash_a:capcity'; "
                                          "available: capacity"):
        clashing.get(KL, "clash_a:capcity")


def test_three_plugins_and_a_distribution_with_two_of_them(modules: dict[str, object]) -> None:
    """Two plugins of one distribution: its name picks neither, so only module forms."""
    registry = Registry()
    registry.load_modules(["clash_a"])
    registry.add_plugin(modules["clash_b"], installed("clash_b", "both-dist"))
    registry.add_plugin(modules["clash_c"], installed("clash_c", "both-dist"))
    with pytest.raises(PluginError) as error:
        registry.get(KL, "capacity")
    assert "is registered by three plugins: plugin 'clash_a' (" in str(error.value)
    assert str(error.value).endswith(
        'name one of them: "clash_a:capacity", "clash_b:capacity", "clash_c:capacity"')
    with pytest.raises(PluginError) as error:
        registry.get(KL, "both_dist:capacity")
    assert str(error.value).startswith(
        "KL regularizer 'both_dist:capacity': package both-dist has two plugins that "
        "register KL regularizer 'capacity': plugin 'clash_b' (")
    assert str(error.value).endswith('name one of them: "clash_b:capacity", "clash_c:capacity"')
    assert registry.get(KL, "clash_c:capacity").source.module == "clash_c"


def test_a_module_qualifier_wins_over_a_distribution_of_that_name(
        modules: dict[str, object]) -> None:
    """Module names are compared exactly, distribution names as packaging does."""
    registry = Registry()
    registry.load_modules(["clash_a"])
    registry.add_plugin(modules["clash_b"], installed("clash_b", "clash_a"))
    assert registry.get(KL, "clash_a:capacity").source.module == "clash_a"
    assert registry.get(KL, "clash-a:capacity").source.module == "clash_b"
    with pytest.raises(PluginError) as error:
        registry.get(KL, "capacity")
    # "clash_a:capacity" picks clash_a's module, so clash_b's package form is not offered
    assert str(error.value).endswith('name one of them: "clash_a:capacity", "clash_b:capacity"')


def test_a_name_with_the_separator_or_registered_twice_by_one_plugin_is_refused(
        tmp_path: Path) -> None:
    write_plugin(tmp_path, "colon_plugin", '''
        import attrs
        from vaeframe import hookimpl

        @attrs.define
        class Plain:
            """Plain."""
            def kl_loss(self, kl):
                return kl.sum(1).mean()

        @hookimpl
        def register_kl_regularizers(register):
            register("a:b", Plain)
    ''')
    write_plugin(tmp_path, "twice_plugin", '''
        import attrs
        from vaeframe import hookimpl

        @attrs.define
        class Plain:
            """Plain."""
            def kl_loss(self, kl):
                return kl.sum(1).mean()

        @hookimpl
        def register_kl_regularizers(register):
            register("again", Plain)
            register("again", Plain)
    ''')
    sys.path.insert(0, str(tmp_path))
    try:
        registry = Registry()
        registry.load_modules(["colon_plugin", "twice_plugin"])
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("colon_plugin", None)
        sys.modules.pop("twice_plugin", None)
    colon, twice = registry.problems()
    assert "KL regularizer name 'a:b' contains ':'" in colon
    assert "plugin 'twice_plugin'" in twice
    assert "KL regularizer 'again' is registered twice by this plugin" in twice
    assert [c.qualified for c in registry.entries(KL)] == ["twice_plugin:again"]


def test_the_floor_field_is_looked_up_as_a_run_file_name_is(clashing: Registry) -> None:
    assert registered_floor_field(clashing, "clash_b:capacity") == "threshold"
    assert registered_floor_field(clashing, "clash-b-dist:capacity") == "threshold"
    assert registered_floor_field(clashing, "clash_a:capacity") is None
    assert registered_floor_field(clashing, "elsewhere") is None
    with pytest.raises(PluginError, match="registered by two plugins"):
        registered_floor_field(clashing, "capacity")


def test_schedules_by_name_use_the_same_lookup(clashing: Registry,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manager, "_default_registry", clashing)
    assert make_schedule("clash_b:wave", height=0.3).beta(1, 5) == 0.3
    assert type(make_schedule("Clash_B-Dist:wave")).__module__ == "clash_b"
    scheduler = BetaScheduler.from_name("clash_a:wave", 5)
    assert scheduler.step(1) == 0.1 and "plugin 'clash_a'" in scheduler.origin
    with pytest.raises(PluginError, match='"clash_a:wave", "clash_b:wave"'):
        make_schedule("wave")
    with pytest.raises(PluginError, match="registered by two plugins"):
        BetaScheduler.from_name("wave", 5)


@pytest.fixture
def with_builtins(modules: dict[str, object]) -> Registry:
    """Everything installed, plus clash_a and clash_b: ``capacity`` three times."""
    registry = build_registry(["clash_a"], autoload=True)
    registry.add_plugin(modules["clash_b"], installed("clash_b", "Clash_B-Dist"))
    return registry


def smoke(kl: dict) -> dict:
    """configs/smoke.toml, parsed, with ``kl`` as its [kl] table."""
    return {**parse_toml(CONFIGS / "smoke.toml"), "kl": kl}


def test_the_resolved_config_keeps_the_qualified_name(with_builtins: Registry) -> None:
    config = build_config(smoke({"name": "clash_b:capacity", "threshold": 0.2}), with_builtins,
                          "smoke.toml")
    assert config.kl.name == "clash_b:capacity" and config.kl.source.module == "clash_b"
    assert type(config.kl.params).__module__ == "clash_b" and config.kl.params.threshold == 0.2
    assert config.to_dict()["kl"] == {"name": "clash_b:capacity", "threshold": 0.2}
    # written into a run directory and read back, it picks the same component again
    again = build_config(config.to_dict(), with_builtins, "config.toml")
    assert again.kl.source == config.kl.source and again.to_dict() == config.to_dict()
    builtin = build_config(smoke({"name": "vaeframe:capacity"}), with_builtins, "smoke.toml")
    assert builtin.kl.source.module == "vaeframe_regularizers"
    assert builtin.to_dict()["kl"]["name"] == "vaeframe:capacity"


def test_the_bare_name_in_a_run_file_is_blamed_on_its_key(with_builtins: Registry) -> None:
    with pytest.raises(ConfigError) as error:
        build_config(smoke({"name": "capacity"}), with_builtins, "smoke.toml")
    assert error.value.path == "kl.name"
    assert str(error.value).startswith(
        "smoke.toml: kl.name: KL regularizer 'capacity' is registered by three plugins: ")
    for choice in ('"vaeframe_regularizers:capacity" (or "vaeframe:capacity")',
                   '"clash_a:capacity"', '"clash_b:capacity" (or "Clash_B-Dist:capacity")'):
        assert choice in str(error.value)


def test_listing_gives_every_entry_its_qualified_name(with_builtins: Registry) -> None:
    data = listing(with_builtins)
    capacities = [e for e in data[KL] if e["name"] == "capacity"]
    assert [(e["qualified"], e["ambiguous"], e["package"]) for e in capacities] == [
        ("clash_a:capacity", True, None), ("clash_b:capacity", True, "Clash_B-Dist"),
        ("vaeframe_regularizers:capacity", True, "vaeframe")]
    plain = next(e for e in data[KL] if e["name"] == "none")
    assert (plain["qualified"], plain["ambiguous"]) == ("vaeframe_regularizers:none", False)
    assert with_builtins.ambiguous_message(KL, "capacity") in data["ambiguous"]
    assert not any("capacity" in problem for problem in data["problems"])
    json.dumps(data, default=repr)  # as --json prints it


CLASH_DIST = ROOT / "tests" / "clash_dist"


@pytest.fixture(scope="module")
def clash_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/clash_dist pip-installed into a directory of its own (put it on PYTHONPATH),
    never into the shared environment; built from a copy, so the tree stays clean."""
    work = tmp_path_factory.mktemp("clash")
    source = shutil.copytree(CLASH_DIST, work / "src",
                             ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    site = work / "site"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-input", "--disable-pip-version-check", "--target", str(site), str(source)],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [p.name for p in site.glob("*.dist-info")] == ["vaeframe_clash_kl-0.2.0.dist-info"]
    return site


@pytest.mark.slow
def test_an_installed_distribution_clashing_with_a_builtin(clash_site: Path,
                                                           tmp_path: Path) -> None:
    env = {"PYTHONPATH": str(clash_site)}
    listed = vaeframe("list-plugins", "--json", **env)
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert {(e["qualified"], e["package"]) for e in data[KL] if e["name"] == "capacity"} == {
        ("clash_kl:capacity", "vaeframe-clash-kl"), ("vaeframe_regularizers:capacity", "vaeframe")}
    assert data["problems"] == [] and len(data["ambiguous"]) == 1
    text = vaeframe("list-plugins", **env)
    assert text.returncode == 0 and "problems:" not in text.stdout
    assert "  clash_kl:capacity " in text.stdout
    assert "  vaeframe_regularizers:capacity " in text.stdout
    assert "ambiguous names" in text.stdout

    runs = {}
    for name in ("vaeframe_regularizers:capacity", "clash_kl:capacity"):
        out = tmp_path / name.partition(":")[0]
        result = vaeframe("run", CONFIGS / "smoke.toml", "--set", f'kl={{name="{name}"}}',
                          "--set", f"run.output_dir={out}", **env)
        assert result.returncode == 0, result.stderr
        runs[name] = only_run_dir(out)
        assert f'[kl]\nname = "{name}"\n' in (runs[name] / "config.toml").read_text()

    builtin = json.loads((runs["vaeframe_regularizers:capacity"] / "summary.json").read_text())
    assert builtin["status"] == "finished"
    assert any("epoch/kl/capacity" in row  # the built-in monitors its target capacity
               for row in read_jsonl(runs["vaeframe_regularizers:capacity"] / "metrics.jsonl"))
    half = json.loads((runs["clash_kl:capacity"] / "summary.json").read_text())
    assert half["status"] == "finished"
    assert half["final"]["kl_loss"] == pytest.approx(half["final"]["kl_raw"] * 0.5, rel=1e-4)
    assert builtin["final"]["kl_loss"] != pytest.approx(builtin["final"]["kl_raw"] * 0.5,
                                                        rel=1e-4)
    assert not any("epoch/kl/capacity" in row
                   for row in read_jsonl(runs["clash_kl:capacity"] / "metrics.jsonl"))

    # --resume reads the run's config.toml: the qualified name picks the same component
    resumed = vaeframe("run", "--resume", runs["clash_kl:capacity"], "--epochs", "4", **env)
    assert resumed.returncode == 0, resumed.stderr
    half = json.loads((runs["clash_kl:capacity"] / "summary.json").read_text())
    assert half["epochs_completed"] == 4
    assert half["final"]["kl_loss"] == pytest.approx(half["final"]["kl_raw"] * 0.5, rel=1e-4)

    bare = vaeframe("run", CONFIGS / "smoke.toml", "--set", 'kl={name="capacity"}',
                    "--set", f"run.output_dir={tmp_path / 'bare'}", **env)
    assert bare.returncode == 2 and "Traceback" not in bare.stderr
    [line] = bare.stderr.strip().splitlines()
    assert line.startswith("error: ")
    assert "kl.name: KL regularizer 'capacity' is registered by two plugins: " in line
    for choice in ('"clash_kl:capacity" (or "vaeframe-clash-kl:capacity")',
                   '"vaeframe_regularizers:capacity" (or "vaeframe:capacity")'):
        assert choice in line
    assert not (tmp_path / "bare").exists()
