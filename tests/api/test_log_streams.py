"""Following logs cannot starve a server: each follow answer lasts a bounded time, the
streams a process holds are capped (in all and per user, 429 beyond), and the API keeps
answering under more viewers than the server has threads (real gunicorn)."""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from polyaxon_core import accounts
from polyaxon_core.db.session import migrate, session_scope
from polyaxon_core.domain.commands import submit_operation
from polyaxon_core.domain.projects import create_project
from polyaxon_core.domain.state import transition
from polyaxon_core.lifecycle import Status
from polyaxon_core.spec.compiler import compile_source
from polyaxon_core.spec.loader import parse_text
from tests.api.conftest import JOB
from tests.api.servers import BIN, GUNICORN_WORKER, Served, environment, serving

THREADS = 4
VIEWERS = 8  # more than the threads of the one gunicorn worker


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home with a running run (nothing executes it: the orchestrator is external) and
    users `v0`..`v7` with a token each, saved in ``tokens.json``."""
    home = tmp_path / "home"
    url = f"sqlite:///{home / 'polyaxon.db'}"
    migrate(url)
    tokens = {}
    with session_scope(url) as session:
        project = create_project(session, "p")
        run = submit_operation(session, project, compile_source(parse_text(JOB, "job.yaml")),
                               default_concurrency=2, raw_content=JOB)
        session.flush()
        for step in ("scheduled", "starting", "running"):
            assert transition(session, run, Status(step))
        uuid = run.uuid
        for index in range(VIEWERS):
            user = accounts.create_user(session, f"v{index}", "long enough password",
                                        organization_role="viewer")
            tokens[user.username] = accounts.issue_token(session, user)[1]
    (home / "tokens.json").write_text(json.dumps({"run": uuid, "tokens": tokens}))
    return home


def _setup(home: Path) -> tuple[str, dict[str, str]]:
    saved = json.loads((home / "tokens.json").read_text())
    return str(saved["run"]), dict(saved["tokens"])


@pytest.fixture
def gunicorn(home: Path) -> Iterator[Served]:
    env = environment(home, POLYAXON_ORCHESTRATOR="external", POLYAXON_LOG_STREAM_SECONDS="60",
                      POLYAXON_MAX_LOG_STREAMS="2", POLYAXON_MAX_LOG_STREAMS_PER_USER="1")
    # the streams last 60 s; once the test is done, its worker need not wait for them
    command = [str(BIN / "gunicorn"), "-w", "1", "-k", GUNICORN_WORKER, "--threads", str(THREADS),
               "--graceful-timeout", "1", "-b", "127.0.0.1:0", "polyaxon_core.api.app:create_app()"]
    with serving(command, env, r"Listening at: (http://\S+) ") as served:
        yield served


def _follow(served: Served, uuid: str, token: str) -> tuple[http.client.HTTPConnection,
                                                             http.client.HTTPResponse]:
    """Open a follow stream and read its status line and headers (not its body)."""
    url = urllib.parse.urlsplit(served.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    connection.request("GET", f"/api/v1/default/p/runs/{uuid}/logs?follow=true",
                       headers={"Authorization": f"Token {token}"})
    return connection, connection.getresponse()


def _answers_within(served: Served, path: str, token: str, deadline: float) -> int:
    """The status of ``GET path`` once the server answers, retrying until ``deadline``."""
    url = urllib.parse.urlsplit(served.url)
    while True:
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=2)
        try:
            connection.request("GET", path, headers={"Authorization": f"Token {token}"})
            return connection.getresponse().status
        except TimeoutError:
            assert time.monotonic() < deadline, f"GET {path} got no answer"
        finally:
            connection.close()


def test_more_viewers_than_threads_leave_the_api_answering(gunicorn: Served, home: Path) -> None:
    uuid, tokens = _setup(home)
    streams = [_follow(gunicorn, uuid, token) for token in tokens.values()]
    try:
        statuses = [answer.status for _, answer in streams]
        assert statuses.count(200) == 2 and statuses.count(429) == VIEWERS - 2, statuses
        refused = next(answer for _, answer in streams if answer.status == 429)
        error = json.loads(refused.read())
        assert "POLYAXON_MAX_LOG_STREAMS" in error["message"] and refused.getheader("Retry-After")
        # the streams that were let in hold 2 of the 4 threads: the rest of the API answers
        deadline = time.monotonic() + 30
        token = tokens["v0"]
        assert _answers_within(gunicorn, "/api/v1/default/p/runs", token, deadline) == 200
        assert _answers_within(gunicorn, f"/api/v1/default/p/runs/{uuid}", token, deadline) == 200
    finally:
        for connection, _ in streams:
            connection.close()


def test_a_user_may_hold_only_so_many_streams(home: Path) -> None:
    uuid, tokens = _setup(home)
    env = environment(home, POLYAXON_ORCHESTRATOR="external", POLYAXON_LOG_STREAM_SECONDS="2",
                      POLYAXON_MAX_LOG_STREAMS_PER_USER="2")
    with serving([str(BIN / "polyaxon"), "server", "--port", "0"], env,
                 r"serving the API on (http://\S+)/api/v1") as served:
        first, second, third = (_follow(served, uuid, tokens["v1"]) for _ in range(3))
        assert (first[1].status, second[1].status, third[1].status) == (200, 200, 429)
        error = json.loads(third[1].read())
        assert "v1" in error["message"] and "POLYAXON_MAX_LOG_STREAMS_PER_USER" in error["message"]
        # another user is not counted against v1
        other = _follow(served, uuid, tokens["v2"])
        assert other[1].status == 200
        # a follow answer ends by itself (the run goes on); its place is free again
        assert first[1].read() == b"" and second[1].read() == b""
        again = _follow(served, uuid, tokens["v1"])
        assert again[1].status == 200
        for connection, _ in (first, second, third, other, again):
            connection.close()
