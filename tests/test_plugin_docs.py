"""The plugin guide stays true: its code is the example's code, and every hook specification
has a docstring, a section in docs/plugins.md and a test that implements it."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ROOT

from vaeframe.registry import hookspecs
from vaeframe.registry.kinds import KINDS

GUIDE = ROOT / "docs" / "plugins.md"
FILE_BLOCK = re.compile(
    r"<!-- file: (?P<path>\S+) -->\n```\w*\n(?P<code>.*?)```\n<!-- /file -->", re.DOTALL)


def hook_specs() -> dict[str, Callable[..., None]]:
    marker = f"{hookspecs.PROJECT_NAME}_spec"  # what pluggy's HookspecMarker sets
    return {name: obj for name, obj in vars(hookspecs).items()
            if callable(obj) and hasattr(obj, marker)}


HOOKS = sorted(hook_specs())


def guide_section(hook: str) -> str:
    """The guide's text from the heading naming ``hook(`` to the next heading."""
    match = re.search(rf"^###+ [^\n]*\b{hook}\((?P<body>.*?)(?=^#+ |\Z)", GUIDE.read_text(),
                      re.MULTILINE | re.DOTALL)
    return match.group("body") if match else ""


def test_every_hook_specification_is_wired_into_the_registry() -> None:
    assert HOOKS and set(HOOKS) == {kind.hook for kind in KINDS.values()}


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_docstring(hook: str) -> None:
    assert (inspect.getdoc(hook_specs()[hook]) or "").strip(), f"{hook} has no docstring"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_section_in_the_guide(hook: str) -> None:
    section = guide_section(hook)
    assert section.strip(), f"docs/plugins.md has no '### `{hook}(...)`' section"
    for parameter in inspect.signature(hook_specs()[hook]).parameters:
        assert parameter in section, f"the guide's {hook} section never names '{parameter}'"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_test_that_implements_it(hook: str) -> None:
    test_files = [*(ROOT / "tests").glob("test_*.py"), *(ROOT / "examples").glob("*/tests/*.py")]
    implementing = [path.name for path in test_files
                    if path != Path(__file__) and f"def {hook}(" in path.read_text()]
    assert implementing, f"no test implements {hook} in a plugin it loads"


def test_the_guides_code_is_the_examples_code() -> None:
    blocks = {m["path"]: m["code"] for m in FILE_BLOCK.finditer(GUIDE.read_text())}
    assert "examples/vaeframe-schedules-extra/vaeframe_schedules_extra/sigmoid.py" in blocks
    for path, code in blocks.items():
        assert code == (ROOT / path).read_text(), f"docs/plugins.md's copy of {path} drifted"


def test_the_readme_links_the_guide() -> None:
    assert "(docs/plugins.md)" in (ROOT / "README.md").read_text()
