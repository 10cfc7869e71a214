"""OperationSpec: what a file becomes, its round trip through JSON, and its input values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from polyaxon_core.spec import (
    OperationSpec,
    PolyaxonfileError,
    TerminationSpec,
    parse_operation,
    read_polyaxonfile,
)

from .conftest import ComponentServer, WriteFile
from .helpers import CORPUS, VALID_FILES


def test_a_component_file_becomes_an_operation_running_it() -> None:
    spec = read_polyaxonfile(CORPUS / "valid" / "component-job-full.yaml")

    assert spec.written_kind == "component"
    assert (spec.name, spec.run_kind, spec.queue) == ("full-job", "job", "agent-1/gpu")
    assert spec.tags == ("examples", "full")
    assert spec.termination == TerminationSpec(max_retries=2, timeout=3600, ttl=600)
    assert spec.cache == {"disable": False, "ttl": 3600, "io": ["learning_rate"]}
    assert spec.to_dict()["kind"] == "operation"
    assert spec.to_dict()["component"]["name"] == "full-job"
    inputs = {io.name: io for io in spec.component.inputs}
    assert (inputs["layers"].type, inputs["layers"].is_list, inputs["layers"].value) == (
        "int",
        True,
        [64, 32],
    )
    assert (inputs["use_gpu"].is_flag, inputs["use_gpu"].is_optional) == (True, True)
    assert [io.name for io in spec.component.outputs] == ["accuracy", "model"]


def test_path_ref_is_resolved_from_the_file_folder_not_the_working_directory(
    write_file: WriteFile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_file(
        """
        kind: component
        name: nested
        run: {kind: job, container: {image: busybox}}
        """,
        name="project/components/job.yaml",
    )
    operation = write_file("kind: operation\npathRef: components/job.yaml\n", name="project/op.yaml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    spec = read_polyaxonfile(operation)

    assert spec.component.name == "nested"
    assert spec.to_dict()["pathRef"] == "components/job.yaml"
    assert spec.to_dict()["component"]["name"] == "nested"


def test_the_operation_overrides_the_component_termination_field_by_field() -> None:
    spec = read_polyaxonfile(CORPUS / "valid" / "operation-termination-override.yaml")

    assert spec.termination == TerminationSpec(max_retries=3, timeout=86400, ttl=None)
    assert (spec.name, spec.description, spec.tags) == (
        "long-train",
        "The same component with more patience.",
        ("long",),
    )


def test_schedule_is_kept_as_written() -> None:
    spec = read_polyaxonfile(CORPUS / "valid" / "operation-schedule-cron.yaml")

    assert spec.schedule == {
        "kind": "cron",
        "cron": "0 3 * * mon-fri",
        "startAt": "2030-01-01T00:00:00Z",
        "endAt": "2030-12-31T00:00:00Z",
        "maxRuns": 100,
        "dependsOnPast": False,
    }


def test_dag_operations_are_specs_with_their_components_resolved() -> None:
    spec = read_polyaxonfile(CORPUS / "valid" / "component-dag.yaml")

    operations = {operation.name: operation for operation in spec.dag_operations}
    assert list(operations) == ["prepare", "train", "evaluate", "report"]
    assert operations["prepare"].component.name == "prepare-data"
    assert operations["train"].component.name == "train"
    assert operations["train"].dependencies == ("prepare",)
    assert operations["evaluate"].params_with_ref == {
        "loss": {"ref": "ops.train", "value": "outputs.loss"},
        "dataset": {"ref": "ops.prepare", "value": "outputs.dataset"},
    }
    assert operations["train"].params_with_ref == {
        "learning_rate": {"ref": "dag", "value": "inputs.learning_rate"}
    }
    assert operations["prepare"].params_with_ref == {}
    assert operations["report"].run_kind == "job"


def test_a_dag_operation_stands_alone_once_stored() -> None:
    spec = read_polyaxonfile(CORPUS / "valid" / "component-dag.yaml")
    prepare = spec.dag_operations[0]

    stored = parse_operation(json.loads(json.dumps(prepare.to_dict())))

    assert stored == prepare
    assert stored.resolve_inputs() == {"rows": 1000}


def dag(operations: list[dict[str, Any]], components: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "kind": "operation",
        "component": {"run": {"kind": "dag", "operations": operations, "components": components}},
    }


STEP = {
    "name": "step",
    "inputs": [{"name": "x", "type": "int", "isOptional": True}],
    "outputs": [{"name": "y", "type": "int"}, {"name": "label", "type": "str"}],
    "run": {"kind": "job", "container": {"image": "busybox"}},
}


def dag_problems(operations: list[dict[str, Any]]) -> list[str]:
    with pytest.raises(PolyaxonfileError) as caught:
        parse_operation(dag(operations, [STEP]))
    return [f"{problem.path}: {problem.message}" for problem in caught.value.problems]


def test_dag_references_are_checked_against_the_upstream_outputs() -> None:
    assert sorted(
        dag_problems(
            [
                {"name": "a", "dagRef": "step"},
                {"name": "b", "dagRef": "step", "params": {"x": {"ref": "ops.a", "value": "outputs.z"}}},
                {"name": "c", "dagRef": "step", "params": {"x": {"ref": "ops.a", "value": "outputs.label"}}},
                {"name": "d", "dagRef": "stp", "dependencies": ["e"]},
            ]
        )
    ) == [
        "component.run.operations[1].params.x.value: operation `a` has no output named `z`",
        "component.run.operations[2].params.x: "
        "input `x` (int) cannot take `outputs.label` of operation `a` (str)",
        "component.run.operations[3].dagRef: this DAG has no component named `stp`",
        "component.run.operations[3].dependencies[0]: `e` is not an operation of this DAG",
    ]


def test_a_dag_cycle_through_references_is_reported() -> None:
    problems = dag_problems(
        [
            {"name": "a", "dagRef": "step", "params": {"x": {"ref": "ops.c", "value": "outputs.y"}}},
            {"name": "b", "dagRef": "step", "dependencies": ["a"]},
            {"name": "c", "dagRef": "step", "params": {"x": {"ref": "ops.b", "value": "outputs.y"}}},
        ]
    )

    assert problems == ["component.run.operations[0]: the DAG has a cycle: a -> b -> c -> a"]


@pytest.mark.parametrize("path", VALID_FILES, ids=lambda path: path.name)
def test_to_dict_round_trips_through_json(path: Path) -> None:
    spec = read_polyaxonfile(path)

    stored = parse_operation(json.loads(json.dumps(spec.to_dict())), source="database")

    assert stored == spec
    assert stored.matrix == spec.matrix
    assert stored.component == spec.component
    assert stored.termination == spec.termination
    assert [operation.to_dict() for operation in stored.dag_operations] == [
        operation.to_dict() for operation in spec.dag_operations
    ]


def test_cli_params_are_part_of_the_stored_operation(write_file: WriteFile) -> None:
    path = write_file(
        """
        kind: component
        inputs: [{name: n, type: int}]
        run: {kind: job, container: {image: busybox}}
        """
    )
    spec = read_polyaxonfile(path, {"n": "4"})

    stored = parse_operation(spec.to_dict())

    assert stored.resolve_inputs() == {"n": 4}


def test_different_params_make_different_specs() -> None:
    base = read_polyaxonfile(CORPUS / "valid" / "operation-pathref.yaml")
    other = read_polyaxonfile(CORPUS / "valid" / "operation-pathref.yaml", {"batch_size": "65"})

    assert base != other


SPEC_WITH_EVERYTHING = {
    "kind": "operation",
    "matrix": {"kind": "random", "numRuns": 2, "params": {"lr": {"kind": "uniform", "value": [0, 1]}}},
    "params": {
        "epochs": {"value": "5"},
        "upstream": {"ref": "runs.1c0ab4f0-7b1b-4f1e-9d2c-4f5f2b0a7a11", "value": "outputs.path"},
        "out": {"value": "{{ globals.run_outputs_path }}/model"},
    },
    "component": {
        "inputs": [
            {"name": "lr", "type": "float"},
            {"name": "epochs", "type": "int"},
            {"name": "batch", "type": "int", "value": 32},
            {"name": "note", "type": "str", "isOptional": True},
            {"name": "upstream", "type": "path"},
            {"name": "out", "type": "path"},
        ],
        "run": {"kind": "job", "container": {"image": "busybox"}},
    },
}


def everything() -> OperationSpec:
    return parse_operation(SPEC_WITH_EVERYTHING)


def test_resolve_inputs_types_params_and_defaults_and_lets_overrides_win() -> None:
    values = everything().resolve_inputs({"lr": "0.25", "upstream": "/data/x", "batch": 64})

    assert values == {
        "lr": 0.25,
        "epochs": 5,
        "batch": 64,
        "note": None,
        "upstream": "/data/x",
        "out": "{{ globals.run_outputs_path }}/model",
    }


def test_resolve_inputs_leaves_matrix_inputs_to_the_sweep() -> None:
    values = everything().resolve_inputs({"upstream": "/data/x"})

    assert "lr" not in values
    assert values["epochs"] == 5


@pytest.mark.parametrize(
    ("overrides", "path", "message"),
    [
        ({}, "params.upstream", "input `upstream` comes from `runs.1c0ab4f0-7b1b-4f1e-9d2c-4f5f2b0a7a11`"),
        ({"upstream": "x", "batch": "big"}, "batch", "the given value 'big' does not fit"),
        ({"upstream": "x", "batchsize": 1}, "batchsize", "`batchsize` is not an input of the component"),
    ],
)
def test_resolve_inputs_raises_for_unknown_missing_or_mistyped_values(
    overrides: dict[str, Any], path: str, message: str
) -> None:
    with pytest.raises(PolyaxonfileError) as caught:
        everything().resolve_inputs(overrides)

    [problem] = caught.value.problems
    assert problem.path == path
    assert problem.message.startswith(message)


def test_resolve_inputs_raises_for_a_required_input_without_value() -> None:
    spec = parse_operation(
        {
            "kind": "operation",
            "matrix": {"kind": "grid", "params": {"n": {"kind": "choice", "value": [1, 2]}}},
            "component": {
                "inputs": [{"name": "n", "type": "int"}],
                "run": {"kind": "job", "container": {"image": "x"}},
            },
        }
    )
    without_matrix = {**spec.to_dict()}
    without_matrix.pop("matrix")

    assert spec.resolve_inputs() == {}
    assert spec.resolve_inputs({"n": 2}) == {"n": 2}
    with pytest.raises(PolyaxonfileError) as caught:
        parse_operation(without_matrix)
    assert caught.value.problems[0].message == "required input `n` of the component has no value"


def test_presets_patch_the_operation_in_order(write_file: WriteFile) -> None:
    base = write_file(
        """
        kind: component
        name: base
        inputs: [{name: n, type: int, value: 1}]
        termination: {maxRetries: 1}
        run:
          kind: job
          container: {image: busybox, env: [{name: A, value: "1"}]}
        """
    )
    gpu = write_file(
        """
        queue: gpu
        runPatch:
          container:
            env: [{name: B, value: "2"}]
        """,
        name="gpu.yaml",
    )
    replace = write_file("queue: cpu\npatchStrategy: replace\n", name="cpu.yaml")

    spec = read_polyaxonfile(base, {"n": "3"}, presets=[gpu, replace])

    assert spec.queue == "cpu"
    assert spec.render_container(spec.resolve_inputs(), {}).env == {"A": "1", "B": "2"}
    assert spec.resolve_inputs() == {"n": 3}
    assert spec.termination == TerminationSpec(max_retries=1)


def test_a_preset_problem_names_the_preset_file(write_file: WriteFile) -> None:
    base = write_file("kind: component\nrun: {kind: job, container: {image: busybox}}\n")
    preset = write_file("queue: gpu\ntermination: {maxRetries: -1}\n", name="preset.yaml")

    with pytest.raises(PolyaxonfileError) as caught:
        read_polyaxonfile(base, presets=[preset])

    [problem] = caught.value.problems
    assert (problem.file, problem.line, problem.path) == (str(preset), 2, "termination.maxRetries")


def test_a_file_read_on_the_client_fetches_its_url_ref_once(
    write_file: WriteFile, component_server: ComponentServer
) -> None:
    component_server.files["/train.yaml"] = (
        "kind: component\nname: remote\nrun: {kind: job, container: {image: busybox}}\n"
    )
    path = write_file(f"kind: operation\nurlRef: {component_server.url}/train.yaml\n")

    spec = read_polyaxonfile(path)

    assert spec.component.name == "remote"
    assert spec.to_dict()["component"]["name"] == "remote"
    assert component_server.requested == ["/train.yaml"]


def test_operation_data_with_a_url_ref_is_refused_without_a_request(
    component_server: ComponentServer,
) -> None:
    component_server.files["/train.yaml"] = "kind: component\nrun: {kind: job, container: {image: x}}\n"

    with pytest.raises(PolyaxonfileError) as caught:
        parse_operation({"kind": "operation", "urlRef": f"{component_server.url}/train.yaml"})

    [problem] = caught.value.problems
    assert problem.path == "urlRef"
    assert "is not fetched here: a server never requests the URLs" in problem.message
    assert "`polyaxon run -f` fetches the urlRef on your machine" in (problem.valid or "")
    assert component_server.requested == []


def test_operation_data_with_a_url_ref_and_its_inline_component_compiles() -> None:
    component = {"kind": "component", "name": "inline", "run": {"kind": "job", "container": {"image": "x"}}}

    spec = parse_operation(
        {"kind": "operation", "urlRef": "http://127.0.0.1:9/a.yaml", "component": component}
    )

    assert spec.component.name == "inline"


@pytest.mark.parametrize("url", ["file:///etc/hostname", "ftp://127.0.0.1/a.yaml", "127.0.0.1/a.yaml"])
def test_a_url_ref_that_is_not_http_is_refused_on_the_client(write_file: WriteFile, url: str) -> None:
    path = write_file(f"kind: operation\nurlRef: {url}\n")

    with pytest.raises(PolyaxonfileError) as caught:
        read_polyaxonfile(path)

    [problem] = caught.value.problems
    assert (problem.path, problem.line) == ("urlRef", 2)
    assert "only http and https URLs are fetched" in problem.message
    assert problem.valid == "an http(s) URL of a component file, or a pathRef for a local file"


def test_a_url_ref_that_answers_404_is_a_problem(
    write_file: WriteFile, component_server: ComponentServer
) -> None:
    path = write_file(f"kind: operation\nurlRef: {component_server.url}/missing.yaml\n")

    with pytest.raises(PolyaxonfileError) as caught:
        read_polyaxonfile(path)

    [problem] = caught.value.problems
    url = f"{component_server.url}/missing.yaml"
    assert problem.message.startswith(f"cannot fetch urlRef `{url}`: HTTP Error 404")


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        ({"kind": "operation", "hubRef": "tensorboard:1"}, "hubRef",
         "hubRef `tensorboard:1` is not resolved here"),
        ({"kind": "operation", "pathRef": "a.yaml"}, "pathRef", "pathRef cannot be resolved"),
        ({"kind": "operation", "dagRef": "a"}, "dagRef", "dagRef only works"),
        ({"kind": "operation", "urlRef": "file:///a.yaml"}, "urlRef", "urlRef `file:///a.yaml` is not"),
    ],
)
def test_references_that_cannot_be_resolved_are_problems(
    data: dict[str, Any], path: str, message: str
) -> None:
    with pytest.raises(PolyaxonfileError) as caught:
        parse_operation(data)

    [problem] = caught.value.problems
    assert problem.path == path
    assert problem.message.startswith(message)


def test_a_file_referencing_itself_is_a_cycle_not_a_recursion(write_file: WriteFile) -> None:
    path = write_file(
        """
        kind: component
        run:
          kind: dag
          operations:
            - {name: again, pathRef: polyaxonfile.yaml}
        """
    )

    with pytest.raises(PolyaxonfileError) as caught:
        read_polyaxonfile(path)

    assert any("references itself" in problem.message for problem in caught.value.problems)


def test_reading_a_sweep_without_a_metric_is_refused_with_what_would_pick_its_best() -> None:
    problems = dag_problems(
        [
            {"name": "search", "dagRef": "step",
             "matrix": {"kind": "grid", "params": {"x": {"kind": "choice", "value": [1, 2]}}}},
            {"name": "next", "dagRef": "step", "params": {"x": {"ref": "ops.search", "value": "outputs.y"}}},
            {"name": "named", "dagRef": "step",
             "params": {"x": {"ref": "ops.search", "value": "globals.uuid"}}},
        ]
    )

    assert problems == [
        "component.run.operations[1].params.x.value: operation `search` is a sweep whose matrix "
        "names no metric to pick its best trial by, so its `outputs` cannot be read"]
