"""Aliases are allowed, but the document they expand to is capped: an alias bomb is a
problem, reported before anything is expanded, never a process growing without end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from polyaxon_core.spec import PolyaxonfileError, read_polyaxonfile
from polyaxon_core.spec.loader import MAX_EXPANDED_CHARACTERS, MAX_EXPANDED_VALUES, parse_text

from .conftest import WriteFile
from .helpers import SPEC_TESTS

BILLION_LAUGHS = SPEC_TESTS / "files" / "billion-laughs.yaml"
POLYAXON = str(Path(sys.executable).parent / "polyaxon")


def test_polyaxon_check_refuses_the_billion_laughs_file(polyaxon_home: Path) -> None:
    result = subprocess.run([POLYAXON, "check", "-f", str(BILLION_LAUGHS)],
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == 1
    assert f"{BILLION_LAUGHS}:6: the document expands to more than 100,000 values" in result.stdout
    assert "Traceback" not in result.stderr


def test_polyaxon_run_refuses_the_billion_laughs_file(polyaxon_home: Path) -> None:
    result = subprocess.run([POLYAXON, "run", "-f", str(BILLION_LAUGHS)],
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == 1
    assert "the document expands to more than 100,000 values" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_a_long_scalar_repeated_by_aliases_is_capped_by_characters() -> None:
    text = "a: &a " + "x" * 200_000 + "\nb: [" + ", ".join(["*a"] * 60) + "]\n"

    with pytest.raises(PolyaxonfileError) as caught:
        parse_text(text, "scalar.yaml")

    [problem] = caught.value.problems
    assert f"{MAX_EXPANDED_CHARACTERS:,} characters" in problem.message
    assert problem.line == 2


def test_the_values_cap_is_counted_after_expansion() -> None:
    # 400 written values, expanded 400 times: over the cap although the file is small
    text = "a: &a [" + ", ".join(["1"] * 400) + "]\nb: [" + ", ".join(["*a"] * 400) + "]\n"
    assert MAX_EXPANDED_VALUES < 400 * 400

    with pytest.raises(PolyaxonfileError) as caught:
        parse_text(text, "wide.yaml")

    assert "expands to more than 100,000 values" in caught.value.problems[0].message


def test_a_recursive_alias_is_refused() -> None:
    with pytest.raises(PolyaxonfileError) as caught:
        parse_text("a: &a [1, *a]\n", "loop.yaml")

    [problem] = caught.value.problems
    assert problem.message == (
        "an alias refers to a mapping or list that contains it (a recursive alias)"
    )


def test_deep_nesting_is_a_problem_not_a_recursion_error() -> None:
    with pytest.raises(PolyaxonfileError) as caught:
        parse_text("[" * 5000 + "]" * 5000, "deep.yaml")

    assert caught.value.problems[0].message == "the YAML is nested too deeply to be read"


def test_a_small_alias_and_merge_key_keep_working(write_file: WriteFile) -> None:
    path = write_file(
        """
        kind: component
        inputs:
          - &rate {name: lr, type: float, value: 0.1}
          - {<<: *rate, name: momentum}
        run:
          kind: job
          container: &container {image: busybox, command: [echo]}
          init: [{container: *container}]
        """
    )

    spec = read_polyaxonfile(path)

    assert spec.resolve_inputs() == {"lr": 0.1, "momentum": 0.1}


def test_a_param_value_with_an_alias_bomb_is_refused(write_file: WriteFile) -> None:
    path = write_file(
        """
        kind: component
        inputs: [{name: items, type: list}]
        run: {kind: job, container: {image: busybox}}
        """
    )
    bomb = "[" + ", ".join(["&a [" + ", ".join(["1"] * 400) + "]"] + ["*a"] * 400) + "]"

    with pytest.raises(PolyaxonfileError) as caught:
        read_polyaxonfile(path, {"items": bomb})

    [problem] = caught.value.problems
    assert problem.path == "-P items"
    assert "expands to more than 100,000 values" in problem.message
