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
    assert result.returncode == 130 and "Aborted" in result.stderr
    assert polyaxon("project", "get", "keep").returncode == 0
