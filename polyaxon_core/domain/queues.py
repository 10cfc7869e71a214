"""Named queues: runs in a queue start by its priority, at most its concurrency at once."""

from __future__ import annotations

import re
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from polyaxon_core.db.claims import insert_unless_present
from polyaxon_core.db.models import Project, Queue, Run
from polyaxon_core.domain.projects import final_statuses
from polyaxon_core.errors import Conflict, InvalidRequest, NotFound
from polyaxon_core.lifecycle import ACTIVE_STATUSES, CONTROLLED_KINDS, Status

DEFAULT_QUEUE = "default"
#: the waiting runs a queue's overview names, in the order they will start
NEXT_WAITING = 10


def ensure_queue(session: Session, name: str, concurrency: int) -> Queue:
    """The queue ``name``, created with ``concurrency`` on first use.

    Many clients may use a queue for the first time at once (16 ``polyaxon run`` in a new
    home all want the default queue): the insert does nothing when another transaction
    created the row, and the row is read back, so nobody sees a unique-constraint error.
    """
    queue = session.scalar(select(Queue).where(Queue.name == name))
    if queue is not None:
        return queue
    session.execute(
        insert_unless_present(cast(Table, Queue.__table__), session.get_bind().dialect.name, ["name"])
        .values(name=name, concurrency=concurrency)
    )
    created = session.scalar(select(Queue).where(Queue.name == name))
    if created is None:  # neither inserted here nor committed by another transaction
        raise Conflict(f"queue '{name}' could not be created; try again")
    return created


def _check_concurrency(concurrency: int | None) -> None:
    if concurrency is not None and concurrency < 1:
        raise InvalidRequest(f"queue concurrency must be at least 1, got {concurrency}")


#: a queue's name: ``<queue>``, or ``<agent>/<queue>`` for an agent's (Polyaxon's naming)
QUEUE_PATTERN = r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?/)?[a-z0-9][a-z0-9_.-]{0,149}$"
_QUEUE = re.compile(QUEUE_PATTERN)


def validate_queue(name: str) -> str:
    """``name`` if it can name a queue, else InvalidRequest saying what can."""
    if not _QUEUE.match(name) or len(name) > 150:
        raise InvalidRequest(
            f"queue name {name!r} is not valid: use lowercase letters, digits, '-', '_' or '.', "
            "starting with a letter or digit, optionally after an agent's name and '/' "
            "(`agent-1/gpu`; at most 150 characters)")
    return name


def set_queue(session: Session, name: str, priority: int | None, concurrency: int | None,
              default_concurrency: int) -> Queue:
    """Create the queue ``name`` or change its priority / concurrency."""
    validate_queue(name)
    queue = ensure_queue(session, name, concurrency or default_concurrency)
    return update_queue(queue, priority=priority, concurrency=concurrency)


def create_queue(session: Session, name: str, priority: int, concurrency: int) -> Queue:
    """A new queue ``name``; one of that name already is a Conflict."""
    validate_queue(name)
    _check_concurrency(concurrency)
    if session.scalar(select(Queue.id).where(Queue.name == name)) is not None:
        raise Conflict(f"queue '{name}' exists already; change it with PATCH (or `polyaxon "
                       f"queues set {name}`)")
    queue = Queue(name=name, priority=priority, concurrency=concurrency)
    session.add(queue)
    session.flush()
    return queue


def update_queue(queue: Queue, *, priority: int | None = None,
                 concurrency: int | None = None) -> Queue:
    """Change a queue's priority and / or concurrency (None: unchanged)."""
    _check_concurrency(concurrency)
    if priority is not None:
        queue.priority = priority
    if concurrency is not None:
        queue.concurrency = concurrency
    return queue


def get_queue(session: Session, name: str) -> Queue:
    queue = session.scalar(select(Queue).where(Queue.name == name))
    if queue is None:
        raise NotFound(f"no queue named '{name}'; list them with `polyaxon queues ls`")
    return queue


def list_queues(session: Session) -> list[Queue]:
    return list(session.scalars(select(Queue).order_by(Queue.priority.desc(), Queue.name)))


def queue_documents(session: Session, queues: list[Queue]) -> list[dict[str, Any]]:
    """``queues`` with what runs in them now and what waits, the next
    :data:`NEXT_WAITING` waiting runs named in the order they will start (sweeps, which
    only start their trials, are not counted)."""
    names = [queue.name for queue in queues]
    trials = (Run.kind.not_in(CONTROLLED_KINDS), Run.queue.in_(names))
    running = dict(session.execute(
        select(Run.queue, func.count(Run.id)).where(
            *trials, Run.status.in_([status.value for status in ACTIVE_STATUSES]))
        .group_by(Run.queue)).all())
    waiting = dict(session.execute(
        select(Run.queue, func.count(Run.id)).where(*trials, Run.status == Status.QUEUED.value)
        .group_by(Run.queue)).all())
    place = func.row_number().over(partition_by=Run.queue, order_by=(Run.created_at, Run.id))
    ranked = (select(Run.queue, Run.uuid, Run.name, Run.created_at, Project.owner,
                     Project.name.label("project"), place.label("place"))
              .join(Project, Project.id == Run.project_id)
              .where(*trials, Run.status == Status.QUEUED.value).subquery())
    upcoming: dict[str, list[dict[str, Any]]] = {}
    for row in session.execute(select(ranked).where(ranked.c.place <= NEXT_WAITING)
                               .order_by(ranked.c.queue, ranked.c.place)):
        upcoming.setdefault(row.queue, []).append(
            {"uuid": row.uuid, "name": row.name, "owner": row.owner, "project": row.project,
             "created_at": row.created_at})
    return [{"name": queue.name, "priority": queue.priority, "concurrency": queue.concurrency,
             "created_at": queue.created_at, "running": running.get(queue.name, 0),
             "waiting": waiting.get(queue.name, 0), "next": upcoming.get(queue.name, [])}
            for queue in queues]


def unfinished_by_queue(session: Session, project: Project) -> dict[str, int]:
    """How many of ``project``'s runs (sweeps aside) are unfinished, by queue."""
    rows = session.execute(
        select(Run.queue, func.count(Run.id))
        .where(Run.project_id == project.id, Run.kind.not_in(CONTROLLED_KINDS),
               Run.status.not_in(final_statuses()))
        .group_by(Run.queue))
    return {queue or DEFAULT_QUEUE: count for queue, count in rows}


def delete_queue(session: Session, name: str) -> None:
    queue = get_queue(session, name)
    waiting = session.scalar(
        select(func.count(Run.id)).where(Run.queue == name, Run.status.not_in(final_statuses()))
    )
    if waiting:
        raise Conflict(f"queue '{name}' still has {waiting} unfinished run(s)")
    session.delete(queue)
