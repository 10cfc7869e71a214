"""``polyaxon check``: exit codes, the summary of a valid file, the report of an invalid one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from polyaxon_core.cli import cli

from .conftest import WriteFile
from .helpers import CORPUS, line_of


def check(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["check", *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_a_valid_file_exits_0_with_a_summary() -> None:
    code, output = check("-f", str(CORPUS / "valid" / "operation-pathref.yaml"))

    assert code == 0
    assert "operation-pathref.yaml is valid." in output
    assert "operation (run: job)" in output
    assert "train-from-file" in output
    assert "batch_size = 64  [int, from params]" in output
    assert "learning_rate = 0.01  [float, from default]" in output


def test_a_sweep_summary_gives_the_matrix_and_its_search_space() -> None:
    code, output = check("-f", str(CORPUS / "valid" / "matrix-mapping.yaml"))

    assert code == 0
    assert "learning_rate = (set by the matrix)" in output
    assert "mapping, search space: 3 combinations" in output


def test_an_invalid_file_exits_1_and_lists_every_problem(write_file: WriteFile) -> None:
    path = write_file(
        """
        kind: component
        inputs: [{name: n, type: int, value: x}]
        run:
          kind: jobb
          container: {image: busybox}
        """
    )

    code, output = check("-f", str(path))

    assert code == 1
    lines = output.splitlines()
    assert lines[0] == f"{path} is not valid: 2 problems."
    assert lines[1] == (
        f"  {path}:2: inputs[0].value: 'x' (str) is not a valid `int`: expected a whole number; "
        "valid: a whole number"
    )
    assert lines[2].startswith(
        f"  {path}:{line_of(path, 'jobb')}: run.kind: `jobb` is not a valid run kind; "
        "valid: did you mean `job`?"
    )


def test_json_output_of_a_valid_file() -> None:
    code, output = check("-f", str(CORPUS / "valid" / "matrix-grid-string-forms.yaml"), "-o", "json")

    report = json.loads(output)
    assert code == 0
    assert (report["valid"], report["problems"]) == (True, [])
    summary = report["summary"]
    assert (summary["kind"], summary["name"], summary["run_kind"]) == ("operation", "grid-strings", "job")
    assert summary["matrix"] == {
        "kind": "grid",
        "search_space_size": 3 * 4 * 3 * 4,
        "num_runs": None,
        "concurrency": None,
    }
    assert {entry["name"]: entry["from"] for entry in summary["inputs"]} == {
        "epochs": "matrix",
        "dropout": "matrix",
        "learning_rate": "matrix",
        "momentum": "matrix",
    }


def test_json_output_of_an_invalid_file() -> None:
    path = CORPUS / "invalid" / "matrix-random-missing-num-runs.yaml"

    code, output = check("-f", str(path), "-o", "json")

    report = json.loads(output)
    assert code == 1
    assert report["valid"] is False
    assert report["summary"] is None
    assert report["problems"] == [
        {
            "file": str(path),
            "line": line_of(path, "matrix:"),
            "path": "matrix.numRuns",
            "message": "missing required field",
            "valid": "an integer >= 1",
        }
    ]


def test_a_missing_file_is_a_clear_message(tmp_path: Path) -> None:
    code, output = check("-f", str(tmp_path / "absent.yaml"))

    assert code == 1
    assert f"{tmp_path / 'absent.yaml'}: file not found" in output


def test_params_are_converted_and_their_problems_reported(write_file: WriteFile) -> None:
    path = write_file(
        """
        kind: component
        inputs: [{name: epochs, type: int}]
        run: {kind: job, container: {image: busybox, command: [echo, "{{ epochs }}"]}}
        """
    )

    valid_code, valid_output = check("-f", str(path), "-P", "epochs=4")
    invalid_code, invalid_output = check("-f", str(path), "-P", "epochs=four", "-P", "lr")

    assert valid_code == 0
    assert "epochs = 4  [int, from params]" in valid_output
    assert invalid_code == 1
    assert f"{path}: -P lr: a param is written NAME=VALUE" in invalid_output
    assert f"{path}: -P epochs: 'four' is not a valid `int`" in invalid_output


def test_further_files_are_presets_patched_onto_the_first(write_file: WriteFile) -> None:
    base = write_file("kind: component\nname: base\nrun: {kind: job, container: {image: busybox}}\n")
    preset = write_file("name: patched\n", name="preset.yaml")

    code, output = check("-f", str(base), "-f", str(preset), "-o", "json")

    assert code == 0
    assert json.loads(output)["summary"]["name"] == "patched"


def test_the_installed_command_exits_with_the_verdict() -> None:
    polyaxon = Path(sys.executable).parent / "polyaxon"

    valid = subprocess.run(
        [polyaxon, "check", "-f", CORPUS / "valid" / "component-service.yaml"],
        capture_output=True,
        text=True,
        check=False,
    )
    invalid = subprocess.run(
        [polyaxon, "check", "-f", CORPUS / "invalid" / "bad-yaml-syntax.yaml"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert (valid.returncode, invalid.returncode) == (0, 1)
    assert "invalid YAML" in invalid.stdout
    assert "Traceback" not in invalid.stdout + invalid.stderr


def test_help_does_not_import_the_schemas() -> None:
    code = (
        "import sys\n"
        "from polyaxon_core.cli import cli\n"
        "try:\n"
        "    cli.main(['--help'], prog_name='polyaxon')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('marshmallow' in sys.modules, 'polyaxon_core.spec' in sys.modules)\n"
    )

    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert completed.stdout.splitlines()[-1] == "False False"
