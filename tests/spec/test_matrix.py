"""The matrix section: distributions in every form, each matrix kind's fields, checks."""

from __future__ import annotations

from typing import Any

import pytest

from polyaxon_core.entities import ParamDistribution
from polyaxon_core.spec import OperationSpec, PolyaxonfileError, Problem, parse_operation, read_polyaxonfile
from polyaxon_core.spec.matrix import search_space_size

from .helpers import CORPUS

INPUT_TYPES = {"daterange": "date", "datetimerange": "datetime", "choice": "str", "pchoice": "str"}


def sweep(matrix: dict[str, Any], inputs: list[dict[str, Any]] | None = None) -> OperationSpec:
    names = set(matrix.get("params") or {})
    if inputs is None:
        inputs = [
            {"name": name, "type": INPUT_TYPES.get(matrix["params"][name]["kind"], "float")} for name in names
        ]
    return parse_operation(
        {
            "kind": "operation",
            "matrix": matrix,
            "component": {"inputs": inputs, "run": {"kind": "job", "container": {"image": "busybox"}}},
        }
    )


def sweep_problems(matrix: dict[str, Any], inputs: list[dict[str, Any]] | None = None) -> list[Problem]:
    with pytest.raises(PolyaxonfileError) as caught:
        sweep(matrix, inputs)
    return caught.value.problems


NORMALIZED = [
    ("choice", ["a", "b"], ["a", "b"]),
    ("pchoice", [["a", 0.25], ["b", 0.75]], [["a", 0.25], ["b", 0.75]]),
    ("range", [1, 10, 2], {"start": 1, "stop": 10, "step": 2}),
    ("range", {"start": 1, "stop": 10, "step": 2}, {"start": 1, "stop": 10, "step": 2}),
    ("range", "1:10:2", {"start": 1, "stop": 10, "step": 2}),
    ("range", "0.5:1.5:0.25", {"start": 0.5, "stop": 1.5, "step": 0.25}),
    ("daterange", ["2024-01-01", "2024-01-09", 2], {"start": "2024-01-01", "stop": "2024-01-09", "step": 2}),
    (
        "daterange",
        {"start": "2024-01-01", "stop": "2024-02-01", "step": 7},
        {"start": "2024-01-01", "stop": "2024-02-01", "step": 7},
    ),
    (
        "datetimerange",
        ["2024-01-01T00:00:00", "2024-01-01T03:00:00", 3600],
        {"start": "2024-01-01T00:00:00", "stop": "2024-01-01T03:00:00", "step": 3600},
    ),
    (
        "datetimerange",
        {"start": "2024-01-01 00:00Z", "stop": "2024-01-02T00:00:00+00:00", "step": "PT6H"},
        {"start": "2024-01-01T00:00:00+00:00", "stop": "2024-01-02T00:00:00+00:00", "step": 21600},
    ),
    ("linspace", [0, 1, 5], {"start": 0, "stop": 1, "num": 5}),
    ("linspace", {"start": 0, "stop": 1, "num": 5}, {"start": 0, "stop": 1, "num": 5}),
    ("linspace", "0:1:5", {"start": 0, "stop": 1, "num": 5}),
    ("logspace", [-3, 0, 4], {"start": -3, "stop": 0, "num": 4}),
    ("logspace", {"start": 1, "stop": 3, "num": 3, "base": 2}, {"start": 1, "stop": 3, "num": 3, "base": 2}),
    ("logspace", "1:3:3:2", {"start": 1, "stop": 3, "num": 3, "base": 2}),
    ("geomspace", [1, 8, 4], {"start": 1, "stop": 8, "num": 4}),
    ("geomspace", {"start": -8, "stop": -1, "num": 4}, {"start": -8, "stop": -1, "num": 4}),
    ("geomspace", "1:8:4", {"start": 1, "stop": 8, "num": 4}),
    ("uniform", [0, 1], {"low": 0, "high": 1}),
    ("uniform", {"low": 0, "high": 1, "size": 3}, {"low": 0, "high": 1, "size": 3}),
    ("uniform", "0:1", {"low": 0, "high": 1}),
    ("quniform", [0, 10, 2], {"low": 0, "high": 10, "q": 2}),
    ("quniform", {"low": 0, "high": 10, "q": 2}, {"low": 0, "high": 10, "q": 2}),
    ("quniform", "0:10:2", {"low": 0, "high": 10, "q": 2}),
    ("loguniform", [-5, 0], {"low": -5, "high": 0}),
    ("loguniform", {"low": -5, "high": 0}, {"low": -5, "high": 0}),
    ("loguniform", "-5:0", {"low": -5, "high": 0}),
    ("qloguniform", [0, 3, 1], {"low": 0, "high": 3, "q": 1}),
    ("qloguniform", {"low": 0, "high": 3, "q": 1}, {"low": 0, "high": 3, "q": 1}),
    ("qloguniform", "0:3:1", {"low": 0, "high": 3, "q": 1}),
    ("normal", [0, 1], {"loc": 0, "scale": 1}),
    ("normal", {"loc": 0, "scale": 1}, {"loc": 0, "scale": 1}),
    ("normal", "0:1", {"loc": 0, "scale": 1}),
    ("qnormal", [0, 1, 0.5], {"loc": 0, "scale": 1, "q": 0.5}),
    ("qnormal", {"loc": 0, "scale": 1, "q": 0.5}, {"loc": 0, "scale": 1, "q": 0.5}),
    ("qnormal", "0:1:0.5", {"loc": 0, "scale": 1, "q": 0.5}),
    ("lognormal", [0, 0.5], {"loc": 0, "scale": 0.5}),
    ("lognormal", {"loc": 0, "scale": 0.5}, {"loc": 0, "scale": 0.5}),
    ("lognormal", "0:0.5", {"loc": 0, "scale": 0.5}),
    ("qlognormal", [0, 1, 0.1], {"loc": 0, "scale": 1, "q": 0.1}),
    ("qlognormal", {"loc": 0, "scale": 1, "q": 0.1}, {"loc": 0, "scale": 1, "q": 0.1}),
    ("qlognormal", "0:1:0.1", {"loc": 0, "scale": 1, "q": 0.1}),
]


@pytest.mark.parametrize(("kind", "written", "normalized"), NORMALIZED, ids=lambda value: str(value))
def test_every_distribution_form_is_normalized(kind: str, written: Any, normalized: Any) -> None:
    spec = sweep({"kind": "random", "numRuns": 2, "params": {"x": {"kind": kind, "value": written}}})

    assert spec.matrix is not None
    assert spec.matrix.params == {"x": ParamDistribution(kind=kind, value=normalized)}


BAD_VALUES = [
    ("range", [5, 1, 1], "matrix.params.x.value.stop", "stop > start"),
    ("range", [1, 5, 0], "matrix.params.x.value.step", "step > 0"),
    (
        "range",
        [1, 5],
        "matrix.params.x.value",
        '[start, stop, step] or {start, stop, step} or "start:stop:step"',
    ),
    ("linspace", [0, 1, 2.5], "matrix.params.x.value.num", "a whole number >= 1"),
    ("logspace", [0, 3, 4, 2.5], "matrix.params.x.value.base", "a whole number >= 2"),
    ("geomspace", [0, 8, 4], "matrix.params.x.value.start", "two non-zero numbers of the same sign"),
    (
        "uniform",
        [0, 1, 3, 4],
        "matrix.params.x.value",
        '[low, high[, size]] or {low, high[, size]} or "low:high"',
    ),
    ("uniform", {"low": 0, "high": 1, "sise": 2}, "matrix.params.x.value.sise", "keys: low, high, size"),
    ("uniform", "0:x", "matrix.params.x.value", '[low, high[, size]] or {low, high[, size]} or "low:high"'),
    ("quniform", [0, 1, 0], "matrix.params.x.value.q", "q > 0"),
    ("normal", [0, -1], "matrix.params.x.value.scale", "scale > 0"),
    ("pchoice", [["a", 0.3], ["b", 0.3]], "matrix.params.x.value", "probabilities that sum to 1"),
    ("pchoice", [["a", 1.5]], "matrix.params.x.value[0]", "a number in (0, 1]"),
    ("choice", [], "matrix.params.x.value", "a non-empty list of values"),
    (
        "daterange",
        "2024-01-01:2024-01-09:1",
        "matrix.params.x.value",
        "[start, stop, step] or {start, stop, step}",
    ),
    ("daterange", ["2024-01-01", "someday", 1], "matrix.params.x.value.stop", "a date such as 2024-05-31"),
    (
        "datetimerange",
        ["2024-01-01T00:00:00", "2024-01-02T00:00:00Z", 60],
        "matrix.params.x.value.stop",
        "both with or both without",
    ),
]


@pytest.mark.parametrize(("kind", "written", "path", "valid"), BAD_VALUES, ids=lambda value: str(value))
def test_a_bad_distribution_value_names_the_key_and_the_valid_form(
    kind: str, written: Any, path: str, valid: str
) -> None:
    [problem] = sweep_problems(
        {"kind": "random", "numRuns": 2, "params": {"x": {"kind": kind, "value": written}}}
    )

    assert problem.path == path
    assert problem.valid == valid


def test_grid_search_refuses_sampled_distributions() -> None:
    [problem] = sweep_problems({"kind": "grid", "params": {"x": {"kind": "normal", "value": [0, 1]}}})

    assert problem.path == "matrix.params.x.kind"
    assert "uniform" not in (problem.valid or "") and "choice" in (problem.valid or "")


def test_bayes_only_samples_uniform_distributions() -> None:
    matrix = {
        "kind": "bayes",
        "numInitialRuns": 2,
        "maxIterations": 4,
        "metric": {"name": "loss"},
        "utilityFunction": {"acquisitionFunction": "poi", "eps": 0.1},
        "params": {"x": {"kind": "loguniform", "value": [0, 1]}, "y": {"kind": "uniform", "value": [0, 1]}},
    }

    [problem] = sweep_problems(matrix)

    assert problem.path == "matrix.params.x.kind"


def test_the_acquisition_function_needs_its_parameter() -> None:
    matrix = {
        "kind": "bayes",
        "numInitialRuns": 2,
        "maxIterations": 4,
        "metric": {"name": "loss"},
        "utilityFunction": {"acquisitionFunction": "UCB"},
        "params": {"x": {"kind": "uniform", "value": [0, 1]}},
    }

    [problem] = sweep_problems(matrix)

    assert problem.path == "matrix.utilityFunction.kappa"


def test_a_matrix_param_must_be_an_input() -> None:
    matrix = {"kind": "grid", "params": {"learning_rat": {"kind": "choice", "value": [0.1]}}}

    [problem] = sweep_problems(matrix, inputs=[{"name": "learning_rate", "type": "float", "value": 0.1}])

    assert problem.path == "matrix.params.learning_rat"
    assert problem.valid == "did you mean `learning_rate`? inputs: learning_rate"


@pytest.mark.parametrize(
    ("matrix", "input_type", "valid"),
    [
        (
            {"kind": "random", "numRuns": 1, "params": {"x": {"kind": "uniform", "value": [0, 1]}}},
            "str",
            "an input of type int or float, or a choice of values",
        ),
        (
            {
                "kind": "grid",
                "params": {"x": {"kind": "daterange", "value": ["2024-01-01", "2024-01-03", 1]}},
            },
            "int",
            "an input of type date, or a choice of values",
        ),
    ],
)
def test_a_distribution_must_produce_values_of_the_input_type(
    matrix: dict[str, Any], input_type: str, valid: str
) -> None:
    [problem] = sweep_problems(matrix, inputs=[{"name": "x", "type": input_type}])

    assert (problem.path, problem.valid) == ("matrix.params.x.kind", valid)


def test_choice_values_must_fit_the_input_type() -> None:
    matrix = {"kind": "grid", "params": {"n": {"kind": "choice", "value": [1, "two", 3]}}}

    [problem] = sweep_problems(matrix, inputs=[{"name": "n", "type": "int"}])

    assert problem.path == "matrix.params.n.value[1]"
    assert problem.valid == "a whole number"


def test_mapping_values_must_name_inputs_and_fit_their_types() -> None:
    matrix = {"kind": "mapping", "values": [{"n": 1}, {"n": "x"}, {"m": 2}]}

    problems = sweep_problems(matrix, inputs=[{"name": "n", "type": "int"}])

    assert [problem.path for problem in problems] == ["matrix.values[1].n", "matrix.values[2].m"]


def test_hyperband_exposes_its_fields_as_snake_case_options() -> None:
    spec = read_polyaxonfile(CORPUS / "valid" / "matrix-hyperband.yaml")

    assert spec.matrix is not None
    assert (spec.matrix.kind, spec.matrix.concurrency, spec.matrix.seed, spec.matrix.num_runs) == (
        "hyperband",
        4,
        7,
        None,
    )
    assert spec.matrix.options == {
        "max_iterations": 81,
        "eta": 3,
        "resource": {"name": "epochs", "type": "int"},
        "metric": {"name": "loss", "optimization": "minimize"},
        "resume": False,
        "early_stopping": [
            {"kind": "metric_early_stopping", "metric": "loss", "value": 0.05, "optimization": "minimize"}
        ],
    }
    assert set(spec.matrix.params) == {"learning_rate", "dropout", "activation"}


def test_bayes_options_are_snake_case_all_the_way_down() -> None:
    spec = read_polyaxonfile(CORPUS / "valid" / "matrix-bayes.yaml")

    assert spec.matrix is not None
    assert spec.matrix.options["utility_function"] == {
        "acquisition_function": "ei",
        "eps": 0.01,
        "num_warmup": 100,
        "num_iterations": 10,
        "gaussian_process": {"kernel": "matern", "length_scale": 1.0, "nu": 2.5, "num_restarts_optimizer": 2},
    }
    assert (spec.matrix.options["num_initial_runs"], spec.matrix.options["max_iterations"]) == (5, 15)


def test_hyperopt_keeps_its_kind_and_algorithm() -> None:
    spec = read_polyaxonfile(CORPUS / "valid" / "matrix-hyperopt.yaml")

    assert spec.matrix is not None
    assert (spec.matrix.kind, spec.matrix.num_runs, spec.matrix.options["algorithm"]) == (
        "hyperopt",
        20,
        "anneal",
    )


def test_mapping_values_are_typed_like_the_inputs() -> None:
    spec = sweep(
        {"kind": "mapping", "values": [{"n": "3", "flag": "yes"}, {"n": 4.0, "flag": False}]},
        inputs=[{"name": "n", "type": "int"}, {"name": "flag", "type": "bool"}],
    )

    assert spec.matrix is not None
    assert spec.matrix.params == {}
    assert spec.matrix.options["values"] == [{"n": 3, "flag": True}, {"n": 4, "flag": False}]


def test_iterative_tuner_and_early_stopping_are_options() -> None:
    spec = read_polyaxonfile(CORPUS / "valid" / "matrix-iterative.yaml")

    assert spec.matrix is not None
    assert spec.matrix.options["tuner"]["hub_ref"] == "my-tuner"
    assert spec.matrix.options["tuner"]["params"] == {"strategy": {"value": "greedy"}}
    assert spec.matrix.options["max_iterations"] == 10


@pytest.mark.parametrize(
    ("name", "size"),
    [
        # choice 2 x range 3 (1, 4, 7) x linspace 3 x logspace 4 x geomspace 3 x daterange 2 x datetimerange 3
        ("matrix-grid-list-forms.yaml", 2 * 3 * 3 * 4 * 3 * 2 * 3),
        # range 3 (2, 8, 14) x linspace 4 x logspace 4 x geomspace 4 x daterange 3 x datetimerange 4
        ("matrix-grid-dict-forms.yaml", 3 * 4 * 4 * 4 * 3 * 4),
        ("matrix-mapping.yaml", 3),
        ("matrix-random-list-forms.yaml", None),
    ],
)
def test_search_space_size(name: str, size: int | None) -> None:
    spec = read_polyaxonfile(CORPUS / "valid" / name)

    assert spec.matrix is not None
    assert search_space_size(spec.matrix) == size


def test_early_stopping_policies_are_checked() -> None:
    matrix = {
        "kind": "random",
        "numRuns": 2,
        "params": {"x": {"kind": "uniform", "value": [0, 1]}},
        "earlyStopping": [
            {"kind": "metric_early_stopping", "metric": "loss", "value": 1, "optimization": "down"},
            {"kind": "failure_early_stopping", "percent": 0},
            {
                "kind": "metric_early_stopping",
                "metric": "loss",
                "value": 1,
                "optimization": "maximize",
                "policy": {"kind": "truncation", "percent": 10},
            },
        ],
    }

    problems = sweep_problems(matrix)

    assert [problem.path for problem in problems] == [
        "matrix.earlyStopping[0].optimization",
        "matrix.earlyStopping[1].percent",
        "matrix.earlyStopping[2].policy.evaluationInterval",
    ]
