"""Acceptance: the official Polyaxon client (2.x, in ``.venv-official``) drives our server.

A real `polyaxon server` on a free port with its own home; the official CLI with its own
home and ``POLYAXON_HOST`` / ``POLYAXON_AUTH_TOKEN``: it creates and lists a project,
runs a job that really executes, lists, reads, follows the statuses and logs of it, and
stops a long-running job.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from polyaxon_core import accounts
from polyaxon_core.db.session import migrate, session_scope
from tests.api.servers import BIN, Served, environment, serving, stop_orchestrator

pytestmark = pytest.mark.official

OFFICIAL = Path(__file__).resolve().parents[2] / ".venv-official" / "bin" / "polyaxon"
JOB = Path(__file__).parent / "files" / "job.yaml"

Official = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Served, str]]:
    """Our server, and a token of an organization member created with the accounts module."""
    home = tmp_path / "server-home"
    url = f"sqlite:///{home / 'polyaxon.db'}"
    migrate(url)
    with session_scope(url) as session:
        user = accounts.create_user(session, "ada", "long enough password", organization_role="member")
        _, key = accounts.issue_token(session, user)
    env = environment(home, POLYAXON_IDLE_EXIT="5", POLYAXON_STOP_GRACE_PERIOD="2")
    command = [str(BIN / "polyaxon"), "server", "--port", "0"]
    try:
        with serving(command, env, r"serving the API on (http://\S+)/api/v1") as server:
            yield server, key
    finally:
        stop_orchestrator(home)


@pytest.fixture
def official(served: tuple[Served, str], tmp_path: Path) -> Official:
    """Run the official CLI against our server; it reads no configuration of this machine."""
    server, token = served
    client_home = tmp_path / "client-home"
    client_home.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(client_home),
           "POLYAXON_HOME": str(client_home / ".polyaxon"), "POLYAXON_HOST": server.url,
           "POLYAXON_AUTH_TOKEN": token, "COLUMNS": "200", "NO_COLOR": "1"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(OFFICIAL), *args], env=env, capture_output=True, text=True,
                                timeout=300, cwd=client_home)
        assert result.returncode == 0, (
            f"polyaxon {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result

    return run


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout[result.stdout.index("{"):])


def _wait_for(official: Official, uuid: str, statuses: set[str], timeout: float = 120) -> dict[str, Any]:
    """Poll the run through the official client until its status is one of ``statuses``."""
    deadline = time.monotonic() + timeout
    while True:
        run: dict[str, Any] = _json(official("ops", "get", "-p", "acceptance", "-uid", uuid, "-o", "json"))
        if run["status"] in statuses:
            return run
        assert time.monotonic() < deadline, f"run {uuid} stayed {run['status']}"
        time.sleep(0.5)


def _uuid_of(official: Official, name: str) -> str:
    runs = _json(official("ops", "ls", "-p", "acceptance", "-q", f"name:{name}", "-o", "json"))
    assert runs["count"] == 1, runs
    return str(runs["results"][0]["uuid"])


def test_the_official_client_creates_runs_that_execute_and_reads_them_back(official: Official) -> None:
    created = official("project", "create", "--name", "acceptance", "--description", "official")
    assert "Project `acceptance` was created successfully" in created.stdout
    assert "acceptance" in official("project", "ls").stdout

    ran = official("run", "-f", str(JOB), "-p", "acceptance", "--name", "greet",
                   "-P", "greeting=bonjour")
    assert "A new run was created" in ran.stdout
    uuid = _uuid_of(official, "greet")
    run = _wait_for(official, uuid, {"succeeded", "failed", "stopped"})
    assert run["status"] == "succeeded", run
    assert run["inputs"] == {"greeting": "bonjour", "sleep": 0.0}
    assert run["user"] == "ada" and run["duration"] is not None

    listed = official("ops", "ls", "-p", "acceptance").stdout
    assert uuid in listed and "succeeded" in listed
    shown = official("ops", "get", "-p", "acceptance", "-uid", uuid).stdout
    assert "greet" in shown and "succeeded" in shown
    statuses = official("ops", "statuses", "-p", "acceptance", "-uid", uuid).stdout
    for status in ("created", "queued", "running", "succeeded"):
        assert status in statuses
    logs = official("ops", "logs", "-p", "acceptance", "-uid", uuid).stdout
    assert "bonjour from the job" in logs and "done" in logs


def test_the_official_client_stops_a_long_running_job(official: Official) -> None:
    official("project", "create", "--name", "acceptance")
    official("run", "-f", str(JOB), "-p", "acceptance", "--name", "sleeper", "-P", "sleep=600")
    uuid = _uuid_of(official, "sleeper")
    _wait_for(official, uuid, {"running"})
    # the job printed its first line before sleeping; the official client reads it live
    deadline = time.monotonic() + 60
    while "hello from the job" not in official("ops", "logs", "-p", "acceptance", "-uid", uuid,
                                               "--no-follow").stdout:
        assert time.monotonic() < deadline, "the live log never showed the first line"
        time.sleep(0.5)
    official("ops", "stop", "-p", "acceptance", "-uid", uuid, "-y")
    run = _wait_for(official, uuid, {"stopped", "failed", "succeeded"}, timeout=60)
    assert run["status"] == "stopped"
    assert run["duration"] < 600


def test_the_official_sdk_logs_in_with_a_password_and_its_key_works(
    served: tuple[Served, str], tmp_path: Path
) -> None:
    server, _ = served
    login = (
        "from polyaxon._client.client import PolyaxonClient\n"
        "from polyaxon._schemas.authentication import V1Credentials\n"
        "answer = PolyaxonClient().auth_v1.login(\n"
        "    body=V1Credentials(username='ada', password='long enough password'))\n"
        "print(answer.token)\n"
    )
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "POLYAXON_HOME": str(tmp_path / "sdk"),
           "POLYAXON_HOST": server.url}
    result = subprocess.run([str(OFFICIAL.parent / "python"), "-c", login], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip().splitlines()[-1]
    status, me = server.request("GET", "/api/v1/users", key)
    assert (status, me["username"]) == (200, "ada")
