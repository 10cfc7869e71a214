"""``-P name=value`` strings: converted by the input's type, or reported precisely."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from polyaxon_core.spec import PolyaxonfileError, read_polyaxonfile

from .conftest import WriteFile

POLYAXON = str(Path(sys.executable).parent / "polyaxon")

COMPONENT = """
kind: component
inputs:
  - {name: epochs, type: int}
  - {name: lr, type: float, value: 0.1, isOptional: true}
  - {name: verbose, type: bool, value: false, isOptional: true, isFlag: true}
  - {name: layers, type: int, isList: true, value: [8], isOptional: true}
  - {name: config, type: dict, value: {}, isOptional: true}
  - {name: tag, type: str, value: v1, isOptional: true}
  - {name: data, type: path, value: /data, isOptional: true}
  - {name: day, type: date, isOptional: true}
  - {name: mode, type: str, value: fast, isOptional: true, options: [fast, slow]}
run:
  kind: job
  container: {image: busybox, command: [echo, "{{ epochs }}"]}
"""


@pytest.fixture
def component(write_file: WriteFile) -> Path:
    return write_file(COMPONENT)


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("epochs", "3", 3),
        ("epochs", " 12 ", 12),
        ("lr", "1e-3", 0.001),
        ("verbose", "true", True),
        ("verbose", "no", False),
        ("layers", "[64, 32]", [64, 32]),
        ("config", '{"seed": 1, "name": "x"}', {"seed": 1, "name": "x"}),
        ("tag", "007", "007"),
        ("data", "/tmp/x y", "/tmp/x y"),
        ("day", "2024-02-29", "2024-02-29"),
        ("mode", "slow", "slow"),
    ],
)
def test_a_param_is_converted_to_its_input_type(component: Path, name: str, text: str, value: Any) -> None:
    params = {"epochs": "1", name: text}

    spec = read_polyaxonfile(component, params)

    assert spec.resolve_inputs()[name] == value
    assert spec.params[name] == {"value": value}


@pytest.mark.parametrize(
    ("name", "text", "message", "valid"),
    [
        ("epochs", "ten", "'ten' is not a valid `int`: expected a whole number", "a whole number"),
        (
            "epochs",
            "2.5",
            "'2.5' is not a valid `int`: expected a whole number, not a fraction",
            "a whole number",
        ),
        (
            "layers",
            "[1, x]",
            "'[1, x]' is not a valid `int`: item 1: expected a whole number",
            "a list of: a whole number",
        ),
        (
            "day",
            "tomorrow",
            "'tomorrow' is not a valid `date`: expected a date such as 2024-05-31",
            "a date such as 2024-05-31",
        ),
        ("epocs", "3", "`epocs` is not an input or output of the component", None),
    ],
)
def test_a_param_that_does_not_fit_is_reported(
    component: Path, name: str, text: str, message: str, valid: str | None
) -> None:
    params = {"epochs": "1", name: text}

    with pytest.raises(PolyaxonfileError) as caught:
        read_polyaxonfile(component, params)

    [problem] = caught.value.problems
    assert (problem.file, problem.line, problem.path) == (str(component), None, f"-P {name}")
    assert problem.message == message
    if valid is not None:
        assert problem.valid == valid
    else:
        assert problem.valid is not None and problem.valid.startswith("did you mean `epochs`?")


def test_a_param_outside_the_options_is_reported(component: Path) -> None:
    with pytest.raises(PolyaxonfileError) as caught:
        read_polyaxonfile(component, {"epochs": "1", "mode": "turbo"})

    [problem] = caught.value.problems
    assert (problem.path, problem.line) == ("-P mode", None)
    assert problem.valid == "one of: fast, slow"


def test_all_bad_params_are_reported_together(component: Path) -> None:
    with pytest.raises(PolyaxonfileError) as caught:
        read_polyaxonfile(component, {"epochs": "x", "lr": "y", "nope": "1"})

    assert sorted(problem.path for problem in caught.value.problems) == ["-P epochs", "-P lr", "-P nope"]


def test_a_required_input_needs_a_param(component: Path) -> None:
    with pytest.raises(PolyaxonfileError) as caught:
        read_polyaxonfile(component)

    [problem] = caught.value.problems
    assert problem.path == "inputs[0]"
    assert problem.message == "required input `epochs` has no value"
    assert problem.valid is not None and "-P epochs=" in problem.valid


def test_a_param_overrides_the_operation_file(write_file: WriteFile) -> None:
    write_file(COMPONENT, name="component.yaml")
    operation = write_file(
        """
        kind: operation
        pathRef: component.yaml
        params:
          epochs: {value: 5}
          lr: 0.5
        """
    )

    spec = read_polyaxonfile(operation, {"epochs": "7"})

    assert spec.resolve_inputs()["epochs"] == 7
    assert spec.resolve_inputs()["lr"] == 0.5


SWEEP = """
kind: operation
matrix:
  kind: hyperband
  maxIterations: 9
  eta: 3
  resource: {name: epochs, type: int}
  metric: {name: loss, optimization: minimize}
  params:
    lr: {kind: choice, value: [0.1, 0.01]}
component:
  inputs:
    - {name: epochs, type: int}
    - {name: lr, type: float}
    - {name: tag, type: str, value: v1, isOptional: true}
  run: {kind: job, container: {image: busybox, command: [echo, "{{ lr }}"]}}
"""


@pytest.mark.parametrize(("name", "text"), [("lr", "0.5"), ("epochs", "3")])
def test_a_param_the_matrix_sets_is_refused_naming_the_matrix(
    write_file: WriteFile, name: str, text: str
) -> None:
    path = write_file(SWEEP)

    with pytest.raises(PolyaxonfileError) as caught:
        read_polyaxonfile(path, {name: text, "tag": "v2"})

    [problem] = caught.value.problems
    assert (problem.path, problem.line) == (f"-P {name}", None)
    assert problem.message == (
        f"`{name}` is searched by the matrix (`hyperband`): each trial sets its own value, "
        "so the -P value would never be used"
    )
    assert problem.valid == (
        f"leave out -P {name}, or take `{name}` out of the matrix to give every trial this value"
    )


def test_a_param_for_an_input_of_a_sweep_the_matrix_leaves_alone_applies(
    write_file: WriteFile,
) -> None:
    spec = read_polyaxonfile(write_file(SWEEP), {"tag": "v2"})

    assert spec.resolve_inputs({"lr": 0.1, "epochs": 1})["tag"] == "v2"


def test_a_param_for_a_mapping_key_is_refused(write_file: WriteFile) -> None:
    path = write_file(
        """
        kind: operation
        matrix: {kind: mapping, values: [{lr: 0.1}, {lr: 0.2}]}
        component:
          inputs: [{name: lr, type: float}]
          run: {kind: job, container: {image: busybox}}
        """
    )

    with pytest.raises(PolyaxonfileError) as caught:
        read_polyaxonfile(path, {"lr": "0.3"})

    assert caught.value.problems[0].message.startswith("`lr` is searched by the matrix (`mapping`)")


def test_polyaxon_run_refuses_a_param_the_matrix_sets(
    write_file: WriteFile, polyaxon_home: Path
) -> None:
    path = write_file(SWEEP)

    result = subprocess.run([POLYAXON, "run", "-f", str(path), "-P", "lr=0.5", "-p", "demo"],
                            capture_output=True, text=True, timeout=120)

    assert result.returncode == 1
    assert "-P lr: `lr` is searched by the matrix (`hyperband`)" in result.stderr
    assert "Traceback" not in result.stderr
