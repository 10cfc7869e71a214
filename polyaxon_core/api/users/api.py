"""User endpoints: tokens and who am I."""

from __future__ import annotations

from typing import Any

from flask import request

from polyaxon_core import accounts
from polyaxon_core.api.audit import audit_request
from polyaxon_core.api.common import Answer, dump, load_body
from polyaxon_core.api.errors import ParameterError, TooManyRequests, Unauthenticated
from polyaxon_core.api.extensions import server
from polyaxon_core.api.routing import AUTHENTICATED, PUBLIC, Reply, Route
from polyaxon_core.api.security import current_user, token_from_header
from polyaxon_core.api.users.schemas import CredentialsSchema, TokenSchema, UserSchema
from polyaxon_core.db.models import User
from polyaxon_core.domain import logins
from polyaxon_core.domain.projects import DEFAULT_OWNER


def user_token_create() -> Answer:
    """Exchange a username and password for an API token (valid 30 days).

    Rate limited per account and per client address (429 with `Retry-After`); 503 with
    `Retry-After` while the server is busy checking other passwords.
    """
    body = load_body(CredentialsSchema)
    account, address = body["username"][:150], request.remote_addr or "unknown"
    limits = server.config.login_limits
    with server.session() as session:
        refusal = logins.check(session, limits, account, address)
        if refusal is not None:
            audit_request(session, "login.throttled", f"user:{account}", actor=account,
                          reason=refusal.reason)
    if refusal is not None:
        raise TooManyRequests(f"{refusal.reason}: try again in {refusal.retry_after} "
                              "seconds", refusal.retry_after)
    payload: dict[str, Any] | None = None
    with server.session() as session:
        user = accounts.check_password(session, account, body["password"])
        logins.note(session, limits, account, address, succeeded=user is not None)
        if user is None:
            audit_request(session, "login.failed", f"user:{account}", actor=account)
        else:
            token, key = accounts.issue_token(session, user, name="api")
            audit_request(session, "login.succeeded", f"user:{account}", actor=account)
            audit_request(session, "token.issued", f"token:{token.id}", actor=account,
                          user=account, name=token.name, prefix=token.prefix)
            payload = dump(TokenSchema, {"token": key, "expires_at": token.expires_at})
    if payload is None:
        raise Unauthenticated("invalid username or password")
    return payload, 200


def user_token_revoke() -> Answer:
    """Revoke the token this request is authenticated with (log out)."""
    current_user()
    key = token_from_header(request.headers.get("Authorization"))
    if key is None:
        raise ParameterError("Authorization", "this request carries no token to revoke")
    with server.session() as session:
        token = accounts.revoke_token(session, key)
        if token is None:
            raise ParameterError("Authorization", "this request's credentials are not a token "
                                                  "this server issued")
        audit_request(session, "token.revoked", f"token:{token.id}", user=token.user.username,
                      name=token.name, prefix=token.prefix)
    return "", 204


def user_whoami() -> Answer:
    """Who you are: your username, your role in the organization and on projects."""
    user = current_user()
    email = None
    if isinstance(user, accounts.AuthenticatedUser) and user.id is not None:
        with server.session() as session:
            row = session.get(User, user.id)
            email = row.email if row is not None else None
    payload = dump(UserSchema, {
        "username": user.username, "email": email, "organization": DEFAULT_OWNER,
        "role": getattr(user, "organization_role", None),
        "project_roles": dict(getattr(user, "project_roles", {}) or {}),
    })
    return payload, 200


_TOKEN = {200: Reply("the new token", TokenSchema)}
#: rate limited (429) and busy hashing other passwords (503)
_LOGIN_ERRORS = (429, 503)

ROUTES = [
    Route("POST", "/users/token", user_token_create, PUBLIC, "users", _TOKEN,
          body=CredentialsSchema, errors=_LOGIN_ERRORS),
    # the path the official SDK logs in with (auth_v1.login)
    Route("POST", "/auth/token", user_token_create, PUBLIC, "users", _TOKEN,
          body=CredentialsSchema, errors=_LOGIN_ERRORS,
          summary="Exchange a username and password for an API token (the official client's "
                  "path)"),
    Route("DELETE", "/users/token", user_token_revoke, AUTHENTICATED, "users",
          {204: Reply("revoked")}),
    Route("GET", "/users", user_whoami, AUTHENTICATED, "users",
          {200: Reply("the authenticated user", UserSchema)}),
]
