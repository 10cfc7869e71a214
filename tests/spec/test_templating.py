"""Templates: names checked when the file is checked, values rendered Polyaxon-style."""

from __future__ import annotations

from typing import Any

import pytest

from polyaxon_core.entities import ContainerSpec
from polyaxon_core.spec import OperationSpec, PolyaxonfileError, Problem, parse_operation

from .conftest import WriteFile


def operation(
    container: dict[str, Any], inputs: list[dict[str, Any]] | None = None, **extra: Any
) -> OperationSpec:
    return parse_operation(
        {
            "kind": "operation",
            **extra,
            "component": {
                "inputs": inputs or [],
                "run": {"kind": "job", "container": {"image": "busybox", **container}},
            },
        }
    )


def problems(
    container: dict[str, Any], inputs: list[dict[str, Any]] | None = None, **extra: Any
) -> list[Problem]:
    with pytest.raises(PolyaxonfileError) as caught:
        operation(container, inputs, **extra)
    return caught.value.problems


LR = [{"name": "learning_rate", "type": "float", "value": 0.1}]


def test_an_unknown_name_is_reported_with_the_closest_input() -> None:
    [problem] = problems({"args": ["--lr={{ learning_rte }}"]}, LR)

    assert problem.path == "component.run.container.args[0]"
    assert problem.message == "the template refers to `learning_rte`, which is not an input or output"
    assert problem.valid is not None and problem.valid.startswith("did you mean `learning_rate`?")


def test_an_unknown_global_is_reported_with_the_globals() -> None:
    [problem] = problems({"args": ["--out={{ globals.run_output_path }}"]})

    assert problem.message == "`globals.run_output_path` is not a Polyaxon global"
    assert problem.valid is not None and problem.valid.startswith("did you mean `run_outputs_path`?")


def test_params_of_unknown_names_are_reported() -> None:
    [problem] = problems({"args": ["{{ params.lr.as_arg }}"]}, LR)

    assert problem.message == "`params.lr` is not an input, output or param"


def test_a_template_syntax_error_is_reported() -> None:
    [problem] = problems({"command": ["echo", "{{ learning_rate }"]}, LR)

    assert problem.path == "component.run.container.command[1]"
    assert problem.message.startswith("template syntax error")


def test_templates_anywhere_in_the_run_are_checked() -> None:
    [problem] = problems({"env": [{"name": "A", "value": "{{ missing }}"}]}, LR)

    assert problem.path == "component.run.container.env[0].value"


def test_inputs_outputs_context_params_loops_and_filters_are_known_names() -> None:
    spec = operation(
        {
            "command": [
                "run",
                "{{ learning_rate }}",
                "{{ result }}",
                "{{ group }}",
                "{% for item in [1, 2] %}{{ item }}{% endfor %}",
                "{{ globals.uuid | upper }}",
                "{{ params.learning_rate.as_str }}",
            ]
        },
        [*LR, {"name": "result", "type": "path", "value": "out"}],
        params={"group": {"value": "a", "contextOnly": True}},
    )

    assert spec.component.inputs[0].name == "learning_rate"


INPUTS = [
    {"name": "lr", "type": "float", "value": 0.5},
    {"name": "epochs", "type": "int", "value": 3},
    {"name": "fast", "type": "bool", "value": True, "isFlag": True},
    {"name": "slow", "type": "bool", "value": False, "isFlag": True},
    {"name": "layers", "type": "int", "isList": True, "value": [8, 4]},
    {"name": "config", "type": "dict", "value": {"a": 1}},
    {"name": "name", "type": "str", "isOptional": True},
    {"name": "shout", "type": "bool", "value": True},
    {"name": "sep", "type": "str", "value": "x", "argFormat": "--separator {{ sep }}"},
]


def render(
    container: dict[str, Any], *, globals: dict[str, Any] | None = None, **overrides: Any
) -> ContainerSpec:
    spec = operation(container, INPUTS)
    return spec.render_container(spec.resolve_inputs(overrides), globals or {})


def test_values_render_like_polyaxon() -> None:
    container = render(
        {
            "args": [
                "--lr={{ lr }}",
                "--epochs={{ epochs }}",
                "--layers={{ layers }}",
                "--config={{ config }}",
                "--shout={{ shout }}",
                "--name={{ name }}",
            ]
        }
    )

    assert container.args == (
        "--lr=0.5",
        "--epochs=3",
        "--layers=[8,4]",
        '--config={"a":1}',
        "--shout=true",
        "--name=",
    )


def test_flags_render_as_their_name_and_vanish_when_false() -> None:
    container = render({"command": ["train", "{{ fast }}", "{{ slow }}", "--end"]})

    assert container.command == ("train", "--fast", "--end")


def test_params_give_each_input_as_str_and_as_arg() -> None:
    container = render(
        {
            "args": [
                "{{ params.lr.as_arg }}",
                "{{ params.fast.as_arg }}",
                "{{ params.layers.as_str }}",
                "{{ params.sep.as_arg }}",
            ]
        }
    )

    assert container.args == ("--lr=0.5", "--fast", "[8,4]", "--separator x")


def test_overrides_and_globals_are_rendered() -> None:
    container = render(
        {
            "command": [
                "python",
                "train.py",
                "--lr={{ lr }}",
                "--out={{ globals.run_outputs_path }}/{{ globals.uuid }}",
            ]
        },
        globals={"run_outputs_path": "/outputs", "uuid": "abc"},
        lr=0.01,
    )

    assert container.command == ("python", "train.py", "--lr=0.01", "--out=/outputs/abc")


def test_a_command_written_as_one_string_is_split_like_a_shell() -> None:
    container = render({"command": "python train.py --note '{{ epochs }} epochs'"})

    assert container.command == ("python", "train.py", "--note", "3 epochs")


def test_image_env_working_dir_and_resources_are_rendered() -> None:
    container = render(
        {
            "image": "python:{{ epochs }}.11",
            "workingDir": "/work/{{ globals.name }}",
            "env": [
                {"name": "LR", "value": "{{ lr }}"},
                {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
            ],
            "resources": {"limits": {"cpu": "{{ epochs }}"}},
        },
        globals={"name": "exp"},
    )

    assert container.image == "python:3.11"
    assert container.working_dir == "/work/exp"
    assert container.env == {"LR": "0.5"}
    assert container.resources == {"limits": {"cpu": "3"}}


def test_a_name_missing_at_render_time_raises_with_its_location(write_file: WriteFile) -> None:
    from polyaxon_core.spec import read_polyaxonfile

    path = write_file(
        """
        kind: component
        inputs: [{name: lr, type: float}]
        run:
          kind: job
          container:
            image: busybox
            args: ["--lr={{ lr }}"]
        """
    )
    spec = read_polyaxonfile(path, {"lr": "0.1"})

    with pytest.raises(PolyaxonfileError) as caught:
        spec.render_container({}, {})

    [problem] = caught.value.problems
    assert (problem.file, problem.line, problem.path) == (str(path), 7, "run.container.args[0]")
    assert "'lr' is undefined" in problem.message


def test_templates_run_in_a_sandbox() -> None:
    spec = operation({"command": ["{{ lr.__class__.__mro__ }}"]}, INPUTS)

    with pytest.raises(PolyaxonfileError) as caught:
        spec.render_container(spec.resolve_inputs(), {})

    assert "unsafe" in caught.value.problems[0].message


def test_run_patch_is_applied_before_rendering() -> None:
    spec = operation(
        {"command": ["echo", "{{ lr }}"], "env": [{"name": "A", "value": "1"}]},
        INPUTS,
        runPatch={"container": {"env": [{"name": "B", "value": "{{ epochs }}"}], "workingDir": "/patched"}},
    )

    container = spec.render_container(spec.resolve_inputs(), {})

    assert container.env == {"A": "1", "B": "3"}
    assert container.working_dir == "/patched"


def test_a_dag_has_no_container_to_render() -> None:
    spec = parse_operation(
        {
            "kind": "operation",
            "component": {
                "run": {
                    "kind": "dag",
                    "operations": [
                        {"name": "a", "component": {"run": {"kind": "job", "container": {"image": "x"}}}}
                    ],
                }
            },
        }
    )

    with pytest.raises(PolyaxonfileError) as caught:
        spec.render_container({}, {})

    assert caught.value.problems[0].message == "a `dag` run has no container to render"


def test_template_values_may_only_use_the_globals() -> None:
    with pytest.raises(PolyaxonfileError) as caught:
        parse_operation(
            {
                "kind": "operation",
                "params": {"out": "{{ globals.run_outputs_path }}/{{ lr }}"},
                "component": {
                    "inputs": [
                        {"name": "lr", "type": "float", "value": 0.1},
                        {"name": "out", "type": "path"},
                        {"name": "log", "type": "path", "value": "{{ globals.run_output_path }}/log"},
                    ],
                    "run": {"kind": "job", "container": {"image": "busybox"}},
                },
            }
        )

    assert [(problem.path, problem.message) for problem in caught.value.problems] == [
        ("component.inputs[2].value", "`globals.run_output_path` is not a Polyaxon global"),
        ("params.out.value", "the template refers to `lr`, but here only globals can be used"),
    ]


def test_jinja2_is_loaded_for_the_first_template_only(tmp_path: Any) -> None:
    """A polyaxonfile without a template is checked without importing Jinja2; one with a
    template loads it, and its mistakes are still the file's problems."""
    import subprocess
    import sys

    plain = tmp_path / "plain.yaml"
    plain.write_text("version: 1.1\nkind: component\nrun:\n  kind: job\n"
                     "  container: {image: busybox, command: [echo, hello]}\n")
    templated = tmp_path / "templated.yaml"
    templated.write_text("version: 1.1\nkind: component\ninputs: [{name: n, type: int}]\n"
                         "run:\n  kind: job\n"
                         "  container: {image: busybox, command: [echo, '{{ m }}']}\n")
    code = (
        "import sys\n"
        "from polyaxon_core.spec import PolyaxonfileError, read_polyaxonfile\n"
        f"read_polyaxonfile({str(plain)!r})\n"
        "print('jinja2' in sys.modules)\n"
        "try:\n"
        f"    read_polyaxonfile({str(templated)!r})\n"
        "except PolyaxonfileError as exc:\n"
        "    print('jinja2' in sys.modules, '`m`' in str(exc))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               check=True, timeout=60)
    assert completed.stdout.splitlines() == ["False", "True True"]
