"""Problems name the file, the line, the field path and what would have been valid."""

from __future__ import annotations

import pytest

from polyaxon_core.spec import PolyaxonfileError, Problem, parse_operation, read_polyaxonfile

from .conftest import WriteFile
from .helpers import line_of


def problems_of(path: object, **kwargs: object) -> list[Problem]:
    with pytest.raises(PolyaxonfileError) as caught:
        read_polyaxonfile(path, **kwargs)  # type: ignore[arg-type]
    return caught.value.problems


def test_unknown_field_names_file_line_path_and_a_did_you_mean(write_file: WriteFile) -> None:
    path = write_file(
        """
        version: 1.1
        kind: component
        run:
          kind: job
          container:
            image: busybox
            workDir: /code
        """
    )

    [problem] = problems_of(path)

    assert problem.file == str(path)
    assert problem.line == line_of(path, "workDir")
    assert problem.path == "run.container.workDir"
    assert problem.message == "unknown field `workDir`"
    assert problem.valid is not None
    assert problem.valid.startswith("did you mean `workingDir`?")
    assert "image" in problem.valid


def test_bad_enum_value_lists_the_valid_ones(write_file: WriteFile) -> None:
    path = write_file(
        """
        kind: component
        run:
          kind: servce
          container: {image: nginx}
        """
    )

    [problem] = problems_of(path)

    assert (problem.path, problem.line) == ("run.kind", 3)
    assert problem.valid == "did you mean `service`? one of: job, service, dag, tfjob, pytorchjob, mpijob"


def test_a_distribution_value_problem_names_the_key_inside_the_value(write_file: WriteFile) -> None:
    path = write_file(
        """
        kind: operation
        matrix:
          kind: random
          numRuns: 3
          params:
            lr:
              kind: uniform
              value: {low: 0.5, high: 0.1}
        component:
          inputs: [{name: lr, type: float}]
          run: {kind: job, container: {image: busybox}}
        """
    )

    [problem] = problems_of(path)

    assert problem.path == "matrix.params.lr.value.high"
    assert problem.line == line_of(path, "value: {low")
    assert problem.valid == "high > low"


def test_all_problems_of_a_file_are_reported_at_once(write_file: WriteFile) -> None:
    path = write_file(
        """
        version: 1.1
        kind: operation
        queu: gpu
        termination:
          timeout: -1
        matrix:
          kind: grid
          params:
            epochs: {kind: range, value: [10, 1, 1]}
        params:
          lr: {value: fast}
        component:
          inputs:
            - {name: lr, type: float}
            - {name: epochs, type: int}
          run:
            kind: job
            container:
              image: busybox
              args: ["--lr={{ lr }}", "--epochs={{ epoch }}"]
        """
    )

    problems = problems_of(path)

    assert [(problem.path, problem.line) for problem in problems] == [
        ("queu", line_of(path, "queu")),
        ("termination.timeout", line_of(path, "timeout")),
        ("matrix.params.epochs.value.stop", line_of(path, "kind: range")),
        ("params.lr.value", line_of(path, "lr: {value")),
        ("component.run.container.args[1]", line_of(path, "args:")),
    ]
    assert "`epoch`" in problems[-1].message
    assert problems[-1].valid is not None and problems[-1].valid.startswith("did you mean `epochs`?")


def test_the_report_is_one_readable_line_per_problem(write_file: WriteFile) -> None:
    path = write_file(
        """
        kind: component
        inputs:
          - {name: n, type: int, value: many, isOptional: true}
        run: {kind: job, container: {image: busybox}}
        """
    )

    with pytest.raises(PolyaxonfileError) as caught:
        read_polyaxonfile(path)

    lines = str(caught.value).splitlines()
    assert lines[0] == "1 problem found in the polyaxonfile:"
    assert lines[1] == (
        f"  {path}:3: inputs[0].value: 'many' (str) is not a valid `int`: expected a whole number; "
        "valid: a whole number"
    )


def test_yaml_syntax_error_names_the_file_and_line(write_file: WriteFile) -> None:
    path = write_file(
        """
        kind: component
        run:
          kind: job
          container:
            image: "busybox
        """
    )

    [problem] = problems_of(path)

    assert problem.file == str(path)
    assert problem.line is not None and problem.line >= line_of(path, "image")
    assert problem.message.startswith("invalid YAML")


def test_duplicate_keys_are_reported_rather_than_silently_overwritten(write_file: WriteFile) -> None:
    path = write_file(
        """
        kind: component
        run:
          kind: job
          container: {image: busybox}
          container: {image: alpine}
        """
    )

    [problem] = problems_of(path)

    assert (problem.path, problem.line) == ("run.container", 5)
    assert "first written on line 4" in problem.message


def test_a_yaml_merge_key_override_is_not_a_duplicate(write_file: WriteFile) -> None:
    path = write_file(
        """
        kind: component
        run:
          kind: job
          container:
            <<: &defaults {image: busybox, command: [echo, a]}
            command: [echo, b]
        """
    )

    spec = read_polyaxonfile(path)

    assert spec.run["container"]["command"] == ["echo", "b"]


def test_missing_file_is_a_problem_not_a_traceback(tmp_path: object) -> None:
    [problem] = problems_of(f"{tmp_path}/nowhere.yaml")

    assert problem.message == "file not found"
    assert problem.line is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "a polyaxonfile must be a mapping"),
        ("- kind: component\n", "a polyaxonfile must be a mapping"),
        ("kind: pipeline\n", "`pipeline` is not a polyaxonfile kind"),
    ],
)
def test_a_document_that_is_no_polyaxonfile_says_so(write_file: WriteFile, text: str, message: str) -> None:
    [problem] = problems_of(write_file(text))

    assert problem.message == message


def test_problems_in_a_referenced_file_name_that_file(write_file: WriteFile) -> None:
    component = write_file(
        """
        kind: component
        run:
          kind: job
          container: {image: busybox, tty: yes-please}
        """,
        name="components/broken.yaml",
    )
    operation = write_file("kind: operation\npathRef: components/broken.yaml\n")

    [problem] = problems_of(operation)

    assert problem.file == str(component.resolve())
    assert (problem.path, problem.line) == ("run.container.tty", 4)


def test_problems_in_stored_data_name_the_source_without_a_line() -> None:
    with pytest.raises(PolyaxonfileError) as caught:
        parse_operation({"kind": "operation", "component": {"run": {"kind": "job"}}}, source="run 42")

    [problem] = caught.value.problems
    assert (problem.file, problem.line, problem.path) == ("run 42", None, "component.run.container")
    assert problem.message == "missing required field"


def test_a_field_of_another_section_says_where_it_belongs(write_file: WriteFile) -> None:
    path = write_file(
        """
        kind: component
        matrix: {kind: grid, params: {n: {kind: choice, value: [1]}}}
        run: {kind: job, container: {image: busybox}}
        """
    )

    [problem] = problems_of(path)

    assert problem.path == "matrix"
    assert problem.valid is not None and "belongs to an operation" in problem.valid


def test_characters_yaml_refuses_are_a_problem_not_a_crash() -> None:
    from polyaxon_core.spec import PolyaxonfileError
    from polyaxon_core.spec.loader import parse_text

    with pytest.raises(PolyaxonfileError, match="invalid YAML"):
        parse_text("name: \x07bell", "bell.yaml")


@pytest.mark.parametrize(("written", "path", "said"), [
    ("environment: {tolerations: [{key: gpu, operator: Maybe}]}",
     "run.environment.tolerations[0].operator", "`Maybe` is not a valid toleration operator"),
    ("environment: {tolerations: [{key: gpu, operator: Exists, value: a}]}",
     "run.environment.tolerations[0].value", "matches any value"),
    ("environment: {tolerations: [{key: gpu, effect: NoRun}]}",
     "run.environment.tolerations[0].effect", "`NoRun` is not a valid taint effect"),
    ("container: {image: busybox, resources: {requests: {nvidia.com/gpu: 1}}}",
     "run.container.resources.requests.nvidia.com/gpu", "needs a limit of the same amount"),
    ("container: {image: busybox, resources: {requests: {nvidia.com/gpu: 2}, limits: {nvidia.com/gpu: 1}}}",
     "run.container.resources.requests.nvidia.com/gpu", "differs from its limit"),
    ("container: {image: busybox, resources: {limits: {nvidia.com/gpu: 0.5}}}",
     "run.container.resources.limits.nvidia.com/gpu", "counted in whole devices"),
])
def test_what_a_cluster_would_refuse_is_refused_with_its_field(
    write_file: WriteFile, written: str, path: str, said: str,
) -> None:
    container = "" if written.startswith("container") else "\n          container: {image: busybox}"
    source = write_file(f"""
        version: 1.1
        kind: component
        run:
          kind: job
          {written}{container}
        """)
    [problem] = problems_of(source)
    assert problem.path == path and said in problem.message, problem


def test_a_gpu_limit_alone_or_with_an_equal_request_is_valid(write_file: WriteFile) -> None:
    source = write_file("""
        version: 1.1
        kind: component
        run:
          kind: job
          environment: {tolerations: [{key: gpu, operator: Equal, value: a, effect: NoSchedule}]}
          container:
            image: busybox
            resources: {limits: {nvidia.com/gpu: 2, cpu: 1.5}, requests: {nvidia.com/gpu: "2", cpu: 500m}}
        """)
    assert read_polyaxonfile(source).run["container"]["resources"]["limits"]["nvidia.com/gpu"] == 2
