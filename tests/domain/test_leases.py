"""Run leases: an attempt is taken once, whoever asks and however often, on both backends."""

from __future__ import annotations

from sqlalchemy import func, select

from polyaxon_core.db.models import Run, RunLease
from polyaxon_core.db.session import session_scope
from polyaxon_core.domain import leases
from polyaxon_core.domain.projects import create_project


def _run(db_url: str) -> int:
    with session_scope(db_url) as session:
        run = Run(project=create_project(session, "p"), kind="job", runtime="job")
        session.add(run)
        session.flush()
        return run.id


def test_an_attempt_is_taken_once_and_the_second_taker_is_told(db_url: str) -> None:
    run_id = _run(db_url)
    with session_scope(db_url) as session:
        first = leases.take(session, run_id, 1, "worker-a", pid=11)
        assert first is not None and first.worker == "worker-a" and first.outcome is None
    with session_scope(db_url) as session:
        assert leases.take(session, run_id, 1, "worker-b", pid=12) is None
        # the refused take left the transaction usable: the next attempt is taken in it
        assert leases.take(session, run_id, 2, "worker-b", pid=12) is not None
    with session_scope(db_url) as session:
        rows = session.execute(select(RunLease.attempt, RunLease.worker).order_by(RunLease.attempt)).all()
        assert [tuple(row) for row in rows] == [(1, "worker-a"), (2, "worker-b")]


def test_an_attempt_cancelled_before_any_worker_is_closed_and_reads_as_such(db_url: str) -> None:
    run_id = _run(db_url)
    with session_scope(db_url) as session:
        run = session.get(Run, run_id)
        assert run is not None
        uuid = run.uuid
        cancelled = leases.take(session, run_id, 1, "orchestrator", outcome="stopped",
                                reason="stopped", message="stopped before a worker started it")
        assert cancelled is not None and cancelled.finished_at is not None
        assert leases.observed(cancelled, uuid).status == "stopped"
    with session_scope(db_url) as session:
        # a worker's delivery after that starts nothing
        assert leases.take(session, run_id, 1, "worker-a") is None
        found = leases.read(session, {uuid: 1, "no-such-run": 1})
        assert set(found) == {uuid}
        assert found[uuid][0] == run_id and found[uuid][1] is not None
        assert found[uuid][1].outcome == "stopped"
        assert leases.read(session, {uuid: 2}) == {uuid: (run_id, None)}
        assert session.scalar(select(func.count()).select_from(RunLease)) == 1


def test_a_worker_recognises_the_open_lease_it_took_and_no_other(db_url: str) -> None:
    from polyaxon_core.entities import StatusUpdate

    run_id = _run(db_url)
    with session_scope(db_url) as session:
        assert not leases.held(session, run_id, 1, "worker-a (pid 11)")
        assert leases.take(session, run_id, 1, "worker-a (pid 11)", pid=11) is not None
    with session_scope(db_url) as session:
        assert leases.held(session, run_id, 1, "worker-a (pid 11)")
        assert not leases.held(session, run_id, 1, "worker-b (pid 12)")
        assert not leases.held(session, run_id, 2, "worker-a (pid 11)")
        assert leases.finish(session, run_id, 1, StatusUpdate("uuid", "succeeded", exit_code=0))
    with session_scope(db_url) as session:  # an attempt that ended is nobody's to start
        assert not leases.held(session, run_id, 1, "worker-a (pid 11)")
