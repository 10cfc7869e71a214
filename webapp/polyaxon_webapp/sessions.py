"""Browser sessions over the server's one identity.

A login issues an ordinary API token named ``web session`` (12 hours) for the user, and
the signed session cookie (``HttpOnly``, ``SameSite=Lax``) holds its key. Every request
resolves that key as the API resolves any token: the user's current roles, and nothing
at all once the token is revoked or expired or the user deactivated. So a role changed
through the CLI or the API shows at the next page, ``polyaxon admin tokens`` lists the
open sessions, revoking one ends it, and logging out revokes it.

The pages' scripts call the API with this cookie. A request that could change anything
must also carry the page's CSRF token in ``X-CSRFToken``; the server's Origin check
already refuses other sites' pages.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import g
from flask_login import UserMixin, current_user

from polyaxon_core import accounts
from polyaxon_core.accounts import AuthenticatedUser
from polyaxon_core.api.errors import PermissionDenied
from polyaxon_core.api.extensions import server
from polyaxon_core.api.security import SERVICE_BLUEPRINTS
from polyaxon_core.db.models import User

SESSION_TOKEN_NAME = "web session"
SESSION_LIFETIME = timedelta(hours=12)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRFToken"


class WebUser(UserMixin):  # type: ignore[misc]
    """The logged-in user of a browser session: the API's view of them, and the key of
    the session's token (Flask-Login's user id)."""

    def __init__(self, key: str, account: AuthenticatedUser) -> None:
        self.key = key
        self.account = account

    def get_id(self) -> str:
        return self.key

    @property
    def username(self) -> str:
        return self.account.username

    @property
    def is_admin(self) -> bool:
        return self.account.organization_role in {"owner", "admin"}

    def get_full_name(self) -> str:
        return self.account.username


def load_user(key: str) -> WebUser | None:
    """The session's user, once per request; None when its token no longer holds."""
    cache = g.setdefault("polyaxon_web_users", {})
    if key not in cache:
        with server.session() as session:
            account = accounts.user_for_token(session, key)
        # a run's token never opens the UI, even if its key were put in a cookie
        cache[key] = WebUser(key, account) if account and account.run_scope is None else None
    user: WebUser | None = cache[key]
    return user


def start_session(user: User) -> tuple[str, int]:
    """Issue the token of a new browser session for ``user`` (in the caller's
    transaction); returns its key and id."""
    from sqlalchemy.orm import object_session

    session = object_session(user)
    assert session is not None
    token, key = accounts.issue_token(session, user, name=SESSION_TOKEN_NAME,
                                      expires_in=SESSION_LIFETIME)
    return key, token.id


def end_session(key: str) -> int | None:
    """Revoke the session's token; its id, or None when it was already gone."""
    with server.session() as session:
        token = accounts.revoke_token(session, key)
        return token.id if token is not None else None


def session_user(req: Any) -> AuthenticatedUser | None:
    """The API's view of the logged-in user of a request sent with the session cookie.

    A request with its own ``Authorization`` is left to the token check. A state-changing
    request without the session's CSRF token is refused (403), whoever is logged in,
    except one to a service, which checks its own (``SERVICE_BLUEPRINTS``).
    """
    if req.headers.get("Authorization") or not current_user.is_authenticated:
        return None
    if req.method not in SAFE_METHODS and req.blueprint not in SERVICE_BLUEPRINTS:
        from flask_wtf.csrf import validate_csrf
        from wtforms import ValidationError

        try:
            validate_csrf(req.headers.get(CSRF_HEADER))
        except ValidationError as exc:
            raise PermissionDenied(
                f"this request from a browser session carries no valid CSRF token ({exc}); "
                "reload the page and try again"
            ) from None
    account: AuthenticatedUser = current_user.account
    return account
