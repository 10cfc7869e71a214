"""Project commands and the CLI's error contract: a message and an exit code, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

POLYAXON = str(Path(sys.executable).parent / "polyaxon")


def polyaxon(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([POLYAXON, *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


@pytest.fixture(autouse=True)
def _home(polyaxon_home: Path) -> Path:
    return polyaxon_home


def test_project_create_list_get_delete() -> None:
    created = polyaxon("project", "create", "mnist", "--description", "digits", "--tags", "a,b")
    assert created.returncode == 0, created.stderr
    listed = json.loads(polyaxon("project", "ls", "-o", "json").stdout)
    assert [p["name"] for p in listed["results"]] == ["mnist"]
    shown = json.loads(polyaxon("project", "get", "mnist", "-o", "json").stdout)
    assert shown["description"] == "digits" and shown["tags"] == ["a", "b"] and shown["runs"] == 0
    assert polyaxon("project", "delete", "mnist", "-y").returncode == 0
    assert json.loads(polyaxon("project", "ls", "-o", "json").stdout)["count"] == 0


def test_creating_an_existing_project_says_so() -> None:
    assert polyaxon("project", "create", "mnist").returncode == 0
    again = polyaxon("project", "create", "mnist")
    assert again.returncode == 1
    assert "already exists" in again.stderr


@pytest.mark.parametrize(
    ("args", "env", "code", "message"),
    [
        (("project", "get", "nope"), {}, 1, "polyaxon project create nope"),
        (("project", "create", "Bad Name"), {}, 1, "is not valid"),
        (("ops", "get", "zz"), {}, 1, "is not a run uuid"),
        (("ops", "get", "abcdef12"), {}, 1, "no run 'abcdef12'"),
        (("project", "ls"), {"POLYAXON_DB_URL": "definitely not a url"}, 2, "POLYAXON_DB_URL"),
        (("project", "ls"), {"POLYAXON_DB_URL": "postgresql://nobody@127.0.0.1:1/none"}, 1,
         "cannot open the database"),
        (("project", "ls"), {"POLYAXON_DB_URL": "mysql+nodriver://x@localhost/db"}, 2, "no driver"),
        (("ops", "ls"), {"POLYAXON_CONCURRENCY": "many"}, 2, "POLYAXON_CONCURRENCY"),
        (("run", "-f", "/no/such/file.yaml", "-p", "x"), {}, 1, "no such file"),
        (("run", "-f", __file__, "-P", "novalue", "-p", "x"), {}, 1, "is not NAME=VALUE"),
        (("queues", "set", "q", "--concurrency", "0"), {}, 1, "at least 1"),
    ],
)
def test_failures_are_messages_with_exit_codes(
    args: tuple[str, ...], env: dict[str, str], code: int, message: str
) -> None:
    result = polyaxon(*args, env=env)
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_init_creates_the_database_and_sets_the_folders_project(tmp_path: Path) -> None:
    result = subprocess.run([POLYAXON, "init", "-p", "demo"], capture_output=True, text=True,
                            cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / ".polyaxon" / "project.json").read_text()) == {"name": "demo"}
    shown = subprocess.run([POLYAXON, "ops", "ls", "-o", "json"], capture_output=True, text=True,
                           cwd=tmp_path, timeout=60)
    assert shown.returncode == 0 and json.loads(shown.stdout)["count"] == 0


def test_delete_of_a_project_asks_for_confirmation() -> None:
    polyaxon("project", "create", "keep")
    result = subprocess.run([POLYAXON, "project", "delete", "keep"], input="n\n",
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "not confirmed; nothing was changed" in result.stderr
    assert polyaxon("project", "get", "keep").returncode == 0


def _queued_run(folder: Path) -> str:
    polyaxon("project", "create", "keep")
    (folder / "job.yaml").write_text("kind: component\nrun:\n  kind: job\n  container:\n"
                                     "    command: [echo, hi]\n")
    created = polyaxon("run", "-f", str(folder / "job.yaml"), "-p", "keep", "-o", "json",
                       env={"POLYAXON_ORCHESTRATOR": "external"})
    return str(json.loads(created.stdout)["uuid"])


@pytest.mark.parametrize("command", [("ops", "stop"), ("ops", "delete"), ("project", "delete")])
def test_a_confirmation_without_a_terminal_asks_for_yes_and_changes_nothing(
    command: tuple[str, ...], tmp_path: Path
) -> None:
    uuid = _queued_run(tmp_path)
    target = "keep" if command[0] == "project" else uuid
    result = subprocess.run([POLYAXON, *command, target], stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "POLYAXON_ORCHESTRATOR": "external"})
    assert result.returncode == 1, result.stderr
    assert "pass -y (--yes)" in result.stderr and "Aborted" not in result.stderr
    shown = json.loads(polyaxon("ops", "get", uuid, "-o", "json").stdout)
    assert shown["status"] == "queued"


def test_a_confirmation_piped_in_is_accepted(tmp_path: Path) -> None:
    uuid = _queued_run(tmp_path)
    result = subprocess.run([POLYAXON, "ops", "stop", uuid], input="y\n", capture_output=True,
                            text=True, timeout=60,
                            env={**os.environ, "POLYAXON_ORCHESTRATOR": "external"})
    assert result.returncode == 0, result.stderr
    assert json.loads(polyaxon("ops", "get", uuid, "-o", "json").stdout)["status"] in {
        "stopping", "stopped"}


def _in(folder: Path, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([POLYAXON, *args], capture_output=True, text=True, cwd=folder,
                          timeout=120, env={**os.environ, "POLYAXON_HOME": str(home),
                                            "POLYAXON_ORCHESTRATOR": "external"})


def test_one_folder_with_two_homes(tmp_path: Path) -> None:
    folder, first, second = tmp_path / "work", tmp_path / "first", tmp_path / "second"
    folder.mkdir()
    (folder / "job.yaml").write_text("kind: component\nrun:\n  kind: job\n  container:\n"
                                     "    command: [echo, hi]\n")
    assert _in(folder, "init", "-p", "alpha", home=first).returncode == 0
    assert _in(folder, "project", "create", "beta", home=second).returncode == 0
    created = _in(folder, "run", "-f", "job.yaml", "-p", "beta", "-o", "json", home=second)
    uuid = json.loads(created.stdout)["uuid"]

    # commands that do not need the folder's project work in the other home
    assert _in(folder, "project", "ls", home=second).returncode == 0
    shown = _in(folder, "ops", "get", uuid, "-o", "json", home=second)
    assert shown.returncode == 0 and json.loads(shown.stdout)["project"] == "beta"
    assert _in(folder, "ops", "ls", "-p", "beta", home=second).returncode == 0

    # those that do say where the name came from and how to change it
    project_file = str(folder / ".polyaxon" / "project.json")
    for args in (("ops", "ls"), ("run", "-f", "job.yaml")):
        result = _in(folder, *args, home=second)
        assert result.returncode == 1
        assert "project 'default/alpha' does not exist" in result.stderr
        assert project_file in result.stderr and "polyaxon init -p NAME" in result.stderr
        assert "Traceback" not in result.stderr


def test_a_missing_project_from_the_environment_names_the_variable() -> None:
    result = polyaxon("ops", "ls", env={"POLYAXON_PROJECT": "nowhere"})
    assert result.returncode == 1
    assert "comes from POLYAXON_PROJECT" in result.stderr


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("ops", "ls"), {"POLYAXON_PROJECT": "acme/mnist"},
         "POLYAXON_PROJECT: unknown owner 'acme'"),
        (("project", "get", "-p", "acme/mnist"), {}, "-p: unknown owner 'acme'"),
        (("project", "ls", "--owner", "acme"), {}, "--owner: unknown owner 'acme'"),
        (("project", "create"), {}, "which project?"),
        (("ops", "get"), {}, "which run?"),
        (("ops", "get", "abcdef12", "-uid", "12345678"), {}, "two runs given"),
        (("ops", "logs", "abcdef12", "--follow", "--no-follow"), {}, "contradict"),
        (("project", "update", "-p", "mnist"), {}, "nothing to update"),
    ],
)
def test_official_spellings_refuse_what_they_cannot_mean(
    args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    result = polyaxon(*args, env=env)
    assert result.returncode == 1, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
