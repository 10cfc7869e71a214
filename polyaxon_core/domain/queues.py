"""Named queues: runs in a queue start by its priority, at most its concurrency at once."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from polyaxon_core.db.models import Queue, Run
from polyaxon_core.domain.projects import final_statuses, validate_slug
from polyaxon_core.errors import Conflict, InvalidRequest, NotFound

DEFAULT_QUEUE = "default"


def ensure_queue(session: Session, name: str, concurrency: int) -> Queue:
    """The queue ``name``, created with ``concurrency`` on first use.

    Many clients may use a queue for the first time at once (16 ``polyaxon run`` in a new
    home all want the default queue): the insert does nothing when another transaction
    created the row, and the row is read back, so nobody sees a unique-constraint error.
    """
    queue = session.scalar(select(Queue).where(Queue.name == name))
    if queue is not None:
        return queue
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(Queue).values(name=name, concurrency=concurrency)
        .on_conflict_do_nothing(index_elements=[Queue.name])
    )
    created = session.scalar(select(Queue).where(Queue.name == name))
    if created is None:  # neither inserted here nor committed by another transaction
        raise Conflict(f"queue '{name}' could not be created; try again")
    return created


def set_queue(session: Session, name: str, priority: int | None, concurrency: int | None,
              default_concurrency: int) -> Queue:
    """Create the queue ``name`` or change its priority / concurrency."""
    validate_slug("queue", name)
    if concurrency is not None and concurrency < 1:
        raise InvalidRequest(f"queue concurrency must be at least 1, got {concurrency}")
    queue = ensure_queue(session, name, concurrency or default_concurrency)
    if priority is not None:
        queue.priority = priority
    if concurrency is not None:
        queue.concurrency = concurrency
    return queue


def list_queues(session: Session) -> list[Queue]:
    return list(session.scalars(select(Queue).order_by(Queue.priority.desc(), Queue.name)))


def delete_queue(session: Session, name: str) -> None:
    queue = session.scalar(select(Queue).where(Queue.name == name))
    if queue is None:
        raise NotFound(f"no queue named '{name}'; list them with `polyaxon queues ls`")
    waiting = session.scalar(
        select(func.count(Run.id)).where(Run.queue == name, Run.status.not_in(final_statuses()))
    )
    if waiting:
        raise Conflict(f"queue '{name}' still has {waiting} unfinished run(s)")
    session.delete(queue)
