"""Run state has one writer: nothing but ``domain.state.transition`` changes a status.

Read the source of the core and of every plugin distribution, and fail on any other
place that assigns an object's ``status`` or sets ``status`` in an ``UPDATE``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WRITER = ROOT / "polyaxon_core" / "domain" / "state.py"


def _sources() -> list[Path]:
    files = list((ROOT / "polyaxon_core").rglob("*.py"))
    for plugin in (ROOT / "plugins").iterdir():
        files += [path for path in plugin.rglob("*.py") if "tests" not in path.parts]
    return [path for path in files if path != WRITER and "migrations" not in path.parts]


def _status_writes(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if (isinstance(target, ast.Attribute) and target.attr == "status"
                        and not (isinstance(target.value, ast.Name) and target.value.id == "self")):
                    lines.append(node.lineno)
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "values" and any(k.arg == "status" for k in node.keywords)):
            lines.append(node.lineno)
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "setattr" and len(node.args) > 1
                and isinstance(node.args[1], ast.Constant) and node.args[1].value == "status"):
            lines.append(node.lineno)
    return lines


def test_only_the_state_module_writes_a_run_status() -> None:
    offenders = [f"{path.relative_to(ROOT)}:{line}" for path in _sources()
                 for line in _status_writes(ast.parse(path.read_text(), str(path)))]
    assert offenders == []


def test_the_check_finds_a_second_writer() -> None:
    sample = "def stop(run):\n    run.status = 'stopped'\n"
    update = "session.execute(update(Run).values(status='failed'))\n"
    assert _status_writes(ast.parse(sample)) == [2]
    assert _status_writes(ast.parse(update)) == [1]
