"""The culling controller against a real HTTP service whose answers the test sets: what
a probe's answer means, and a service in use is never culled."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from polyaxon_core.config import Settings
from polyaxon_core.db.models import Run
from polyaxon_core.db.session import migrate, session_scope
from polyaxon_core.domain.commands import submit_operation
from polyaxon_core.domain.projects import create_project
from polyaxon_core.domain.state import transition
from polyaxon_core.lifecycle import Status
from polyaxon_core.orchestrator.culling import CullingController
from polyaxon_core.spec.compiler import compile_source
from polyaxon_core.spec.loader import parse_text

SERVICE = """
kind: component
termination:
  culling: {timeout: 60}
  probe: {http: {path: "{{ globals.base_url }}/api/status", port: 8888}}
run:
  kind: service
  ports: [8888]
  container: {command: [jupyter, lab]}
"""
STARTED = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


class Answer:
    """What the service answers its probe with, set by the test."""

    code = 200
    body: Any = {"last_activity": None}
    asked: list[str] = []


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        Answer.asked.append(self.path)
        payload = Answer.body if isinstance(Answer.body, bytes) else json.dumps(Answer.body).encode()
        self.send_response(Answer.code)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def service() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Answer.asked = []
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def _settings(home: Path) -> Settings:
    return Settings(home=home, db_url=f"sqlite:///{home / 'polyaxon.db'}", scheduler="local",
                    store="local")


def _running_service(settings: Settings, port: int) -> str:
    settings.home.mkdir(parents=True, exist_ok=True)
    migrate(settings.db_url)
    with session_scope(settings.db_url) as session:
        project = create_project(session, "notebooks")
        run = submit_operation(session, project, compile_source(parse_text(SERVICE, "service.yaml")),
                               default_concurrency=2, raw_content=SERVICE)
        session.flush()
        for step in ("scheduled", "starting", "running"):
            assert transition(session, run, Status(step))
        run.started_at = STARTED
        run.scheduler_handle = {"service": {"host": "127.0.0.1", "ports": {"8888": port}}}
        return run.uuid


def _status(settings: Settings, uuid: str) -> tuple[str, list[tuple[str, str | None]]]:
    with session_scope(settings.db_url) as session:
        run = session.scalar(select(Run).where(Run.uuid == uuid))
        assert run is not None
        return run.status, [(c.status, c.reason) for c in run.conditions]


def _culling(home: Path, port: int, seconds: float
             ) -> tuple[Settings, str, list[datetime], CullingController]:
    """A running service of ``home`` listening on ``port``, the clock ``seconds`` after
    its start (a list: the test moves it) and a culling controller reading that clock."""
    settings = _settings(home)
    uuid = _running_service(settings, port)
    now = [STARTED + timedelta(seconds=seconds)]
    return settings, uuid, now, CullingController(settings, {}, lambda run: home / run,
                                                  clock=lambda: now[0])


def test_a_service_in_use_is_kept_and_one_idle_past_its_timeout_is_culled(
    tmp_path: Path, service: int
) -> None:
    settings, uuid, now, culling = _culling(tmp_path, service, 50)

    # used 10 s ago: kept; the probe asked the path its template names, on the service's port
    Answer.body = {"last_activity": (now[0] - timedelta(seconds=10)).isoformat()}
    culling.control_all()
    assert _status(settings, uuid)[0] == "running"
    assert Answer.asked == [f"/services/v1/local/default/notebooks/runs/{uuid}/8888/api/status"]
    # 70 s later, still used 30 s before: kept
    now[0] += timedelta(seconds=70)
    Answer.body = {"last_activity": (now[0] - timedelta(seconds=30)).isoformat()}
    culling.control_all()
    assert _status(settings, uuid)[0] == "running"
    # an error answer says nothing new: idle since the last activity it reported
    now[0] += timedelta(seconds=31)
    Answer.code = 500
    culling.control_all()

    status, conditions = _status(settings, uuid)
    assert status == "stopping"
    assert conditions[-1] == ("stopping", "culled")


def test_a_plain_answer_means_in_use_and_no_answer_means_idle_since_the_start(
    tmp_path: Path, service: int
) -> None:
    settings, uuid, now, culling = _culling(tmp_path, service, 59)
    Answer.code, Answer.body = 200, b"<html>ok</html>"

    culling.control_all()  # answered: active now
    now[0] += timedelta(seconds=59)
    culling.control_all()
    assert _status(settings, uuid)[0] == "running"

    settings_gone = _settings(tmp_path / "other")
    gone = _running_service(settings_gone, 1)  # nothing listens on port 1: never answers
    late = CullingController(settings_gone, {}, lambda run: tmp_path / run,
                             clock=lambda: STARTED + timedelta(seconds=61))
    late.control_all()
    status, conditions = _status(settings_gone, gone)
    assert status == "stopping" and conditions[-1] == ("stopping", "culled")
