"""User and token administration: the organization's users, their activity, passwords and
tokens. The API (``/api/v1/orgs/<owner>/...``) and ``polyaxon admin`` both go through
here; who may do what is checked by them (roles' hierarchy), the rules that hold for
everyone (password rules, the last owner stays) here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from polyaxon_core.accounts import (
    active_owners,
    get_user,
    hash_password,
    organization_role,
    validate_password,
)
from polyaxon_core.db.models import ApiToken, OrganizationMember, Run, User, utcnow
from polyaxon_core.errors import Conflict, NotFound


@dataclass(frozen=True)
class Member:
    username: str
    email: str | None
    role: str | None
    is_active: bool
    created_at: datetime


def list_members(session: Session, owner: str = "default", *,
                 include_outsiders: bool = True) -> list[Member]:
    """Every user with their role in ``owner`` (None: an outsider, shown unless
    ``include_outsiders`` is False), by username."""
    rows = session.execute(
        select(User, OrganizationMember.role)
        .outerjoin(OrganizationMember, (OrganizationMember.user_id == User.id)
                   & (OrganizationMember.owner == owner))
        .order_by(User.username))
    return [Member(user.username, user.email, role, user.is_active, user.created_at)
            for user, role in rows if include_outsiders or role is not None]


def member(session: Session, username: str, owner: str = "default") -> Member:
    user = get_user(session, username)
    return Member(user.username, user.email, organization_role(session, user, owner),
                  user.is_active, user.created_at)


def set_active(session: Session, user: User, active: bool, owner: str = "default") -> bool:
    """Deactivate or reactivate ``user``; returns whether anything changed.

    Deactivating revokes every token of the user (reactivated, they log in again) and is
    refused for the organization's last active owner.
    """
    if user.is_active == active:
        return False
    if not active:
        if organization_role(session, user, owner) == "owner" and active_owners(session, owner) == 1:
            raise Conflict(f"{user.username} is the last active owner of the organization: "
                           "make another user an owner first")
        now = utcnow()
        for token in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                                            ApiToken.revoked_at.is_(None))):
            token.revoked_at = now
    user.is_active = active
    return True


def set_password(session: Session, user: User, password: str,
                 keep_token_id: int | None = None) -> int:
    """Give ``user`` a new password (the password rules apply) and revoke their tokens
    but ``keep_token_id`` (the one the change was made with): whoever knew the old one
    is logged out. Returns how many tokens were revoked."""
    validate_password(password, user.username, user.email)
    user.password_hash = hash_password(password)
    now, revoked = utcnow(), 0
    for token in session.scalars(select(ApiToken).where(
            ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None), ApiToken.run_id.is_(None))):
        if token.id != keep_token_id:
            token.revoked_at = now
            revoked += 1
    return revoked


@dataclass(frozen=True)
class TokenInfo:
    """A token as administrators see it: never its key nor its hash."""

    id: int
    user: str
    name: str
    prefix: str
    run: str | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= utcnow():
            return "expired"
        return "active"


def list_tokens(session: Session, username: str | None = None, *, include_inactive: bool = False,
                offset: int = 0, limit: int = 100) -> tuple[list[TokenInfo], int]:
    """A page of tokens, newest first, and how many match (``username``'s only if given;
    revoked and expired ones only with ``include_inactive``)."""
    query = (select(ApiToken, User.username, Run.uuid)
             .join(User, User.id == ApiToken.user_id)
             .outerjoin(Run, Run.id == ApiToken.run_id))
    if username is not None:
        query = query.where(ApiToken.user_id == get_user(session, username).id)
    if not include_inactive:
        now = utcnow()
        query = query.where(ApiToken.revoked_at.is_(None),
                            (ApiToken.expires_at.is_(None)) | (ApiToken.expires_at > now))
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
                           .offset(offset).limit(limit))
    return [TokenInfo(token.id, name, token.name, token.prefix, run, token.created_at,
                      token.expires_at, token.last_used_at, token.revoked_at)
            for token, name, run in rows], count


def revoke_token_id(session: Session, token_id: int) -> ApiToken:
    """Revoke the token ``token_id``; NotFound if there is none, Conflict if it was
    revoked already."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no token with id {token_id}; `polyaxon admin tokens` lists them")
    if token.revoked_at is not None:
        raise Conflict(f"token {token_id} was revoked already")
    token.revoked_at = utcnow()
    return token
