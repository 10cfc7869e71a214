"""What the Celery scheduler's tests share: this machine's real brokers, database and processes.

Workers are real ``polyaxon worker`` processes (Celery's prefork pool), the orchestrator
a real ``polyaxon scheduler``, the database this machine's PostgreSQL. Redis is a
``redis-server`` of the test's own on a free port (so that it can be restarted, and
emptied, without touching anyone else's); RabbitMQ is this machine's server, in a
virtual host of the test's own (its restart restarts the broker's application, which
drops every connection and reloads the durable queues from disk).
"""

from __future__ import annotations

import os
import subprocess
import uuid as uuid_module
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from polyaxon_core.testing.scheduler import wait_until
from tests.client.conftest import free_port
from tests.orchestrator.conftest import POLYAXON, Cli
from tests.orchestrator.test_replicas import Replica

#: heartbeats in these tests: every 0.3 s, a worker silent for 3 s is lost
HEARTBEAT_TIMEOUT = 3.0
#: the statuses a run passes once on its way from the queue to success
STARTED_ONCE = ("queued", "scheduled", "starting", "running", "succeeded")


class Redis:
    """A ``redis-server`` of the test's own, without persistence: a restart loses what
    it held, the worst a broker can do."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: subprocess.run(["redis-cli", "-p", str(self.port), "ping"],
                                          capture_output=True, text=True).stdout.strip() == "PONG",
                   30, what="redis to answer")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)

    def restart(self) -> None:
        self.stop()
        self.start()


class RabbitMQ:
    """A virtual host of this machine's RabbitMQ for one test."""

    def __init__(self) -> None:
        self.vhost = f"polyaxon-test-{uuid_module.uuid4().hex[:8]}"
        self._ctl("add_vhost", self.vhost)
        self._ctl("set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*")

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:5672/{self.vhost}"

    @staticmethod
    def _ctl(*args: str) -> None:
        subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=120)

    def restart(self) -> None:
        self._ctl("stop_app")
        self._ctl("start_app")
        self._ctl("await_startup")

    def stop(self) -> None:
        self._ctl("delete_vhost", self.vhost)


@pytest.fixture
def pg(home: Path, postgres_database: str, monkeypatch: pytest.MonkeyPatch) -> str:
    from tests.conftest import _empty_postgres

    _empty_postgres(postgres_database)
    monkeypatch.setenv("POLYAXON_DB_URL", postgres_database)
    monkeypatch.setenv("POLYAXON_ORCHESTRATOR", "external")
    monkeypatch.setenv("POLYAXON_SCHEDULER", "celery")
    monkeypatch.setenv("POLYAXON_HEARTBEAT_INTERVAL", "0.3")
    monkeypatch.setenv("POLYAXON_HEARTBEAT_TIMEOUT", str(HEARTBEAT_TIMEOUT))
    monkeypatch.setenv("POLYAXON_CELERY_RESEND_AFTER", "2")
    monkeypatch.setenv("POLYAXON_CONCURRENCY", "8")
    monkeypatch.setenv("POLYAXON_MAX_CONCURRENCY", "16")
    return postgres_database


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request: pytest.FixtureRequest, pg: str, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Redis | RabbitMQ]:
    server: Redis | RabbitMQ = Redis(tmp_path) if request.param == "redis" else RabbitMQ()
    monkeypatch.setenv("POLYAXON_BROKER_URL", server.url)
    yield server
    server.stop()


@pytest.fixture
def redis(pg: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Redis]:
    server = Redis(tmp_path)
    monkeypatch.setenv("POLYAXON_BROKER_URL", server.url)
    yield server
    server.stop()


@pytest.fixture
def cli(pg: str, cli: Cli) -> Cli:
    return cli


class Worker:
    """One ``polyaxon worker`` process, its output in the home's ``<name>.log``."""

    def __init__(self, home: Path, name: str, queues: str, concurrency: int) -> None:
        self.name = name
        self.log = home / f"{name}.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [POLYAXON, "worker", "--queues", queues, "--concurrency", str(concurrency),
                 "--name", name], stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
        wait_until(lambda: " ready." in self.log.read_text() or self.process.poll() is not None,
                   60, what=f"worker {name} to be ready")
        assert self.process.poll() is None, self.log.read_text()

    def kill(self) -> None:
        """SIGKILL to the worker's main process only: what dies with it must die by itself."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(30)


@pytest.fixture
def workers(home: Path, pg: str) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(queues: str = "default", concurrency: int = 2) -> Worker:
        started.append(Worker(home, f"w{len(started) + 1}", queues, concurrency))
        return started[-1]

    yield start
    for worker in started:
        worker.kill()


@pytest.fixture
def orchestrator(home: Path, pg: str) -> Iterator[Replica]:
    replica = Replica(home, 1)
    yield replica
    replica.kill()


def _leases() -> list[tuple[str, int, str, str | None]]:
    """Every lease: (run uuid, attempt, worker, outcome)."""
    from polyaxon_core.config import load_settings
    from polyaxon_core.db.models import Run, RunLease
    from polyaxon_core.db.session import session_scope

    with session_scope(load_settings().db_url) as session:
        return [tuple(row) for row in session.execute(  # type: ignore[misc]
            select(Run.uuid, RunLease.attempt, RunLease.worker, RunLease.outcome)
            .join(Run, Run.id == RunLease.run_id).order_by(RunLease.id)).all()]


def _write(home: Path, name: str, text: str) -> Path:
    path = home / name
    path.write_text(text)
    return path
