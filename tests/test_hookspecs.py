"""Every hook is documented, and every hook is exercised by a test.

A hook is a public contract with plugin authors, so each spec in
``polyaxon_core/hookspecs.py`` must say when it is called, what each argument is and what
to return; ``docs/plugins.md`` must name it; and some test must call it through a plugin
manager (``<manager>.hook.<name>(...)``) with a plugin implementing it.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from polyaxon_core import hookspecs

ROOT = Path(__file__).resolve().parents[1]
TEST_FOLDERS = [ROOT / "tests", *sorted((ROOT / "plugins").glob("*/tests"))]


def _hooks() -> dict[str, Callable[..., Any]]:
    marker = f"{hookspecs.PROJECT_NAME}_spec"  # set on each function by @hookspec
    return {
        name: function
        for name, function in vars(hookspecs).items()
        if inspect.isfunction(function) and hasattr(function, marker)
    }


HOOKS = _hooks()


@cache
def _test_sources() -> str:
    return "\n".join(
        path.read_text(encoding="utf-8")
        for folder in TEST_FOLDERS
        for path in sorted(folder.rglob("*.py"))
    )


def test_the_spec_module_defines_hooks() -> None:
    assert len(HOOKS) >= 15
    assert all(name.startswith("polyaxon_") for name in HOOKS)


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_the_hook_says_when_it_is_called(name: str) -> None:
    doc = inspect.getdoc(HOOKS[name]) or ""
    assert re.search(r"\bCalled\b", doc), f"{name}: say when it is called ('Called ...')"


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_the_hook_describes_each_argument(name: str) -> None:
    doc = inspect.getdoc(HOOKS[name]) or ""
    arguments = list(inspect.signature(HOOKS[name]).parameters)
    if not arguments:
        assert "no arguments" in doc, f"{name}: say that it takes no arguments"
    missing = [argument for argument in arguments if f"``{argument}``" not in doc]
    assert not missing, f"{name}: describe {', '.join(missing)} (as ``name``)"


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_the_hook_says_what_it_returns(name: str) -> None:
    doc = inspect.getdoc(HOOKS[name]) or ""
    assert re.search(r"\b[Rr]eturn", doc), f"{name}: say what to return (or that it is ignored)"


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_the_hook_is_in_the_plugin_docs(name: str) -> None:
    docs = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    assert f"`{name}" in docs, f"{name}: list it in docs/plugins.md"


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_the_hook_is_called_by_a_test(name: str) -> None:
    call = re.compile(rf"\.hook\.{name}\(")
    assert call.search(_test_sources()), (
        f"{name}: no test calls it through a plugin manager (`manager.hook.{name}(...)`); "
        "add one under tests/plugins_system with a plugin implementing it"
    )
