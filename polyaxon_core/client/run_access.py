"""How a run launched by the orchestrator reaches the API, when a server is configured.

With ``POLYAXON_API_HOST`` set for the orchestrator (the address *runs* use to reach the
server), every launched attempt gets ``POLYAXON_HOST`` and a token of its own in
``POLYAXON_AUTH_TOKEN``, and its tracking SDK talks to the API instead of the database.
The token is issued through :mod:`polyaxon_core.accounts` for the user who created the
run through the API (for a sweep's trial: who created the sweep), else for the user
named by ``POLYAXON_API_RUN_USER`` (runs created from the CLI on the server's machine);
the run acts with that user's roles. It is named ``run <uuid>``, is revoked when the run
reaches a final status, and expires after ``POLYAXON_RUN_TOKEN_TTL`` seconds in any case
(default 7 days; make it longer than the longest run). Only its hash is stored, like
every token.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import TYPE_CHECKING

from polyaxon_core.client.hosts import normalize_host
from polyaxon_core.config import ConfigurationError, _float_setting

if TYPE_CHECKING:
    from polyaxon_core.db.models import Run

DEFAULT_RUN_TOKEN_TTL = 7 * 24 * 3600.0


def run_api_env(run: Run, issue: bool = True) -> dict[str, str]:
    """``POLYAXON_HOST`` and a new ``POLYAXON_AUTH_TOKEN`` for ``run``, or nothing without
    ``POLYAXON_API_HOST``; the token row is added to the session ``run`` belongs to. Without
    ``issue``, the host alone (the launch is built again where the run starts, and its
    token issued there)."""
    raw_host = os.environ.get("POLYAXON_API_HOST")
    if not raw_host:
        return {}
    if not issue:
        return {"POLYAXON_HOST": normalize_host(raw_host, "POLYAXON_API_HOST")}
    from sqlalchemy import select
    from sqlalchemy.orm import object_session

    from polyaxon_core.accounts import issue_token
    from polyaxon_core.db.models import User

    host = normalize_host(raw_host, "POLYAXON_API_HOST")
    ttl = _float_setting("POLYAXON_RUN_TOKEN_TTL", DEFAULT_RUN_TOKEN_TTL, minimum=60.0)
    session = object_session(run)
    if session is None:
        raise ValueError(f"run {run.uuid} is not attached to a session; cannot issue its token")
    user = run.user or (run.pipeline.user if run.pipeline is not None else None)
    if user is None or not user.is_active:
        username = os.environ.get("POLYAXON_API_RUN_USER")
        if not username:
            raise ConfigurationError(
                f"run {run.uuid} has no creator to act as, and POLYAXON_API_RUN_USER is not "
                "set: name the user such runs log as (create one with `polyaxon admin "
                "create-user NAME --role member`)"
            )
        user = session.scalar(select(User).where(User.username == username))
        if user is None or not user.is_active:
            raise ConfigurationError(
                f"POLYAXON_API_RUN_USER={username!r} is not an active user; create it with "
                f"`polyaxon admin create-user {username} --role member`"
            )
    _, key = issue_token(session, user, name=f"run {run.uuid}", expires_in=timedelta(seconds=ttl),
                         run_id=run.id)
    return {"POLYAXON_HOST": host, "POLYAXON_AUTH_TOKEN": key}
