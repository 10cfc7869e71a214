"""The Celery scheduler on this machine's real brokers, database and processes.

Workers are real ``polyaxon worker`` processes (Celery's prefork pool), the orchestrator
a real ``polyaxon scheduler``, the database this machine's PostgreSQL. Redis is a
``redis-server`` of the test's own on a free port (so that it can be restarted, and
emptied, without touching anyone else's); RabbitMQ is this machine's server, in a
virtual host of the test's own (its restart restarts the broker's application, which
drops every connection and reloads the durable queues from disk).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid as uuid_module
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from polyaxon_core.testing.scheduler import wait_until
from tests.orchestrator.conftest import FILES, POLYAXON, Cli, run_state, wait_for
from tests.orchestrator.test_replicas import Replica, _assert_every_trial_ran_once, _submit

pytestmark = pytest.mark.postgres

#: heartbeats in these tests: every 0.3 s, a worker silent for 3 s is lost
HEARTBEAT_TIMEOUT = 3.0
#: the statuses a run passes once on its way from the queue to success
STARTED_ONCE = ("queued", "scheduled", "starting", "running", "succeeded")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Redis:
    """A ``redis-server`` of the test's own, without persistence: a restart loses what
    it held, the worst a broker can do."""

    def __init__(self, folder: Path) -> None:
        self.port = _free_port()
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
    """Every lease: (run uuid, attempt, worker, status)."""
    from polyaxon_core.config import load_settings
    from polyaxon_core.db.models import Run, RunLease
    from polyaxon_core.db.session import session_scope

    with session_scope(load_settings().db_url) as session:
        return [tuple(row) for row in session.execute(  # type: ignore[misc]
            select(Run.uuid, RunLease.attempt, RunLease.worker, RunLease.status)
            .join(Run, Run.id == RunLease.run_id).order_by(RunLease.id)).all()]


def _write(home: Path, name: str, text: str) -> Path:
    path = home / name
    path.write_text(text)
    return path


def test_a_sweep_runs_on_two_workers_once_each_over_each_broker(
    broker: Redis | RabbitMQ, cli: Cli, workers: Callable[..., Worker], orchestrator: Replica,
    home: Path,
) -> None:
    record = home / "record"
    workers()
    workers()
    uuid = _submit(cli, "-f", str(FILES / "sweep8.yaml"), "-P", f"record_dir={record}")
    wait_for(uuid, lambda state: state["status"] in {"succeeded", "failed", "stopped"}, 180)
    _assert_every_trial_ran_once(uuid, record, 8)
    children = [child["uuid"] for child in run_state(uuid)["children"]]
    leases = _leases()
    assert sorted(lease[0] for lease in leases) == sorted(children)
    assert {lease[3] for lease in leases} == {"succeeded"}
    assert {lease[2].split(" ")[0] for lease in leases} <= {"w1", "w2"}
    # the logs reach the store, and the API, like a local run's
    logs = cli("ops", "logs", children[0]).stdout
    assert f"task {children[0]} x=" in logs


def test_queues_route_runs_to_their_pool_of_workers(
    redis: Redis, cli: Cli, workers: Callable[..., Worker], orchestrator: Replica, home: Path,
) -> None:
    workers(queues="gpu")
    workers(queues="default,cpu")
    on_gpu = _submit(cli, "-f", str(FILES / "task.yaml"), "-q", "gpu")
    on_cpu = _submit(cli, "-f", str(FILES / "task.yaml"), "-q", "cpu")
    elsewhere = _submit(cli, "-f", str(FILES / "task.yaml"))
    for uuid in (on_gpu, on_cpu, elsewhere):
        assert wait_for(uuid, lambda state: state["status"] == "succeeded", 120)
    pools = {run: worker.split(" ")[0] for run, _attempt, worker, _status in _leases()}
    assert pools == {on_gpu: "w1", on_cpu: "w2", elsewhere: "w2"}


def test_a_task_delivered_three_times_starts_its_run_once(
    redis: Redis, cli: Cli, workers: Callable[..., Worker], orchestrator: Replica, home: Path,
) -> None:
    from polyaxon_schedulers.celery.options import TASK, CeleryOptions, make_app

    record = home / "record"
    uuid = _submit(cli, "-f", str(FILES / "task.yaml"), "-P", f"record_dir={record}")
    # sent by the orchestrator; no worker yet: two more deliveries of the same attempt
    wait_for(uuid, lambda state: state["status"] == "starting", 60)
    app = make_app(CeleryOptions.from_environment())
    for _ in range(2):
        app.send_task(TASK, args=[uuid, 1], queue="polyaxon.default")
    worker = workers()
    assert wait_for(uuid, lambda state: state["status"] == "succeeded", 120)
    wait_until(lambda: worker.log.read_text().count("polyaxon.execute_run") >= 6, 60, what="three deliveries")
    assert (record / f"{uuid}.starts").read_text().count("\n") == 1
    results = Counter(line.rsplit(": ", 1)[1].strip().strip("'")
                      for line in worker.log.read_text().splitlines() if "succeeded in" in line)
    # the orchestrator may have sent it once more meanwhile (no worker took it for a while)
    assert results["succeeded"] == 1 and set(results) <= {"succeeded", "duplicate", "not current"}
    assert results["duplicate"] + results["not current"] >= 2, results
    assert [lease[:2] for lease in _leases()] == [(uuid, 1)]


def test_a_killed_worker_fails_its_run_within_the_heartbeat_bound_and_the_retry_succeeds(
    broker: Redis | RabbitMQ, cli: Cli, workers: Callable[..., Worker], orchestrator: Replica,
    home: Path,
) -> None:
    marks = home / "marks"
    marks.mkdir()
    # the first attempt records its pid and hangs; the next one succeeds
    script = (
        "import os, time, pathlib\n"
        f"marks = pathlib.Path({str(marks)!r})\n"
        "attempt = os.environ['POLYAXON_RUN_ATTEMPT']\n"
        "(marks / f'attempt-{attempt}').write_text(str(os.getpid()))\n"
        "time.sleep(600 if attempt == '1' else 0)\n")
    polyaxonfile = _write(home, "hangs.yaml", json.dumps({
        "version": 1.1, "kind": "component", "name": "hangs",
        "termination": {"maxRetries": 1},
        "run": {"kind": "job", "container": {"command": ["python", "-c", script]}}}))
    first = workers()
    uuid = _submit(cli, "-f", str(polyaxonfile))
    pid = int(wait_until(lambda: (marks / "attempt-1").exists() and (marks / "attempt-1").read_text(),
                         120, what="the first attempt to start"))
    wait_for(uuid, lambda state: state["status"] == "running", 60)
    killed_at = time.time()
    first.kill()
    # the command died with its worker: nothing of the first attempt runs on
    wait_until(lambda: not Path(f"/proc/{pid}").exists(), 30, what="the first attempt's process to die")
    workers()
    state = wait_for(uuid, lambda state: state["status"] in {"succeeded", "failed"}, 120)
    assert state["status"] == "succeeded", state["conditions"]
    assert (marks / "attempt-2").exists()
    lost = [condition for condition in state["conditions"] if condition[0] == "retrying"]
    assert len(lost) == 1 and "stopped heartbeating" in lost[0][2] and "retry 1 of 1" in lost[0][2]
    assert _condition_time(uuid, "retrying") - killed_at < HEARTBEAT_TIMEOUT + 5
    assert [(attempt, status) for _uuid, attempt, _worker, status in _leases()] == [
        (1, "failed"), (2, "succeeded")]


def _condition_time(uuid: str, status: str) -> float:
    from polyaxon_core.config import load_settings
    from polyaxon_core.db.models import Run, RunStatusCondition
    from polyaxon_core.db.session import session_scope

    with session_scope(load_settings().db_url) as session:
        created = session.scalars(
            select(RunStatusCondition.created_at).join(Run, Run.id == RunStatusCondition.run_id)
            .where(Run.uuid == uuid, RunStatusCondition.status == status)).first()
    assert created is not None
    return float(created.timestamp())


def test_stops_reach_the_worker_and_a_run_stopped_before_any_worker_never_starts(
    redis: Redis, cli: Cli, workers: Callable[..., Worker], orchestrator: Replica, home: Path,
) -> None:
    record = home / "record"
    waiting = _submit(cli, "-f", str(FILES / "task.yaml"), "-P", f"record_dir={record}")
    wait_for(waiting, lambda state: state["status"] == "starting", 60)
    cli("ops", "stop", waiting, "-y")
    state = wait_for(waiting, lambda state: state["status"] == "stopped", 60)
    assert ("stopped", "stopped", "stopped before a worker started it") in state["conditions"]
    worker = workers()
    running = _submit(cli, "-f", str(FILES / "task.yaml"), "-P", "sleep=600",
                      "-P", f"record_dir={record}")
    wait_for(running, lambda state: state["status"] == "running", 120)
    cli("ops", "stop", running, "-y")
    assert wait_for(running, lambda state: state["status"] == "stopped", 60)
    # the task of the run stopped early was delivered too, and started nothing
    wait_until(lambda: "'not current'" in worker.log.read_text(), 60, what="the early task's delivery")
    assert not (record / f"{waiting}.starts").exists()
    assert (record / f"{running}.starts").read_text().count("\n") == 1


def test_a_broker_restarted_while_runs_wait_loses_none(
    broker: Redis | RabbitMQ, cli: Cli, workers: Callable[..., Worker], orchestrator: Replica,
    home: Path,
) -> None:
    record = home / "record"
    uuid = _submit(cli, "-f", str(FILES / "sweep8.yaml"), "-P", f"record_dir={record}")
    # every trial sent, none taken: then the broker restarts (Redis losing them all)
    wait_until(lambda: sum(child["status"] == "starting" for child in run_state(uuid)["children"]) == 8,
               120, what="the eight tasks to be sent")
    broker.restart()
    workers()
    workers()
    wait_for(uuid, lambda state: state["status"] in {"succeeded", "failed", "stopped"}, 180)
    _assert_every_trial_ran_once(uuid, record, 8)


def test_a_broker_restarted_while_workers_run_loses_none(
    broker: Redis | RabbitMQ, cli: Cli, workers: Callable[..., Worker], orchestrator: Replica,
    home: Path,
) -> None:
    record = home / "record"
    workers()
    workers()
    uuid = _submit(cli, "-f", str(FILES / "sweep8.yaml"), "-P", f"record_dir={record}",
                   "-P", "sleep=1")
    wait_until(lambda: any(child["status"] == "running" for child in run_state(uuid)["children"]),
               120, what="a trial to run")
    broker.restart()
    wait_for(uuid, lambda state: state["status"] in {"succeeded", "failed", "stopped"}, 180)
    _assert_every_trial_ran_once(uuid, record, 8)


@pytest.mark.slow
def test_a_thousand_short_runs_through_two_workers(
    redis: Redis, cli: Cli, workers: Callable[..., Worker], orchestrator: Replica, home: Path,
) -> None:
    from polyaxon_core.config import load_settings
    from polyaxon_core.db.models import Run, RunLease, RunStatusCondition
    from polyaxon_core.db.session import session_scope

    record = home / "record"
    polyaxonfile = _write(home, "short.yaml", json.dumps({
        "version": 1.1, "kind": "operation", "name": "short",
        "matrix": {"kind": "random", "concurrency": 16, "numRuns": 1000, "seed": 1,
                   "params": {"x": {"kind": "uniform", "value": {"low": 0, "high": 1}}}},
        "component": {"inputs": [{"name": "x", "type": "float"}], "run": {
            "kind": "job", "container": {"command": [
                "sh", "-c", f'echo "$POLYAXON_RUN_UUID" >> {record}']}}}}))
    workers(concurrency=4)
    workers(concurrency=4)
    uuid = _submit(cli, "-f", str(polyaxonfile))
    state = wait_for(uuid, lambda state: state["status"] in {"succeeded", "failed", "stopped"}, 900)
    assert state["status"] == "succeeded", state["conditions"][-3:]
    children = {child["uuid"] for child in state["children"]}
    assert len(children) == 1000
    started = Counter(record.read_text().split())
    assert set(started) == children and set(started.values()) == {1}
    with session_scope(load_settings().db_url) as session:
        statuses = Counter(session.scalars(select(Run.status).where(Run.uuid.in_(children))).all())
        leases = session.execute(select(RunLease.worker, func.count()).group_by(RunLease.worker)).all()
        conditions = session.execute(
            select(RunStatusCondition.status, func.count()).join(Run, Run.id == RunStatusCondition.run_id)
            .where(Run.uuid.in_(children)).group_by(RunStatusCondition.status)).all()
    assert statuses == Counter({"succeeded": 1000})
    # each run went through each status once; both workers took runs
    passed = dict(conditions)
    assert {status: passed.get(status) for status in STARTED_ONCE} == dict.fromkeys(STARTED_ONCE, 1000)
    assert sum(count for _worker, count in leases) == 1000
    assert {worker.split(" ")[0] for worker, _count in leases} == {"w1", "w2"}
