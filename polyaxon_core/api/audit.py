"""Record an audit event for the current request: its user and client address."""

from __future__ import annotations

from typing import Any

from flask import g, request
from sqlalchemy.orm import Session

from polyaxon_core.domain import audit
from polyaxon_core.domain.projects import DEFAULT_OWNER


def audit_request(session: Session, event: str, target: str | None = None, *,
                  actor: str | None = None, owner: str = DEFAULT_OWNER,
                  **detail: Any) -> None:
    """Add ``event`` to the audit log in ``session``'s transaction.

    The actor is the request's authenticated user unless ``actor`` names one (a login
    names the account it tried).
    """
    if actor is None and "polyaxon_user" in g:
        actor = getattr(g.get("polyaxon_user"), "username", None)
    audit.record(session, event, actor=actor, address=request.remote_addr, target=target,
                 owner=owner, **detail)
