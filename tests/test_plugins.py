"""Plugin discovery through real entry points, error isolation, -p and autoload switches."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CONFIGS, VAEFRAME, cli_env, only_run_dir, vaeframe, write_plugin

BUILTIN_PACKAGE = "vaeframe"


def listing(*args: str, **env: str) -> dict:
    result = vaeframe("list-plugins", "--json", *args, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def names(data: dict, kind: str) -> set[str]:
    return {entry["name"] for entry in data[kind]}


def test_builtins_are_listed_with_package_version_and_parameters() -> None:
    data = listing()
    assert {"linear_warmup", "constant", "aggressive", "ultra_conservative",
            "cyclical"} <= names(data, "schedules")
    assert {"none", "free_bits"} <= names(data, "kl_regularizers")
    assert {"console", "jsonl"} <= names(data, "loggers")
    assert {"arc-agi-1", "arc-agi-2", "synthetic"} <= names(data, "datasets")
    ultra = next(e for e in data["schedules"] if e["name"] == "ultra_conservative")
    assert ultra["package"] == BUILTIN_PACKAGE and ultra["version"]
    assert ultra["description"]
    assert {p["name"]: p["default"] for p in ultra["parameters"]} == {
        "warmup_epochs": 20, "ramp_epochs": 60, "max_beta": 0.1}
    assert {p["name"]: p["type"] for p in ultra["parameters"]}["max_beta"] == "float"


def test_text_listing_shows_sources() -> None:
    result = vaeframe("list-plugins")
    assert result.returncode == 0
    assert "cyclical" in result.stdout and "[vaeframe 0.1.0]" in result.stdout


def test_installed_third_party_distribution_is_discovered() -> None:
    """tests/plugin_dist is pip-installed by .ci/run, like any outside plugin."""
    data = listing()
    entry = next((e for e in data["schedules"] if e["name"] == "test_step"), None)
    assert entry is not None, "pip install ./tests/plugin_dist first"
    assert (entry["package"], entry["version"]) == ("vaeframe-testplugin", "0.3.1")


def test_listing_does_not_import_torch() -> None:
    code = ("import sys; from vaeframe.cli.app import main; main(['list-plugins', '--json']); "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=cli_env())
    assert result.returncode == 0, result.stderr


def test_listing_does_not_import_wandb() -> None:
    code = ("import sys; from vaeframe.cli.app import main; main(['list-plugins', '--json']); "
            "assert 'wandb' not in sys.modules, 'wandb was imported'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=cli_env())
    assert result.returncode == 0, result.stderr


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    """A directory of throw-away plugin modules and one fake installed distribution."""
    modules = {
        "misspelled_plugin": """
            from vaeframe import hookimpl

            @hookimpl
            def register_schedule(register):
                pass
        """,
        "clashing_plugin": """
            import attrs
            from vaeframe import hookimpl

            @attrs.define
            class MyCyclical:
                '''Another cyclical.'''
                def beta(self, epoch, num_epochs):
                    return 0.0

            @hookimpl
            def register_schedules(register):
                register("cyclical", MyCyclical)
        """,
        "local_schedule": """
            import attrs
            from vaeframe import hookimpl

            @attrs.define
            class Half:
                '''β = 0.5 always.'''
                def beta(self, epoch, num_epochs):
                    return 0.5

            @hookimpl
            def register_schedules(register):
                register("half", Half)
        """,
        "name_field_plugin": """
            import attrs
            from vaeframe import hookimpl

            @attrs.define
            class Labelled:
                '''A constant β with a label.'''
                name: str = "mine"
                value: float = 0.1

                def beta(self, epoch, num_epochs):
                    return self.value

            @hookimpl
            def register_schedules(register):
                register("labelled", Labelled)
        """,
    }
    for name, source in modules.items():
        write_plugin(tmp_path, name, source)
    return tmp_path


def fake_distribution(site: Path, package: str, version: str, entry_point: str,
                      module: str, source: str) -> None:
    """Install a one-module distribution into ``site`` (put it on PYTHONPATH to use it)."""
    dist = site / f"{package.replace('-', '_')}-{version}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n")
    (dist / "entry_points.txt").write_text(f"[vaeframe]\n{entry_point} = {module}\n")
    write_plugin(site, module, source)


@pytest.fixture
def broken_site(tmp_path: Path) -> Path:
    """A fake installed distribution whose entry point fails to import."""
    site = tmp_path / "site"
    fake_distribution(site, "broken-dist", "2.0", "broken", "broken_plugin",
                      "raise ImportError('needs a package not installed')\n")
    return site


@pytest.fixture(scope="module")
def faulty_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Installed distributions that fail each in its own way, beside the working built-ins."""
    site = tmp_path_factory.mktemp("faulty") / "site"
    fake_distribution(site, "importfail-dist", "1.1", "importfail", "importfail_plugin",
                      "raise RuntimeError('cannot start')\n")
    fake_distribution(site, "clash-dist", "1.2", "clash", "clash_plugin", """
        import attrs
        from vaeframe import hookimpl

        @attrs.define
        class Other:
            '''Another cyclical.'''
            def beta(self, epoch, num_epochs):
                return 0.0

        @hookimpl
        def register_schedules(register):
            register("cyclical", Other)
    """)
    fake_distribution(site, "typo-dist", "1.3", "typo", "typo_plugin", """
        from vaeframe import hookimpl

        @hookimpl
        def register_kl_regulariser(register):
            pass
    """)
    fake_distribution(site, "hookfail-dist", "1.4", "hookfail", "hookfail_plugin", """
        from vaeframe import hookimpl

        @hookimpl
        def register_loggers(register):
            raise KeyError('missing setting')
    """)
    fake_distribution(site, "fragile-dist", "1.5", "fragile", "fragile_plugin", """
        import attrs
        from vaeframe import hookimpl

        @attrs.define
        class Fragile:
            '''β = 0.1 until epoch fail_at, where it raises.'''
            fail_at: int = 2

            def beta(self, epoch, num_epochs):
                if epoch >= self.fail_at:
                    raise ValueError(f'no β for epoch {epoch}')
                return 0.1

        @hookimpl
        def register_schedules(register):
            register("fragile", Fragile)
    """)
    return site


def test_broken_entry_point_does_not_break_the_listing(broken_site: Path) -> None:
    data = listing(PYTHONPATH=str(broken_site))
    assert "cyclical" in names(data, "schedules")
    [problem] = [p for p in data["problems"] if "broken" in p]
    assert "entry point 'broken'" in problem and "broken-dist 2.0" in problem
    assert "needs a package not installed" in problem


def test_run_naming_a_missing_component_mentions_the_broken_plugin(broken_site: Path) -> None:
    result = vaeframe("run", CONFIGS / "smoke.toml", "--beta-schedule", "fancy",
                      PYTHONPATH=str(broken_site))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "unknown schedule 'fancy'" in result.stderr
    assert "broken-dist 2.0" in result.stderr and "not installed" in result.stderr


def test_misspelled_hook_is_reported(plugin_dir: Path) -> None:
    data = listing("-p", "misspelled_plugin", PYTHONPATH=str(plugin_dir))
    [problem] = data["problems"]
    assert "misspelled_plugin" in problem and "register_schedule" in problem
    assert "did you mean 'register_schedules'" in problem


def test_a_field_called_name_is_refused_where_it_is_registered(plugin_dir: Path,
                                                               tmp_path: Path) -> None:
    """``name`` picks the component in the run file, so the field could never be set."""
    data = listing("-p", "name_field_plugin", PYTHONPATH=str(plugin_dir))
    [problem] = data["problems"]
    assert "plugin 'name_field_plugin'" in problem
    assert "schedule 'labelled' (Labelled) has a field called 'name'" in problem
    assert "labelled" not in names(data, "schedules")

    run = vaeframe("-p", "name_field_plugin", "run", CONFIGS / "smoke.toml",
                   "--beta-schedule", "labelled", "--set", f'run.output_dir="{tmp_path / "runs"}"',
                   PYTHONPATH=str(plugin_dir))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "unknown schedule 'labelled'" in run.stderr and "field called 'name'" in run.stderr
    assert not (tmp_path / "runs").exists()


def test_duplicate_name_names_both_sources(plugin_dir: Path) -> None:
    """Both stay usable by qualified name (tests/test_qualified_names.py); the bare name is
    ambiguous, not a problem."""
    data = listing("-p", "clashing_plugin", PYTHONPATH=str(plugin_dir))
    assert data["problems"] == []
    [ambiguity] = data["ambiguous"]
    assert "schedule 'cyclical' is registered by two plugins" in ambiguity
    assert "vaeframe_schedules" in ambiguity and "clashing_plugin" in ambiguity
    result = vaeframe("run", CONFIGS / "smoke.toml", "--beta-schedule", "cyclical",
                      "-p", "clashing_plugin", PYTHONPATH=str(plugin_dir))
    assert result.returncode == 2 and "registered by two plugins" in result.stderr
    assert '"clashing_plugin:cyclical"' in result.stderr


def test_dash_p_and_environment_load_modules(plugin_dir: Path) -> None:
    assert "half" in names(listing("-p", "local_schedule", PYTHONPATH=str(plugin_dir)),
                           "schedules")
    env_data = listing(PYTHONPATH=str(plugin_dir), VAEFRAME_PLUGINS="local_schedule")
    entry = next(e for e in env_data["schedules"] if e["name"] == "half")
    assert entry["package"] is None and entry["module"] == "local_schedule"


def test_autoload_can_be_disabled(plugin_dir: Path) -> None:
    data = listing("-p", "local_schedule", PYTHONPATH=str(plugin_dir),
                   VAEFRAME_DISABLE_PLUGIN_AUTOLOAD="1")
    assert names(data, "schedules") == {"half"}
    assert data["datasets"] == [] and data["problems"] == []


def test_dash_p_before_the_command_is_kept(plugin_dir: Path) -> None:
    result = vaeframe("-p", "local_schedule", "list-plugins", "--json", "-p", "clashing_plugin",
                      PYTHONPATH=str(plugin_dir))
    data = json.loads(result.stdout)
    assert "half" in names(data, "schedules")  # from the -p before the command
    assert "clashing_plugin:cyclical" in {e["qualified"] for e in data["schedules"]}  # and after


def test_each_faulty_plugin_is_named_with_its_package_and_the_rest_load(
        faulty_site: Path) -> None:
    data = listing(PYTHONPATH=str(faulty_site))
    assert {"linear_warmup", "fragile", "test_step"} <= names(data, "schedules")
    assert {"console", "jsonl"} <= names(data, "loggers")
    expected = {
        "import": ["plugin 'importfail_plugin' (entry point 'importfail', "
                   "package importfail-dist 1.1) failed: RuntimeError: cannot start"],
        "typo": ["plugin 'typo_plugin' (entry point 'typo', package typo-dist 1.3) failed: "
                 "implements unknown hook 'register_kl_regulariser' "
                 "(did you mean 'register_kl_regularizers'?)"],
        "hook": ["plugin 'hookfail_plugin' (entry point 'hookfail', package hookfail-dist 1.4) "
                 "failed: in register_loggers: KeyError: 'missing setting'"],
    }
    problems = data["problems"]
    assert len(problems) == len(expected), problems
    [ambiguity] = data["ambiguous"]  # a name registered twice is usable, so not a problem
    assert all(part in ambiguity for part in [
        "schedule 'cyclical' is registered by two plugins",
        "plugin 'clash_plugin' (entry point 'clash', package clash-dist 1.2)",
        "plugin 'vaeframe_schedules' (entry point 'schedules', package vaeframe "])
    for key, parts in expected.items():
        assert any(all(part in p for part in parts) for p in problems), (key, problems)

    text = vaeframe("list-plugins", PYTHONPATH=str(faulty_site))
    assert text.returncode == 0 and "Traceback" not in text.stderr
    assert "[fragile-dist 1.5]" in text.stdout
    problem_lines = text.stdout.split("problems:\n", 1)[1]
    for package in ("importfail-dist 1.1", "typo-dist 1.3", "hookfail-dist 1.4"):
        assert package in problem_lines
    assert "clash-dist 1.2" in text.stdout.split("ambiguous names", 1)[1].split("problems:")[0]


def test_run_naming_a_clashing_name_fails_naming_both_packages(faulty_site: Path) -> None:
    result = vaeframe("run", CONFIGS / "smoke.toml", "--beta-schedule", "cyclical",
                      PYTHONPATH=str(faulty_site))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "schedule.name: schedule 'cyclical' is registered by two plugins" in result.stderr
    assert "clash-dist 1.2" in result.stderr and "package vaeframe " in result.stderr
    assert '"clash_plugin:cyclical" (or "clash-dist:cyclical")' in result.stderr


def test_schedule_raising_mid_run_names_its_plugin_and_keeps_the_checkpoint(
        faulty_site: Path, tmp_path: Path) -> None:
    result = vaeframe("run", CONFIGS / "smoke.toml", "--beta-schedule", "fragile",
                      "--set", "schedule.fail_at=3", "--set", f"run.output_dir={tmp_path}",
                      PYTHONPATH=str(faulty_site))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    run_dir = only_run_dir(tmp_path)
    last = run_dir / "checkpoints" / "last.pt"
    assert ("error: schedule 'fragile' of plugin 'fragile_plugin' (entry point 'fragile', "
            "package fragile-dist 1.5) failed in beta() at epoch 3: ValueError: no β for epoch 3; "
            f"training stopped after epoch 2; the last good checkpoint is {last}"
            ) in result.stderr

    from vaeframe.rundir.checkpoint import load_checkpoint

    state = load_checkpoint(last)
    assert state["epoch"] == 2 and state["scheduler"]["beta_history"] == [0.1, 0.1]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["epochs_completed"] == 2
    assert summary["beta_history"] == [0.1, 0.1]


def test_a_reader_that_goes_away_gets_no_traceback() -> None:
    """`vaeframe list-plugins | head -1`: the closed pipe ends the command quietly."""
    result = subprocess.run(["bash", "-c", f"'{VAEFRAME}' list-plugins | true; "
                             "echo \"exit ${PIPESTATUS[0]}\" >&2"],
                            capture_output=True, text=True, env=cli_env())
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines()[-1] in ("exit 0", "exit 141")
