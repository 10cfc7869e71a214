"""Run leases: how a worker that executes an attempt and the orchestrator that watches it
agree, through the database, on who started it and what became of it.

A scheduler that hands runs to workers (a Celery worker on another machine) cannot poll
a process; it reads the attempt's lease (:class:`~polyaxon_core.db.models.RunLease`):

* :func:`take` is the fence. A worker inserts the lease before it starts anything; the
  row is unique per ``(run, attempt)``, so a task delivered twice (a broker's
  at-least-once delivery, a resend) finds it taken and starts nothing. The orchestrator
  takes it too, with a final status, to cancel an attempt no worker started yet.
* :func:`beat` is the worker's heartbeat; it answers with what the orchestrator asks of
  the attempt (``term``, ``kill``), or ``lost`` once the orchestrator gave up on it.
* :func:`finish` records the final status the worker observed; the orchestrator applies
  it through the one writer of run state, like any scheduler's observation.
* :func:`expire` is the orchestrator's side of a heartbeat that stopped: the attempt is
  failed with the reason, and a worker that was only cut off finds it ``lost`` and kills
  what it still runs.

Neither side ever writes the run's status here: the lease is what the worker *reports*.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from polyaxon_core.db.models import Run, RunLease, utcnow
from polyaxon_core.entities import StatusUpdate

#: the reason of an attempt whose worker stopped heartbeating
LOST = "worker lost"


def take(session: Session, run_id: int, attempt: int, worker: str, pid: int | None = None,
         outcome: str | None = None, reason: str | None = None,
         message: str | None = None) -> RunLease | None:
    """Insert the lease of ``attempt`` of run ``run_id`` for ``worker``; None when it is
    taken already. With an ``outcome`` (a final status), the attempt is closed before any
    worker started it (the orchestrator cancelling it).

    One statement (an insert that does nothing on the ``(run, attempt)`` conflict) on the
    databases that have it, PostgreSQL and SQLite; a savepoint around the insert on the
    others."""
    now = utcnow()
    values = {"run_id": run_id, "attempt": attempt, "worker": worker, "pid": pid,
              "outcome": outcome, "reason": reason, "message": message, "started_at": now,
              "heartbeat_at": now, "finished_at": now if outcome is not None else None}
    dialect = session.get_bind().dialect.name
    if dialect in _INSERTS and session.get_bind().dialect.insert_returning:
        insert = importlib.import_module(_INSERTS[dialect]).insert
        statement = (insert(RunLease).values(**values)
                     .on_conflict_do_nothing(index_elements=["run_id", "attempt"])
                     .returning(RunLease))
        return session.scalar(statement)
    lease = RunLease(**values)
    try:
        with session.begin_nested():
            session.add(lease)
    except IntegrityError:
        return None
    return lease


#: where each database's insert that can skip a conflicting row is
_INSERTS = {"postgresql": "sqlalchemy.dialects.postgresql",
            "sqlite": "sqlalchemy.dialects.sqlite"}


def held(session: Session, run_id: int, attempt: int, worker: str) -> bool:
    """Whether ``worker`` holds the open lease of ``attempt`` of run ``run_id``: a take
    whose commit went through though its connection was lost before the answer."""
    return session.scalar(select(RunLease.id).where(
        RunLease.run_id == run_id, RunLease.attempt == attempt, RunLease.worker == worker,
        RunLease.outcome.is_(None))) is not None


def read(session: Session, attempts: Mapping[str, int]) -> dict[str, tuple[int, RunLease | None]]:
    """For each run uuid of ``attempts`` that exists, its id and the lease of the attempt
    ``attempts`` names (None while no worker took it), in one query."""
    if not attempts:
        return {}
    rows = session.execute(select(Run.uuid, Run.id, RunLease)
                           .outerjoin(RunLease, RunLease.run_id == Run.id)
                           .where(Run.uuid.in_(list(attempts)))).all()
    found: dict[str, tuple[int, RunLease | None]] = {}
    for uuid, run_id, lease in rows:
        if lease is not None and lease.attempt == attempts[uuid]:
            found[uuid] = (run_id, lease)
        else:
            found.setdefault(uuid, (run_id, None))
    return found


def beat(session: Session, run_id: int, attempt: int) -> str | None:
    """Record that the attempt's worker is alive; what is asked of it: ``term`` or
    ``kill`` (a stop), ``lost`` (the orchestrator gave up on it), or None."""
    lease = session.scalar(select(RunLease).where(RunLease.run_id == run_id,
                                                  RunLease.attempt == attempt))
    if lease is None:
        return "lost"
    if lease.outcome is not None:
        return "lost"
    lease.heartbeat_at = utcnow()
    return lease.stop


def finish(session: Session, run_id: int, attempt: int, observed: StatusUpdate) -> bool:
    """Record the final status the worker observed; False when the orchestrator closed
    the attempt first (it expired, or was cancelled)."""
    done = session.execute(
        update(RunLease)
        .where(RunLease.run_id == run_id, RunLease.attempt == attempt, RunLease.outcome.is_(None))
        .values(outcome=observed.status, reason=observed.reason, message=observed.message,
                exit_code=observed.exit_code, finished_at=utcnow(), heartbeat_at=utcnow()))
    return bool(getattr(done, "rowcount", 0))


def request_stop(session: Session, run_id: int, attempt: int, force: bool) -> None:
    """Ask the attempt's worker to stop it: gracefully, or at once (``force``)."""
    session.execute(
        update(RunLease)
        .where(RunLease.run_id == run_id, RunLease.attempt == attempt, RunLease.outcome.is_(None))
        .values(stop="kill" if force else "term"))


def silent(lease: RunLease, timeout: float, now: datetime | None = None) -> bool:
    """Whether ``lease`` is open and its worker has not heartbeaten for ``timeout`` seconds."""
    return lease.outcome is None and (now or utcnow()) - lease.heartbeat_at > timedelta(seconds=timeout)


def expire(session: Session, lease: RunLease, timeout: float, now: datetime | None = None) -> bool:
    """Close ``lease`` as failed if its worker has not heartbeaten for ``timeout``
    seconds; whether it did (a compare-and-set: a lease the worker just finished stays
    as it finished it)."""
    now = now or utcnow()
    if not silent(lease, timeout, now):
        return False
    message = (f"worker {lease.worker} stopped heartbeating (last at "
               f"{lease.heartbeat_at.isoformat(timespec='seconds')}, more than {timeout:g}s ago: "
               "POLYAXON_HEARTBEAT_TIMEOUT)")
    done = session.execute(
        update(RunLease)
        .where(RunLease.id == lease.id, RunLease.outcome.is_(None),
               RunLease.heartbeat_at == lease.heartbeat_at)
        .values(outcome="failed", reason=LOST, message=message, finished_at=now))
    if not getattr(done, "rowcount", 0):
        return False
    session.refresh(lease)
    return True


def observed(lease: RunLease, run_uuid: str) -> StatusUpdate:
    """What a closed lease reports of its run."""
    assert lease.outcome is not None
    return StatusUpdate(run_uuid, lease.outcome, reason=lease.reason, message=lease.message,
                        exit_code=lease.exit_code)
