"""vaeframe's import graph, built from the source (imports inside functions and
``TYPE_CHECKING`` blocks included): no cycle, and no import from a lower layer to a higher
one as docs/architecture.md draws them."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

CORE = ROOT / "vaeframe"

#: docs/architecture.md's layers, lowest first; a module may import its own layer or lower
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "validators", "grids", "version", "modules"),
    ("registry",),
    ("config",),
    ("rundir",),
    ("training",),
    ("latents",),
    ("runs",),
    ("sweeps",),
    ("report", "explore"),
    ("cli",),
    ("", "__main__", "sweep_cluster"),  # the public API and the old import paths
)
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def core_modules() -> dict[str, Path]:
    return {module_name(path): path for path in CORE.rglob("*.py")}


def resolve(importer: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(name: str, path: Path, modules: set[str]) -> set[str]:
    """Every vaeframe module that ``name`` imports anywhere in its source."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = resolve(name, node, path.name == "__init__.py")
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                       for a in node.names]
        else:
            continue
        found.update(t for t in targets if t in modules and t != name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = core_modules()
    return {name: imports_of(name, path, set(modules)) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def layer(module: str) -> int:
    parts = module.split(".")
    return RANK[parts[1] if len(parts) > 1 else ""]


def test_the_graph_sees_lazy_and_relative_imports() -> None:
    graph = import_graph()
    # cli.commands imports the runner inside command_run only
    assert "vaeframe.runs.runner" in graph["vaeframe.cli.commands"]
    assert "vaeframe.training.clock" in graph["vaeframe"]


def test_a_constructed_cycle_is_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_vaeframe_has_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_every_module_belongs_to_a_layer() -> None:
    for module in core_modules():
        parts = module.split(".")
        assert (parts[1] if len(parts) > 1 else "") in RANK, module


def test_imports_run_from_higher_layers_to_lower_ones() -> None:
    wrong = [(importer, imported) for importer, targets in import_graph().items()
             for imported in targets if layer(imported) > layer(importer)]
    assert wrong == []


def test_the_top_level_has_few_modules_and_every_subpackage_says_what_lives_there() -> None:
    top = sorted(p.name for p in CORE.glob("*.py"))
    assert len(top) <= 10, top
    for package in (p for p in CORE.iterdir() if (p / "__init__.py").is_file()):
        doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text()))
        assert doc and len(doc.split()) >= 8, package


def test_architecture_doc_draws_the_same_layers() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    for parts in LAYERS[1:-1]:
        assert f"{parts[0]}/" in text, parts


def class_lengths() -> dict[str, int]:
    """Lines of every class in vaeframe/, by ``module.Class``."""
    found = {}
    for name, path in core_modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                found[f"{name}.{node.name}"] = node.end_lineno - node.lineno + 1
    return found


def test_the_trainer_is_small_and_no_class_is_long() -> None:
    lengths = class_lengths()
    assert lengths["vaeframe.training.trainer.Trainer"] <= 150
    assert {name: n for name, n in lengths.items() if n > 200} == {}
