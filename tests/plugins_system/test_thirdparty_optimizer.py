"""A matrix kind Polyaxon does not define, contributed by an installed optimizer plugin.

``tests/fixtures/thirdparty_optimizer`` (``polyaxon-halton-search``) registers the kind
``halton`` with an option of its own, ``skipPoints``; it is pip-installed into a throw-away
folder and the real ``polyaxon`` executable runs with that folder on ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

RunPolyaxon = Callable[..., subprocess.CompletedProcess[str]]

SWEEP = """
version: 1.1
kind: operation
matrix:
  kind: halton
  numRuns: 4
  skipPoints: {skip}
  concurrency: 2
  params:
    x: {{kind: uniform, value: [0, 8]}}
    color: {{kind: choice, value: [red, green, blue]}}
component:
  inputs:
  - {{name: x, type: float}}
  - {{name: color, type: str}}
  run:
    kind: job
    container:
      command: [python, -c, "print('x={{{{ x }}}} color={{{{ color }}}}')"]
"""


def write(tmp_path: Path, skip: object) -> Path:
    path = tmp_path / "halton.yaml"
    path.write_text(SWEEP.format(skip=skip))
    return path


def test_a_plugin_matrix_kind_is_checked_and_runs_as_a_sweep(
    installed_plugins: dict[str, Path], run_polyaxon: RunPolyaxon, tmp_path: Path
) -> None:
    site = [installed_plugins["halton"]]
    env = {"POLYAXON_IDLE_EXIT": "2"}
    sweep = write(tmp_path, 3)
    check = run_polyaxon("check", "-f", str(sweep), site=site, env=env)
    assert check.returncode == 0, check.stdout + check.stderr

    assert run_polyaxon("project", "create", "p", site=site, env=env).returncode == 0
    run = run_polyaxon("run", "-p", "p", "-f", str(sweep), "--watch", site=site, env=env)
    assert run.returncode == 0, run.stdout + run.stderr

    listed = run_polyaxon("ops", "ls", "-p", "p", "-o", "json", "-l", "50", site=site, env=env)
    runs = json.loads(listed.stdout)["results"]
    trials = sorted((r for r in runs if r["kind"] == "job"), key=lambda r: r["meta_info"]["matrix"]["index"])
    assert [t["status"] for t in trials] == ["succeeded"] * 4
    # The sequence's points 4..7 (points 1..4 without skipPoints): skipPoints went from the
    # file to the optimizer's options, camelCase to snake_case. Params are taken in name
    # order: color in base 2 (1/8, 5/8, 3/8, 7/8 of three choices), x in base 3 (4/9, 7/9,
    # 2/9, 5/9 of [0, 8]).
    assert [(t["inputs"]["color"], t["inputs"]["x"]) for t in trials] == [
        ("red", pytest.approx(8 * 4 / 9)), ("green", pytest.approx(8 * 7 / 9)),
        ("green", pytest.approx(8 * 2 / 9)), ("blue", pytest.approx(8 * 5 / 9)),
    ]


def test_a_plugin_matrix_kinds_own_options_are_validated_by_its_optimizer(
    installed_plugins: dict[str, Path], run_polyaxon: RunPolyaxon, tmp_path: Path
) -> None:
    site = [installed_plugins["halton"]]
    assert run_polyaxon("project", "create", "p", site=site).returncode == 0
    result = run_polyaxon("run", "-p", "p", "-f", str(write(tmp_path, -1)), site=site)

    assert result.returncode != 0
    assert "skipPoints must be a whole number >= 0, not -1" in result.stderr
    assert "Traceback" not in result.stderr
    listed = run_polyaxon("ops", "ls", "-p", "p", "-o", "json", site=site)
    assert json.loads(listed.stdout)["results"] == []  # nothing half-created


def test_check_reports_what_the_plugins_optimizer_refuses(
    installed_plugins: dict[str, Path], run_polyaxon: RunPolyaxon, tmp_path: Path
) -> None:
    sweep = write(tmp_path, "many")
    result = run_polyaxon("check", "-f", str(sweep), site=[installed_plugins["halton"]])

    assert result.returncode == 1
    assert result.stdout.splitlines()[1] == (
        f"  {sweep}: matrix: matrix kind 'halton': skipPoints must be a whole number >= 0, "
        "not 'many'"
    )
    assert "Traceback" not in result.stdout + result.stderr


def test_without_the_plugin_the_kind_is_refused_naming_the_known_ones(
    run_polyaxon: RunPolyaxon, tmp_path: Path
) -> None:
    result = run_polyaxon("check", "-f", str(write(tmp_path, 3)))

    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "`halton` is not a valid matrix kind" in output
    assert "hyperband" in output and "Traceback" not in output
