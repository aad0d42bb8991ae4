"""The core's structure: no built-in component's name in it, one-way imports, required
methods checked where a component registers."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, load_plugin, shared_registry

from vaeframe.registry.kinds import KINDS
from vaeframe.registry.manager import PluginSource

CORE = ROOT / "vaeframe"


def builtin_names() -> set[str]:
    """The names of vaeframe's own components and of their parameters."""
    found: set[str] = set()
    for kind in KINDS:
        for component in shared_registry().components[kind].values():
            if component.source.package == "vaeframe":
                found.add(component.name)
                found.update(p.name for p in component.parameters)
    return found - {"name"}


#: built-in parameter names that mean something of the core's own in these files
CORE_VOCABULARY = {
    "max_beta": {"vaeframe/config/overrides.py"},  # the key the spec's --beta-max flag sets
    "latent_dim": {"vaeframe/training/model.py", "vaeframe/runs/summary.py"},  # the model contract
    "version": {"vaeframe/cli/parser.py", "vaeframe/cli/commands.py"},  # --version, and a
    # plugin package's version
    "threshold": {"vaeframe/runs/criteria.py", "vaeframe/report/table.py"},  # a criterion's key
    # the FactorVAE score (a metric, Kim & Mnih 2018), not the factor_vae objective
    "factor_vae": {"vaeframe/latents/factor_scores.py", "vaeframe/explore/session.py"},
    # the learning rate: torch's parameter-group key, the train/lr metric and the schedule
    # contract's method, read whatever the optimizer; not the built-ins' lr field
    "lr": {"vaeframe/training/optimisation.py", "vaeframe/training/fit_loop.py",
           "vaeframe/training/epoch_loop.py", "vaeframe/registry/kinds.py"},
    # the global optimisation step, not the step-decay schedule
    "step": {"vaeframe/training/loop_state.py", "vaeframe/registry/types.py",
             "vaeframe/sweeps/progress.py"},
}


def core_strings() -> list[tuple[str, int, str]]:
    """Every string constant in the core's code (docstrings left out), with where it is."""
    found = []
    for path in CORE.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and id(node) not in docstrings):
                found.append((str(path.relative_to(ROOT)), node.lineno, node.value))
    return found


def test_the_core_tests_no_builtin_component_or_parameter_name() -> None:
    names = builtin_names()
    assert {"free_bits", "threshold", "cycle_length", "per", "focal", "gamma", "conv"} <= names
    # the defaults of each kind are data in one table, not tests
    allowed = {name for kind in KINDS.values()
               for name in (kind.default, kind.with_floor, *kind.defaults)}
    offending = [(path, line, text) for path, line, text in core_strings()
                 if (text in names - allowed and path not in CORE_VOCABULARY.get(text, ()))
                 or (text in allowed and path != "vaeframe/registry/kinds.py")]
    assert not offending, offending


def test_importing_the_fast_path_does_not_import_the_engine() -> None:
    code = ("import sys, vaeframe.training.fastpath; print(sorted(m for m in sys.modules "
            "if m in ('vaeframe.training.trainer', 'vaeframe.runs.runner')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_no_module_of_the_core_imports_a_plugin() -> None:
    plugins = {p.name for p in (ROOT / "plugins").iterdir() if p.name.startswith("vaeframe_")}
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            modules = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                       [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not {m.split(".")[0] for m in modules} & plugins, (path, modules)


@pytest.mark.parametrize(("hook", "method"), [
    ("register_kl_regularizers", "kl_loss"), ("register_models", "build"),
    ("register_losses", "loss"), ("register_schedules", "beta"),
    ("register_datasets", "load")])
def test_a_component_without_its_required_method_is_refused_where_it_registers(
        tmp_path: Path, hook: str, method: str) -> None:
    registry = load_plugin(tmp_path, "lacking_plugin", f"""
        import attrs
        from vaeframe import hookimpl

        @attrs.define
        class Lacking:
            '''Has everything but {method}.'''
            def {method}_typo(self):
                return None

        @hookimpl
        def {hook}(register):
            register("lacking", Lacking)
    """)
    [problem] = registry.problems()
    assert problem.startswith("plugin 'lacking_plugin' (loaded with -p, package not packaged)")
    assert f"has no method {method}()" in problem and hook in problem
    kind = next(k for k in KINDS.values() if k.hook == hook)
    assert "lacking" not in registry.components[kind.name]
    assert PluginSource("lacking_plugin").describe() in problem
