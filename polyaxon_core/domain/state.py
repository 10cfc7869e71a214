"""The single writer of a run's status.

A run is born through :func:`born`, which writes it at the status it starts in; every
status change after that, whoever asks for it (the CLI, the API, the orchestrator, a
scheduler, a worker), goes through :func:`transition`: it consults the lifecycle table,
moves the row with a compare-and-set (``UPDATE runs SET status = :new WHERE id = :id AND
status = :expected``), records the condition in the run's timeline, keeps the timestamps
right, revokes the run's tokens when it ends, and queues the events plugins hear about
after the commit. Two processes racing on a run cannot both move it: the second one's
``UPDATE`` matches no row, and it sees the status the first one wrote.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from itertools import pairwise
from typing import Any, cast

from sqlalchemy import CursorResult, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from polyaxon_core.db.convert import run_to_entity
from polyaxon_core.db.models import ApiToken, Run, RunStatusCondition, new_uuid, utcnow
from polyaxon_core.events import has_listeners, queue_event
from polyaxon_core.lifecycle import Status, can_transition, is_final

logger = logging.getLogger(__name__)

_RUNS, _TOKENS = cast(Table, Run.__table__), cast(Table, ApiToken.__table__)
#: built once: every status change of every run goes through these (a busy orchestrator
#: moves a run a few times a second), so only their parameters are made each time. The
#: SET clause of the move is the parameters' columns.
_MOVE = update(_RUNS).where(_RUNS.c.id == bindparam("_run"), _RUNS.c.status == bindparam("_previous"))
_REVOKE = (update(_TOKENS).where(_TOKENS.c.run_id == bindparam("_run"), _TOKENS.c.revoked_at.is_(None))
           .values(revoked_at=bindparam("_now")))
_TIMELINE = insert(cast(Table, RunStatusCondition.__table__))


def transition(
    session: Session,
    run: Run,
    status: str | Status,
    reason: str | None = None,
    message: str | None = None,
    at: datetime | None = None,
    changes: Mapping[str, Any] | None = None,
) -> bool:
    """Move ``run`` to ``status`` if the lifecycle allows it; return whether it moved.

    ``at`` is when it happened, when that was earlier than now (a run tracked offline,
    stored later): the status's time, and the run's start or end. ``changes``: other
    columns of the run to set with the status, in the same statement, and only if it
    moves (what the orchestrator records as it claims, launches or queues a run).

    The move is a compare-and-set against the status ``run`` holds: when another process
    changed the row since it was read, nothing is written, ``run`` is refreshed to the
    stored status and False is returned. An illegal transition is logged and not applied.
    """
    status = Status(status)
    previous = run.status
    if previous == status:
        return False
    if not can_transition(previous, status):
        logger.warning(
            "refused illegal transition of run %s: %s -> %s (%s)", run.uuid, previous, status,
            reason or "no reason given",
        )
        return False
    now = utcnow()
    when = at or now
    values: dict[str, Any] = {**(changes or {}), "status": status.value, "updated_at": now}
    if status == Status.RUNNING and run.started_at is None:
        values["started_at"] = when
        values["wait_time"] = (when - run.created_at).total_seconds()
    if status == Status.RESUMING:
        values.update(finished_at=None, duration=None, stop_requested_at=None)
    if is_final(status):
        values["finished_at"] = when
        started_at = values.get("started_at", run.started_at)
        if started_at is not None:
            values["duration"] = (when - started_at).total_seconds()
    result = session.execute(_MOVE, {**values, "_run": run.id, "_previous": previous})
    if cast(CursorResult[Any], result).rowcount != 1:
        session.refresh(run)
        logger.info("run %s was no longer %s (now %s): %s not applied", run.uuid, previous,
                    run.status, status.value)
        return False
    # the row moved: the object in this session follows without another read
    for column, value in values.items():
        set_committed_value(run, column, value)
    if is_final(status):
        # the tokens issued to the run's attempts: nothing may act as the run once it ended
        session.execute(_REVOKE, {"_run": run.id, "_now": now})
    # the timeline's entry in one statement (no unit of work to sort out: a run moves a
    # few times a second under a busy orchestrator)
    session.execute(_TIMELINE, {"run_id": run.id, "status": status.value, "reason": reason,
                                "message": message, "created_at": when})
    if "conditions" in run.__dict__:  # the timeline loaded in this session: read again
        session.expire(run, ["conditions"])
    changed = has_listeners("polyaxon_on_run_status_changed")
    done = is_final(status) and has_listeners("polyaxon_on_run_done")
    if changed or done:  # events nobody hears are not built
        entity = run_to_entity(run)
        if changed:
            queue_event(session, "polyaxon_on_run_status_changed", run=entity, previous=previous,
                        status=status.value)
        if done:
            queue_event(session, "polyaxon_on_run_done", run=entity)
    if is_final(status):
        from polyaxon_core.domain.notifications import queue_notifications

        # owed in this transaction: a notification is owed once, whoever ended the run
        queue_notifications(session, run, status.value)
    return True


def born(session: Session, runs: Sequence[Run], path: Sequence[tuple[Status, str]]) -> None:
    """Add the new ``runs`` to ``session`` at the last status of ``path`` (pairs of a
    status and its reason, from ``created``), the timeline of each holding every step.

    No other process can see a run before it is committed, so there is nothing to
    compare and set: the rows are inserted at their starting status (in one flush, however
    many) and their timelines in one more statement, instead of an ``UPDATE`` and an
    ``INSERT`` per step. The events are those the steps would have queued one by one
    (``created``, then each status change).
    """
    statuses = _birth_statuses(path)
    now = utcnow()
    for run in runs:
        run.status, run.created_at, run.updated_at = statuses[-1].value, now, now
    session.add_all(runs)
    session.flush()
    _timelines(session, [run.id for run in runs], path, now)
    if _birth_heard():
        _birth_events(session, runs, statuses)


def born_in_bulk(session: Session, rows: Sequence[Mapping[str, Any]],
                 path: Sequence[tuple[Status, str]]) -> list[int]:
    """:func:`born` for runs given as the values of their columns, however many (a DAG's
    operations): inserted in batches of many rows a statement, and no object made of them
    unless a plugin hears the events; their ids, in the order of ``rows``. (The unit of
    work :func:`born` goes through costs more per row than the insert itself.)"""
    statuses = _birth_statuses(path)
    if not rows:
        return []
    now = utcnow()
    # each row's uuid made here: the ids come back by it, in batches of many rows a
    # statement (asking for them in the rows' order would insert one row a statement on SQLite)
    values = [{"uuid": new_uuid(), **row, "status": statuses[-1].value, "created_at": now,
               "updated_at": now} for row in rows]
    by_uuid = {uuid: run_id for uuid, run_id in session.execute(insert(Run).returning(Run.uuid, Run.id),
                                                                 values)}
    ids = [by_uuid[value["uuid"]] for value in values]
    _timelines(session, ids, path, now)
    if _birth_heard():
        runs = {run.id: run for run in session.scalars(select(Run).where(Run.id.in_(ids)))}
        _birth_events(session, [runs[run_id] for run_id in ids], statuses)
    return ids


def _birth_statuses(path: Sequence[tuple[Status, str]]) -> list[Status]:
    """The statuses of ``path``, checked: from ``created``, each move allowed."""
    statuses = [status for status, _ in path]
    if not statuses or statuses[0] != Status.CREATED:
        raise ValueError(f"a run is born created, not {statuses[:1]}")
    for previous, status in pairwise(statuses):
        if not can_transition(previous, status):
            raise ValueError(f"a run cannot be born through {previous.value} -> {status.value}")
    return statuses


def _timelines(session: Session, ids: Sequence[int], path: Sequence[tuple[Status, str]],
               now: datetime) -> None:
    """The timelines of the new runs ``ids``, every step of ``path``, in one statement."""
    session.execute(_TIMELINE, [
        {"run_id": run_id, "status": status.value, "reason": reason, "created_at": now}
        for run_id in ids for status, reason in path])


def _birth_heard() -> bool:
    """Whether a plugin hears the events of a birth (else they are not built)."""
    return has_listeners("polyaxon_on_run_created") or has_listeners("polyaxon_on_run_status_changed")


def _birth_events(session: Session, runs: Sequence[Run], statuses: Sequence[Status]) -> None:
    """The events the new ``runs`` would have queued going through ``statuses`` one by one."""
    changed = has_listeners("polyaxon_on_run_status_changed")
    for run in runs:
        entity = run_to_entity(run)
        queue_event(session, "polyaxon_on_run_created", run=replace(entity, status=Status.CREATED.value))
        if changed:
            for previous, status in pairwise(statuses):
                queue_event(session, "polyaxon_on_run_status_changed",
                            run=replace(entity, status=status.value), previous=previous.value,
                            status=status.value)


def note(session: Session, run: Run, reason: str, message: str) -> bool:
    """Record in ``run``'s timeline why it stays in its status (a quota holding a queued
    run), without moving it; once, until the reason or the message changes. Whether it
    was recorded."""
    from sqlalchemy import select

    last = session.execute(
        select(RunStatusCondition.status, RunStatusCondition.reason, RunStatusCondition.message)
        .where(RunStatusCondition.run_id == run.id).order_by(RunStatusCondition.id.desc()).limit(1)
    ).first()
    if last is not None and tuple(last) == (run.status, reason, message):
        return False
    session.add(RunStatusCondition(run=run, status=run.status, reason=reason, message=message,
                                   created_at=utcnow()))
    return True
