"""The transport through a run's runner (polyaxon_core.tracking.relay), on both
databases: what a run sends lands once, what it may not send is refused."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from polyaxon_core import tracking
from polyaxon_core.db.models import Metric, Run
from polyaxon_core.db.session import get_engine, session_scope, transact
from polyaxon_core.tracking import TrackingError
from polyaxon_core.tracking.buffer import PermanentSendError
from polyaxon_core.tracking.relay import RelayBackend, RelayLost, RelayServer
from tests.tracking.helpers import tracked_run


@pytest.fixture
def run_uuid(db_url: str, polyaxon_home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    return tracked_run(db_url, monkeypatch)


@pytest.fixture
def server(run_uuid: str, db_url: str) -> Iterator[RelayServer]:
    relay = RelayServer(run_uuid, 1)
    yield relay
    relay.close()


def _points(db_url: str) -> list[tuple[str, int | None, float]]:
    with session_scope(db_url) as session:
        return [tuple(row) for row in session.execute(  # type: ignore[misc]
            select(Metric.name, Metric.step, Metric.value).order_by(Metric.step))]


def test_a_batch_sent_twice_is_stored_once(server: RelayServer, run_uuid: str, db_url: str) -> None:
    backend = RelayBackend(server.address, run_uuid)
    assert "through the run's runner" in backend.where
    backend.send_metrics("batch-1", [("loss", 1.0, 0, None), ("loss", 0.5, 1, 1.5e9)])
    backend.send_metrics("batch-1", [("loss", 1.0, 0, None), ("loss", 0.5, 1, 1.5e9)])
    assert _points(db_url) == [("loss", 0, 1.0), ("loss", 1, 0.5)]
    backend.close()


def test_the_runner_answers_only_tracking_calls_for_its_own_run(
        server: RelayServer, run_uuid: str, db_url: str) -> None:
    assert server.answer(b"not json")["error"] == "refused"
    assert server.answer(b'{"call": "send_metrics"}')["error"] == "refused"
    refused = server.answer(json.dumps({"call": "_run", "args": []}).encode())
    assert refused == {"error": "refused", "message": "'_run' is not a tracking call"}
    # the domain's refusals reach the run as what they are
    status = server.answer(json.dumps({"call": "report_status",
                                       "args": ["succeeded", "done", None]}).encode())
    assert status["error"] == "refused"
    # points go in as logged by the runner's attempt: one the run does not have is refused
    later = RelayServer(run_uuid, 5)
    try:
        backend = RelayBackend(later.address, run_uuid)
        with pytest.raises(PermanentSendError, match="no attempt 5"):
            backend.send_metrics("late", [("loss", 1.0, 0, None)])
    finally:
        later.close()
    assert _points(db_url) == []


def test_a_run_started_without_its_runner_writes_to_the_database_itself(
        run_uuid: str, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYAXON_TRACKING_SOCKET", str(tmp_path / "gone" / "tracking.sock"))
    tracking.init()
    tracking.log_metrics(step=3, loss=0.25)
    tracking.end()
    assert _points(db_url) == [("loss", 3, 0.25)]


def test_a_runner_that_goes_away_is_said_to_the_run(run_uuid: str, tmp_path: Path) -> None:
    """A stand-in runner that answers the first call, then ends its connection."""
    address = str(tmp_path / "runner.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen(1)

    def once() -> None:
        connection, _ = listener.accept()
        with connection, connection.makefile("rb") as requests:
            requests.readline()
            connection.sendall(b'{"ok": "the database"}\n')
        listener.close()

    thread = threading.Thread(target=once)
    thread.start()
    backend = RelayBackend(address, run_uuid)
    thread.join()
    with pytest.raises(TrackingError, match="could not merge json: the run's runner"):
        backend.merge_json("inputs", {"lr": 0.1})
    # points are sent again later by the buffer: the transport says the runner is away
    with pytest.raises(RelayLost, match="not reachable"):
        backend.send_metrics("batch", [("loss", 1.0, 0, None)])


@pytest.mark.postgres
def test_a_forked_child_opens_its_own_database_connections(postgres_database: str) -> None:
    """The runner of a Celery worker is forked from a process with open connections: it
    must not talk on the parent's."""
    transact(postgres_database, lambda session: session.execute(select(func.count(Run.id))))
    pool = get_engine(postgres_database).pool
    open_here = pool.checkedin()
    assert open_here >= 1
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        os.write(write, str(get_engine(postgres_database).pool.checkedin()).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as answer:
        inherited = answer.read()
    os.waitpid(pid, 0)
    assert inherited == "0"
    assert pool.checkedin() == open_here  # the parent's connections are still the parent's
    transact(postgres_database, lambda session: session.execute(select(func.count(Run.id))))
