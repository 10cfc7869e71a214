"""The Celery scheduler under faults: a worker killed mid-run, a broker restarted."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from polyaxon_core.testing.scheduler import wait_until
from tests.orchestrator.celery.conftest import HEARTBEAT_TIMEOUT, RabbitMQ, Redis, Worker, _leases, _write
from tests.orchestrator.conftest import FILES, Cli, run_state, wait_for
from tests.orchestrator.test_replicas import Replica, _assert_every_trial_ran_once, _submit

pytestmark = pytest.mark.postgres


def test_a_killed_worker_fails_its_run_within_the_heartbeat_bound_and_the_retry_succeeds(
    broker: Redis | RabbitMQ, cli: Cli, workers: Callable[..., Worker], orchestrator: Replica,
    home: Path,
) -> None:
    marks = home / "marks"
    marks.mkdir()
    # the first attempt starts a child process, records both pids and hangs; the next one
    # succeeds
    script = (
        "import os, time, pathlib, subprocess\n"
        f"marks = pathlib.Path({str(marks)!r})\n"
        "attempt = os.environ['POLYAXON_RUN_ATTEMPT']\n"
        "child = subprocess.Popen(['sleep', '600']) if attempt == '1' else None\n"
        "if child: (marks / 'child').write_text(str(child.pid))\n"
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
    child = int((marks / "child").read_text())
    first.kill()
    # the command and its child died with their worker: nothing of the first attempt runs on
    wait_until(lambda: not Path(f"/proc/{pid}").exists(), 30, what="the first attempt's process to die")
    wait_until(lambda: not Path(f"/proc/{child}").exists(), 30, what="the first attempt's child to die")
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


def test_a_broker_restarted_while_runs_wait_and_run_loses_none(
    broker: Redis | RabbitMQ, cli: Cli, workers: Callable[..., Worker], orchestrator: Replica,
    home: Path,
) -> None:
    record = home / "record"
    workers()
    workers()
    uuid = _submit(cli, "-f", str(FILES / "sweep8.yaml"), "-P", f"record_dir={record}",
                   "-P", "sleep=2")

    def some_run_and_some_wait() -> bool:
        statuses = [child["status"] for child in run_state(uuid)["children"]]
        return "running" in statuses and "starting" in statuses

    # trials run on the workers, the others wait in the broker: then it restarts (Redis,
    # without persistence, losing what it held)
    wait_until(some_run_and_some_wait, 120, what="trials running and trials waiting")
    broker.restart()
    wait_for(uuid, lambda state: state["status"] in {"succeeded", "failed", "stopped"}, 180)
    _assert_every_trial_ran_once(uuid, record, 8)


def test_a_sweep_on_workers_completes_while_postgresql_terminates_every_connection(
    redis: Redis, cli: Cli, workers: Callable[..., Worker], orchestrator: Replica, home: Path,
    pg: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from polyaxon_core.db.session import get_engine

    record = home / "record"
    monkeypatch.setenv("PGAPPNAME", "polyaxon-worker")
    started = [workers(), workers()]
    # this test's own reads are left alone: they watch, they are not under test
    monkeypatch.setenv("PGAPPNAME", "polyaxon-test")
    get_engine(pg).dispose()
    uuid = _submit(cli, "-f", str(FILES / "sweep8.yaml"), "-P", f"record_dir={record}",
                   "-P", "sleep=0.5")
    engine = create_engine(pg, isolation_level="AUTOCOMMIT")
    terminated: Counter[str] = Counter()
    finished = threading.Event()

    def terminate_everything() -> None:
        with engine.connect() as admin:
            while not finished.wait(0.3):  # paces the faults; nothing waits on it
                for name, ended in admin.execute(text(
                        "SELECT application_name, pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() "
                        "AND application_name IN ('polyaxon-replica', 'polyaxon-worker')")):
                    terminated[name] += int(bool(ended))

    chaos = threading.Thread(target=terminate_everything)
    chaos.start()
    try:
        wait_for(uuid, lambda state: state["status"] in {"succeeded", "failed", "stopped"}, 300)
    finally:
        finished.set()
        chaos.join()
        engine.dispose()
    # the workers' connections (their tasks' starts, heartbeats and ends, their runs'
    # tracking calls) were cut as well as the orchestrator's, and every trial ran once
    assert terminated["polyaxon-worker"] > 5 and terminated["polyaxon-replica"] > 5, terminated
    _assert_every_trial_ran_once(uuid, record, 8)
    assert {lease[3] for lease in _leases()} == {"succeeded"}
    for worker in started:  # each lost connection was taken up again, not raised
        assert "Traceback" not in worker.log.read_text()
