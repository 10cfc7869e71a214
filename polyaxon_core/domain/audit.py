"""The audit log: security events, written in the transaction of the change they record.

An event names what happened (``event``), who did it (``actor``: a username, None for an
anonymous client or the local administrator working on the database directly), the client
address of the request and what it was done to (``target``: ``user:<name>``,
``project:<owner>/<name>``, ``run:<uuid>``, ``team:<owner>/<name>``, ``token:<id>``).
``detail`` holds the rest (roles before and after, a token's name...), never a secret.
Administrators read it through ``GET /api/v1/orgs/<owner>/audit`` and ``polyaxon admin
audit``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from polyaxon_core.db.models import AuditEvent

#: every event the core records, with what it means
EVENTS: dict[str, str] = {
    "login.succeeded": "a password was exchanged for a token",
    "login.failed": "a login with an unknown user, a wrong password or an inactive account",
    "login.throttled": "a login refused by the rate limits",
    "token.issued": "a token was issued (at login or by an administrator)",
    "token.revoked": "a token was revoked (log out or by an administrator)",
    "user.created": "a user was created",
    "user.deactivated": "a user was deactivated (their tokens stop working)",
    "user.reactivated": "a deactivated user was reactivated",
    "user.password_changed": "a user's password was changed",
    "user.updated": "a user's e-mail address was changed",
    "organization.role_changed": "a user's role in the organization was given, changed or removed",
    "project.member_changed": "a user was added to a project, given another role or removed",
    "project.deleted": "a project was deleted with its runs",
    "run.deleted": "a run was deleted",
    "team.created": "a team was created",
    "team.deleted": "a team was deleted",
    "team.member_changed": "a user joined or left a team",
    "team.project_changed": "a team was given a role on a project, another one, or removed",
}


def record(session: Session, event: str, *, actor: str | None = None,
           address: str | None = None, target: str | None = None, owner: str = "default",
           **detail: Any) -> AuditEvent:
    """Add ``event`` to the log, in ``session``'s transaction."""
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}; known: {', '.join(sorted(EVENTS))}")
    row = AuditEvent(owner=owner, event=event, actor=actor, address=address, target=target,
                     detail=detail)
    session.add(row)
    return row


def list_events(session: Session, owner: str = "default", *, events: Sequence[str] = (),
                actor: str | None = None, target: str | None = None,
                since: datetime | None = None, offset: int = 0,
                limit: int = 100) -> tuple[list[AuditEvent], int]:
    """A page of ``owner``'s events, newest first, and how many match in all."""
    query = select(AuditEvent).where(AuditEvent.owner == owner)
    if events:
        query = query.where(AuditEvent.event.in_(list(events)))
    if actor is not None:
        query = query.where(AuditEvent.actor == actor)
    if target is not None:
        query = query.where(AuditEvent.target == target)
    if since is not None:
        query = query.where(AuditEvent.created_at >= since)
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
                           .offset(offset).limit(limit)).all()
    return list(rows), count
