"""Orchestrator replicas on one PostgreSQL database: claims, fences and faults.

Every replica is a real ``polyaxon scheduler`` process (or, for an interleaving that
timing alone cannot produce, two real orchestrators in this process); the database is
this machine's PostgreSQL; the runs are real processes of the local scheduler.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text

from polyaxon_core.testing.scheduler import wait_until
from tests.conftest import _empty_postgres
from tests.orchestrator.conftest import FILES, POLYAXON, Cli, run_state, wait_final, wait_for

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(home: Path, postgres_database: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The home's database is this test session's PostgreSQL one, emptied; orchestrators
    are started by the test only."""
    _empty_postgres(postgres_database)
    monkeypatch.setenv("POLYAXON_DB_URL", postgres_database)
    monkeypatch.setenv("POLYAXON_ORCHESTRATOR", "external")
    return postgres_database


@pytest.fixture
def cli(pg: str, cli: Cli) -> Cli:
    return cli


class Replica:
    """One ``polyaxon scheduler`` process, its output in the home's ``replica-N.log``."""

    def __init__(self, home: Path, number: int) -> None:
        self.log = home / f"replica-{number}.log"
        # named in pg_stat_activity, with the processes of its runs
        env = {**os.environ, "PGAPPNAME": "polyaxon-replica"}
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen([POLYAXON, "scheduler"], stdout=log,
                                            stderr=subprocess.STDOUT, env=env)
        self.pid = self.process.pid

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(30)


@pytest.fixture
def replicas(home: Path, pg: str) -> Iterator[Callable[[], Replica]]:
    started: list[Replica] = []

    def start() -> Replica:
        started.append(Replica(home, len(started) + 1))
        return started[-1]

    yield start
    for replica in started:
        replica.kill()


def _submit(cli: Cli, *args: str) -> str:
    return str(json.loads(cli("run", *args, "-o", "json").stdout)["uuid"])


def _scheduled_by(uuid: str) -> Counter[int]:
    """How many trials of the sweep ``uuid`` each orchestrator (by pid) scheduled."""
    from polyaxon_core.config import load_settings
    from polyaxon_core.db.models import Run, RunStatusCondition
    from polyaxon_core.db.session import session_scope
    from polyaxon_core.domain.listing import get_run

    with session_scope(load_settings().db_url) as session:
        sweep = get_run(session, uuid)
        messages = session.scalars(
            select(RunStatusCondition.message).join(Run, Run.id == RunStatusCondition.run_id)
            .where(Run.pipeline_id == sweep.id, RunStatusCondition.status == "scheduled")).all()
    return Counter(int(str(message).rsplit(":", 1)[1]) for message in messages)


def _assert_every_trial_ran_once(uuid: str, record: Path, trials: int) -> None:
    """The sweep succeeded with ``trials`` trials, and each trial's process started once,
    went through each status once, and stored each metric point once."""
    from polyaxon_core.config import load_settings
    from polyaxon_core.db.models import Metric
    from polyaxon_core.db.session import session_scope

    state = run_state(uuid)
    assert state["status"] == "succeeded", state["conditions"]
    children = state["children"]
    assert sorted(child["matrix_index"] for child in children) == list(range(trials))
    with session_scope(load_settings().db_url) as session:
        points = dict(session.execute(
            select(Metric.run_id, func.count()).group_by(Metric.run_id)).all())
    for child in children:
        trial = run_state(child["uuid"])
        statuses = Counter(status for status, _reason, _message in trial["conditions"])
        assert trial["status"] == "succeeded", trial["conditions"]
        assert statuses["scheduled"] == statuses["running"] == statuses["succeeded"] == 1, statuses
        assert (record / f"{child['uuid']}.starts").read_text().count("\n") == 1
        assert points[_row(child["uuid"])[0]] == 6  # three steps of two metrics, once each


def test_claiming_is_one_replica_at_a_time(pg: str) -> None:
    from polyaxon_core.db.claims import critical_section
    from polyaxon_core.db.session import session_scope

    with session_scope(pg) as first:
        assert critical_section(first, "claim-queued")
        with session_scope(pg) as second:
            assert not critical_section(second, "claim-queued")  # skipped, not waited for
            assert critical_section(second, "another-section")
    with session_scope(pg) as third:  # released with the transaction
        assert critical_section(third, "claim-queued")


def test_a_run_locked_by_another_transaction_is_skipped(cli: Cli, pg: str) -> None:
    from polyaxon_core.config import load_settings
    from polyaxon_core.orchestrator import Orchestrator

    locked = _submit(cli, "-f", str(FILES / "task.yaml"))
    free = _submit(cli, "-f", str(FILES / "task.yaml"))
    engine = create_engine(pg)
    try:
        with engine.begin() as other:  # e.g. a request stopping it, not yet committed
            other.execute(text("SELECT id FROM runs WHERE uuid = :uuid FOR UPDATE"), {"uuid": locked})
            orchestrator = Orchestrator(load_settings())
            done = threading.Event()
            thread = threading.Thread(target=lambda: (orchestrator.schedule(), done.set()))
            thread.start()
            # bounded: a claim that waited on the lock would never finish while it is held
            assert done.wait(60), "the orchestrator waited for a row another transaction holds"
            thread.join()
        assert run_state(locked)["status"] == "queued"
        assert run_state(free)["status"] in {"starting", "running", "succeeded"}
        orchestrator.schedule()  # released: claimed on the next pass
        wait_for(locked, lambda state: state["status"] != "queued", timeout=10)
    finally:
        engine.dispose()
    for uuid in (locked, free):
        wait_until(lambda uuid=uuid: run_state(uuid)["status"] in {"succeeded", "failed"}, 120,
                   what=f"run {uuid} to end", step=orchestrator.tick)
        assert run_state(uuid)["status"] == "succeeded"


def test_an_observation_of_a_run_that_moved_meanwhile_is_not_applied(cli: Cli, tmp_path: Path) -> None:
    """Replica A polls a failed first attempt; replica B applies it first (the run is
    retried: queued again). A's now stale "failed" must not end the retried run."""
    from polyaxon_core.config import load_settings
    from polyaxon_core.orchestrator import Orchestrator

    uuid = _submit(cli, "-f", str(FILES / "retries.yaml"), "-P", "fail_attempts=1",
                   "-P", f"record_dir={tmp_path / 'record'}")
    first, second = Orchestrator(load_settings()), Orchestrator(load_settings())
    first.schedule()
    wait_for(uuid, lambda state: state["status"] in {"starting", "running"})
    control = Path(_row(uuid)[1]["control_dir"])
    wait_for(uuid, lambda _state: (control / "exit.json").exists())
    polled = first.scheduler.sync
    seen: list[Any] = []

    def sync_then_let_the_other_replica_go_first(active: Any) -> Any:
        updates = polled(active)
        seen.extend(update.status for update in updates)
        second.reconcile()  # B applies the same failure: retry, queued again
        return updates

    first.scheduler.sync = sync_then_let_the_other_replica_go_first  # type: ignore[method-assign]
    first.reconcile()
    assert seen == ["failed"]
    state = run_state(uuid)
    assert state["status"] == "queued", state["conditions"]
    assert [status for status, *_ in state["conditions"]].count("failed") == 0
    first.scheduler.sync = polled  # type: ignore[method-assign]
    wait_until(lambda: run_state(uuid)["status"] in {"succeeded", "failed"}, 120,
               what="the retried run to end", step=first.tick)
    final = run_state(uuid)
    assert final["status"] == "succeeded" and final["retries"] == 1, final["conditions"]


def test_a_second_replica_is_refused_on_sqlite_and_joins_on_postgresql(
        home: Path, replicas: Callable[[], Replica], monkeypatch: pytest.MonkeyPatch) -> None:
    first = replicas()
    wait_until(lambda: "orchestrator started" in first.log.read_text(), 120,
               what="the first replica to start")
    joined = subprocess.run([POLYAXON, "scheduler", "--once"], capture_output=True, text=True,
                            timeout=120, env=os.environ.copy())
    assert joined.returncode == 0, joined.stderr
    assert f"another orchestrator (pid {first.pid})" in joined.stderr
    assert "further replica" in joined.stderr
    first.kill()
    sqlite_home = home.parent / "sqlite-home"
    monkeypatch.setenv("POLYAXON_HOME", str(sqlite_home))
    monkeypatch.delenv("POLYAXON_DB_URL")
    holder = subprocess.Popen([POLYAXON, "scheduler"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert holder.stderr is not None
        assert "orchestrator started" in holder.stderr.readline()
        refused = subprocess.run([POLYAXON, "scheduler", "--once"], capture_output=True, text=True,
                                 timeout=120, env=os.environ.copy())
    finally:
        holder.send_signal(signal.SIGTERM)
        holder.wait(30)
    assert refused.returncode == 1
    assert f"an orchestrator is already running for {sqlite_home}" in refused.stderr
    assert "replicas need a PostgreSQL POLYAXON_DB_URL" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_two_replicas_never_overshoot_a_quota(
        cli: Cli, replicas: Callable[[], Replica], tmp_path: Path) -> None:
    from tests.orchestrator.test_quotas import _most_at_once

    cli("quotas", "create", "pair", "--project", "tests", "--max-runs", "2")
    record = tmp_path / "record"
    uuid = _submit(cli, "-f", str(FILES / "sweep8.yaml"), "-P", "sleep=0.3",
                   "-P", f"record_dir={record}")
    replicas(), replicas()
    assert wait_final(uuid, timeout=300)["status"] == "succeeded"
    assert _most_at_once(record) == 2


@pytest.mark.slow
def test_killing_one_replica_during_a_sweep_loses_and_repeats_nothing(
        cli: Cli, replicas: Callable[[], Replica], tmp_path: Path) -> None:
    record = tmp_path / "record"
    first = replicas()
    uuid = _submit(cli, "-f", str(FILES / "sweep50.yaml"), "-P", f"record_dir={record}")
    wait_until(lambda: _scheduled_by(uuid)[first.pid] > 0, 120, what="the first replica to claim a trial")
    second = replicas()
    wait_until(lambda: _scheduled_by(uuid)[second.pid] > 0, 120,
               what="the second replica to claim a trial")
    wait_until(lambda: sum(1 for child in run_state(uuid)["children"]
                           if child["status"] == "succeeded") >= 15, 120, what="15 trials to succeed")
    first.process.send_signal(signal.SIGKILL)  # mid-sweep, whatever it was doing
    first.kill()
    wait_final(uuid, timeout=600)
    _assert_every_trial_ran_once(uuid, record, 50)
    by = _scheduled_by(uuid)
    assert set(by) == {first.pid, second.pid} and sum(by.values()) == 50
    assert "Traceback" not in second.log.read_text()


def test_killing_replicas_each_time_a_dag_moves_neither_repeats_nor_loses_an_operation(
        cli: Cli, replicas: Callable[[], Replica], tmp_path: Path) -> None:
    from polyaxon_core.lifecycle import is_final
    from tests.orchestrator.test_dags import DAGS, assert_the_chain_ran_once, progress

    record = tmp_path / "record"
    uuid = _submit(cli, "-f", str(DAGS / "chain.yaml"), "-P", f"record={record}")
    running = [replicas(), replicas()]

    kills, seen = 0, progress(run_state(uuid))
    while True:
        # each time the DAG moved, the older replica dies at once (mid-pass, mid-launch) and
        # a new one joins: two are always serving it
        state = wait_for(uuid, lambda current, before=seen: progress(current) != before, timeout=120)
        seen = progress(state)
        if is_final(state["status"]):
            break
        running.pop(0).kill()
        running.append(replicas())
        kills += 1
    assert kills >= 10
    assert_the_chain_ran_once(cli, uuid, state, record)


@pytest.mark.slow
def test_a_sweep_completes_while_postgresql_terminates_every_connection(
        cli: Cli, replicas: Callable[[], Replica], tmp_path: Path, pg: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from polyaxon_core.db.session import get_engine

    record = tmp_path / "record"
    uuid = _submit(cli, "-f", str(FILES / "sweep50.yaml"), "-P", f"record_dir={record}")
    started = [replicas(), replicas()]
    # this test's own reads are left alone: they watch, they are not under test
    monkeypatch.setenv("PGAPPNAME", "polyaxon-test")
    get_engine(pg).dispose()
    engine = create_engine(pg, isolation_level="AUTOCOMMIT")
    terminated = 0
    finished = threading.Event()

    def terminate_everything() -> None:
        nonlocal terminated
        with engine.connect() as admin:
            while not finished.wait(0.5):  # paces the faults; nothing waits on it
                terminated += int(admin.scalar(text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name = 'polyaxon-replica'"
                )) or 0)

    chaos = threading.Thread(target=terminate_everything)
    chaos.start()
    try:
        wait_final(uuid, timeout=600)
    finally:
        finished.set()
        chaos.join()
        engine.dispose()
    assert terminated > 20
    _assert_every_trial_ran_once(uuid, record, 50)
    for replica in started:  # a lost connection is one line in the log, not a traceback
        log = replica.log.read_text()
        assert "lost the database connection" in log and "Traceback" not in log, log


def _row(uuid: str) -> tuple[int, dict[str, Any]]:
    """The run's id and scheduler handle."""
    from polyaxon_core.config import load_settings
    from polyaxon_core.db.session import session_scope
    from polyaxon_core.domain.listing import get_run

    with session_scope(load_settings().db_url) as session:
        run = get_run(session, uuid)
        return run.id, dict(run.scheduler_handle or {})
