"""``-P name=value`` strings: converted by the input's type, or reported precisely."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from polyaxon_core.spec import PolyaxonfileError, read_polyaxonfile

from .conftest import WriteFile

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
