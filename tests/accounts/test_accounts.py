"""Users, passwords, tokens and roles on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from polyaxon_core import accounts
from polyaxon_core.db.models import ApiToken, User, utcnow
from polyaxon_core.db.session import session_scope
from polyaxon_core.domain.projects import create_project
from polyaxon_core.errors import AlreadyExists, InvalidRequest
from polyaxon_core.permissions import (
    ACTIONS,
    ORGANIZATION_ROLES,
    PROJECT_DELETE,
    PROJECT_READ,
    RUN_CREATE,
    allowed_actions,
    is_allowed,
)


def test_passwords_are_stored_hashed_and_checked(db_url: str) -> None:
    with session_scope(db_url) as session:
        accounts.create_user(session, "ada", "correct horse")
    with session_scope(db_url) as session:
        stored = session.scalar(select(User.password_hash).where(User.username == "ada"))
        assert "correct horse" not in stored and stored.startswith("scrypt$")
        assert accounts.check_password(session, "ada", "correct horse") is not None
        assert accounts.check_password(session, "ada", "wrong horse") is None
        assert accounts.check_password(session, "nobody", "correct horse") is None


@pytest.mark.parametrize(
    ("username", "password", "role", "message"),
    [("bad name", "long enough", "member", "not valid"), ("ada", "short", "member", "at least"),
     ("ada", "long enough", "emperor", "unknown organization role"),
     ("ada", "x" * 1025, "member", "at most 1024"),
     # among the most common passwords, whatever the case
     ("ada", "password123", "member", "most common"), ("ada", "TrustNo1", "member", "most common"),
     ("ada", "qwertyuiop", "member", "most common"),
     # the username, inside, or most of it
     ("margaret", "margaret", "member", "too close to the username"),
     ("margaret", "MARGARET1984", "member", "too close to the username"),
     ("margaret", "margarat!", "member", "too close to the username")],
)
def test_invalid_users_are_refused(db_url: str, username: str, password: str, role: str,
                                   message: str) -> None:
    with pytest.raises(InvalidRequest, match=message), session_scope(db_url) as session:
        accounts.create_user(session, username, password, organization_role=role)


def test_a_password_close_to_the_email_is_refused(db_url: str) -> None:
    with pytest.raises(InvalidRequest, match="too close to the e-mail address"), \
            session_scope(db_url) as session:
        accounts.create_user(session, "ada", "lovelace1815", email="lovelace1815@example.com")
    with session_scope(db_url) as session:
        assert session.scalar(select(User.id)) is None  # nothing half-written


def test_usernames_are_unique(db_url: str) -> None:
    with session_scope(db_url) as session:
        accounts.create_user(session, "ada", "long enough")
    with pytest.raises(AlreadyExists), session_scope(db_url) as session:
        accounts.create_user(session, "ada", "long enough")


def test_tokens_are_stored_hashed_and_resolve_to_their_user(db_url: str) -> None:
    with session_scope(db_url) as session:
        user = accounts.create_user(session, "ada", "long enough", organization_role="admin")
        token, key = accounts.issue_token(session, user)
    with session_scope(db_url) as session:
        assert session.scalar(select(ApiToken.key_hash)) != key
        who = accounts.user_for_token(session, key)
        assert who is not None and who.username == "ada" and who.organization_role == "admin"
        assert accounts.user_for_token(session, key + "x") is None


def test_revoked_and_expired_tokens_are_refused(db_url: str) -> None:
    with session_scope(db_url) as session:
        user = accounts.create_user(session, "ada", "long enough")
        _, revoked = accounts.issue_token(session, user, "a")
        _, expiring = accounts.issue_token(session, user, "b", expires_in=timedelta(minutes=5))
    with session_scope(db_url) as session:
        assert accounts.revoke_token(session, revoked)
        assert not accounts.revoke_token(session, revoked)
    with session_scope(db_url) as session:
        assert accounts.user_for_token(session, revoked) is None
        assert accounts.user_for_token(session, expiring) is not None
        later = utcnow() + timedelta(minutes=6)
        assert accounts.user_for_token(session, expiring, now=later) is None


def test_a_deactivated_user_loses_access(db_url: str) -> None:
    with session_scope(db_url) as session:
        user = accounts.create_user(session, "ada", "long enough")
        _, key = accounts.issue_token(session, user)
        user.is_active = False
    with session_scope(db_url) as session:
        assert accounts.user_for_token(session, key) is None
        assert accounts.check_password(session, "ada", "long enough") is None


def test_project_roles_are_set_changed_and_removed(db_url: str) -> None:
    with session_scope(db_url) as session:
        user = accounts.create_user(session, "ada", "long enough", organization_role=None)
        project = create_project(session, "p")
        accounts.set_project_role(session, project, user, "viewer")
        assert accounts.project_role(session, user.id, project) == "viewer"
        accounts.set_project_role(session, project, user, "admin")
        assert accounts.project_role(session, user.id, project) == "admin"
        accounts.set_project_role(session, project, user, None)
        assert accounts.project_role(session, user.id, project) is None
        with pytest.raises(InvalidRequest, match="unknown project role"):
            accounts.set_project_role(session, project, user, "emperor")


def test_an_outsider_is_allowed_nothing_without_a_project_role() -> None:
    assert allowed_actions(None, None) == frozenset()
    assert is_allowed(None, "viewer", PROJECT_READ)
    assert not is_allowed(None, "viewer", RUN_CREATE)


def test_roles_are_ordered_by_what_they_allow() -> None:
    order = ["viewer", "member", "admin", "manager", "owner"]
    for weaker, stronger in zip(order, order[1:], strict=False):
        assert ORGANIZATION_ROLES[weaker] < ORGANIZATION_ROLES[stronger]
    assert ORGANIZATION_ROLES["owner"] == ACTIONS
    assert not is_allowed("member", None, PROJECT_DELETE)
    assert is_allowed("member", "owner", PROJECT_DELETE)


def test_unknown_actions_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown action"):
        is_allowed("owner", None, "project.explode")
