"""Users, passwords and API tokens.

Passwords are stored as scrypt hashes; tokens as SHA-256 digests of a random key that is
shown once, when issued. Tokens can expire and be revoked. The official Polyaxon client
sends ``Authorization: token <key>``, which is what :func:`user_for_token` resolves.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from difflib import SequenceMatcher
from functools import lru_cache

from sqlalchemy import CompoundSelect, bindparam, literal_column, select, union_all
from sqlalchemy.orm import Session

from polyaxon_core.db.models import (
    ApiToken,
    OrganizationMember,
    Project,
    ProjectMember,
    TeamMember,
    TeamProject,
    User,
    utcnow,
)
from polyaxon_core.errors import AlreadyExists, Conflict, InvalidRequest, NotFound, PolyaxonError
from polyaxon_core.permissions import ORGANIZATION_ROLES, PROJECT_ROLES, highest_project_role
from polyaxon_core.run_scope import RunScope, run_scope_of

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,149}$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
MIN_PASSWORD_LENGTH = 8
#: hashing cost grows with the length: longer passwords are refused, not hashed
MAX_PASSWORD_LENGTH = 1024
#: from this similarity (difflib's ratio) on, a password is too close to the username
_TOO_SIMILAR = 0.7


@dataclass(frozen=True)
class AuthenticatedUser:
    """Who sent a request, as the API and the auth hooks see it.

    ``organization_role`` is the user's role in the organization (None: an outsider);
    ``project_roles`` maps ``"owner/project"`` to their role on each project they were
    added to. ``id`` is None only for the local user of a server started without auth.
    ``run_scope`` is set when the request carries a run's token: it may then do only
    what :mod:`polyaxon_core.run_scope` allows, on top of the roles above.
    """

    id: int | None
    username: str
    organization_role: str | None
    project_roles: Mapping[str, str] = field(default_factory=dict)
    run_scope: RunScope | None = None
    #: the agent's name when the request carries an agent's token: it may then call that
    #: agent's endpoints and nothing else
    agent: str | None = None

    def project_role(self, owner: str, project: str) -> str | None:
        return self.project_roles.get(f"{owner}/{project}")


class HashingBusy(PolyaxonError):
    """Every password-hashing slot stayed taken while the request waited."""

    http_status = 503

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


#: how many passwords a process hashes at once (``POLYAXON_PASSWORD_HASHING_CONCURRENCY``)
#: and how long a request waits for a slot: a hash costs ~50 ms of CPU and 16 MiB, so a
#: flood of logins must queue here, not take every CPU and thread from the server
DEFAULT_HASHING_CONCURRENCY = 2
HASHING_WAIT_SECONDS = 5.0
_hashing = threading.BoundedSemaphore(DEFAULT_HASHING_CONCURRENCY)


def set_hashing_concurrency(slots: int) -> None:
    """Hash at most ``slots`` passwords at once in this process (set at server start)."""
    global _hashing
    _hashing = threading.BoundedSemaphore(slots)


@contextmanager
def _hashing_slot() -> Iterator[None]:
    slots = _hashing
    if not slots.acquire(timeout=HASHING_WAIT_SECONDS):
        raise HashingBusy("the server is busy checking passwords; try again in a moment")
    try:
        yield
    finally:
        slots.release()


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    with _hashing_slot():
        return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, **_SCRYPT)
    parts = ["scrypt", str(_SCRYPT["n"]), str(_SCRYPT["r"]), str(_SCRYPT["p"]),
             base64.b64encode(salt).decode(), base64.b64encode(digest).decode()]
    return "$".join(parts)


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    computed = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    return hmac.compare_digest(computed, base64.b64decode(digest))


@lru_cache(maxsize=1)
def _stand_in_hash() -> str:
    """A hash no password matches, checked for unknown users so they cost what users do."""
    return hash_password(secrets.token_urlsafe(32))


class PasswordRejected(InvalidRequest):
    """A well-formed password its rules refuse (422: beyond what a JSON schema can say)."""

    http_status = 422


def validate_password(password: str, username: str, email: str | None = None) -> None:
    """Refuse a password that is short, very long, common, or close to the user's name.

    "Common" is one of the 30,000 passwords of zxcvbn's list of leaked ones (compared
    without case); "close" means the username or the e-mail address's local part makes up
    most of it, or the password makes up most of them.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordRejected(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordRejected(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")
    if password.lower() in _common_passwords():
        raise PasswordRejected("this password is one of the most common ones, which are tried "
                             "first: choose another (a few unrelated words make a good one)")
    lowered = password.lower()
    for kind, value in (("username", username), ("e-mail address", (email or "").split("@")[0])):
        value = value.lower()
        if len(value) < 3:
            continue
        if value in lowered or lowered in value or \
                SequenceMatcher(None, lowered, value).ratio() >= _TOO_SIMILAR:
            raise PasswordRejected(f"the password is too close to the {kind}: choose one that "
                                 f"does not contain it")


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(word.lower() for word in FREQUENCY_LISTS["passwords"])


def create_user(session: Session, username: str, password: str, email: str | None = None,
                organization_role: str | None = "member", owner: str = "default") -> User:
    if not _USERNAME.match(username):
        raise InvalidRequest(
            f"username {username!r} is not valid: letters, digits and _ . @ + -, at most 150"
        )
    validate_password(password, username, email)
    if organization_role is not None and organization_role not in ORGANIZATION_ROLES:
        raise InvalidRequest(
            f"unknown organization role {organization_role!r}; use one of "
            f"{', '.join(ORGANIZATION_ROLES)}"
        )
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AlreadyExists(f"user '{username}' already exists")
    user = User(username=username, email=email, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    if organization_role is not None:
        session.add(OrganizationMember(owner=owner, user_id=user.id, role=organization_role))
    return user


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user named '{username}'")
    return user


def check_password(session: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, or None (the same answer for any mismatch).

    Every answer costs one hash: an unknown username is checked against a stand-in hash,
    so the time taken does not tell which usernames exist. Passwords longer than any that
    can be set are refused unhashed, whoever they are sent for.
    """
    if len(password) > MAX_PASSWORD_LENGTH:
        return None
    user = session.scalar(select(User).where(User.username == username))
    matches = verify_password(password, user.password_hash if user else _stand_in_hash())
    if user is None or not user.is_active or not matches:
        return None
    return user


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_token(session: Session, user: User, name: str = "default",
                expires_in: timedelta | None = timedelta(days=30),
                run_id: int | None = None, agent_id: int | None = None) -> tuple[ApiToken, str]:
    """A new token for ``user``; returns the row and the key (shown once, stored hashed).

    A token issued to a run (``run_id``) is revoked when the run ends.
    """
    key = secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, key_hash=_digest(key), prefix=key[:8],
                     expires_at=utcnow() + expires_in if expires_in else None, run_id=run_id,
                     agent_id=agent_id)
    session.add(token)
    session.flush()
    return token, key


def token_for_key(session: Session, key: str) -> ApiToken | None:
    return session.scalar(select(ApiToken).where(ApiToken.key_hash == _digest(key)))


def revoke_token(session: Session, key: str) -> ApiToken | None:
    """Revoke the token of ``key``; None when there is no such unrevoked token."""
    token = session.scalar(select(ApiToken).where(ApiToken.key_hash == _digest(key)))
    if token is None or token.revoked_at is not None:
        return None
    token.revoked_at = utcnow()
    return token


#: how precisely a token's ``last_used_at`` is kept
LAST_USED_PRECISION = timedelta(minutes=1)


#: every request with a token asks these two: built once, read in one statement each
#: (the token with its user; the user's roles in the organization and on its projects,
#: their own and their teams', marked 0, 1 and 2)
_TOKEN = (select(ApiToken, User).join(User, User.id == ApiToken.user_id)
          .where(ApiToken.key_hash == bindparam("key_hash")))
_ROLES: CompoundSelect[int, str, str, str] = union_all(
    select(literal_column("0"), OrganizationMember.owner, OrganizationMember.owner, OrganizationMember.role)
    .where(OrganizationMember.user_id == bindparam("user_id"),
           OrganizationMember.owner == bindparam("owner")),
    select(literal_column("1"), Project.owner, Project.name, ProjectMember.role)
    .join(ProjectMember, ProjectMember.project_id == Project.id)
    .where(ProjectMember.user_id == bindparam("user_id"), Project.owner == bindparam("owner")),
    select(literal_column("2"), Project.owner, Project.name, TeamProject.role)
    .join(TeamProject, TeamProject.project_id == Project.id)
    .join(TeamMember, TeamMember.team_id == TeamProject.team_id)
    .where(TeamMember.user_id == bindparam("user_id"), Project.owner == bindparam("owner")),
)


def user_for_token(session: Session, key: str, now: datetime | None = None) -> AuthenticatedUser | None:
    """The user a valid (known, unexpired, unrevoked) token belongs to, else None."""
    token = session.scalar(_TOKEN, {"key_hash": _digest(key)})
    now = now or utcnow()
    if token is None or token.revoked_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        # written at most once a minute: a write per request would cost every request
        token.last_used_at = now
    return replace(authenticated(session, token.user), run_scope=run_scope_of(session, token),
                   agent=token.agent.name if token.agent is not None else None)


def authenticated(session: Session, user: User, owner: str = "default") -> AuthenticatedUser:
    """``user`` with their role in the organization ``owner`` and on each of its projects
    (the highest of their own and their teams')."""
    role: str | None = None
    project_roles: dict[str, str] = {}
    for source, project_owner, name, granted in session.execute(_ROLES, {"user_id": user.id, "owner": owner}):
        if source == 0:
            role = granted
            continue
        key = f"{project_owner}/{name}"
        project_roles[key] = highest_project_role([project_roles.get(key), granted]) or granted
    return AuthenticatedUser(id=user.id, username=user.username, organization_role=role,
                             project_roles=project_roles)


def project_role(session: Session, user_id: int, project: Project) -> str | None:
    return session.scalar(
        select(ProjectMember.role).where(ProjectMember.user_id == user_id,
                                         ProjectMember.project_id == project.id)
    )


def set_project_role(session: Session, project: Project, user: User, role: str | None) -> str | None:
    """Give ``user`` ``role`` on ``project`` (None removes them); returns their role before.

    The last owner of a project keeps it: removing or demoting them is a Conflict.
    """
    if role is not None and role not in PROJECT_ROLES:
        raise InvalidRequest(f"unknown project role {role!r}; use one of {', '.join(PROJECT_ROLES)}")
    member = session.scalar(
        select(ProjectMember).where(ProjectMember.user_id == user.id,
                                    ProjectMember.project_id == project.id)
        .with_for_update()
    )
    before = member.role if member is not None else None
    if before == "owner" and role != "owner":
        # the owners' rows stay locked until commit: two owners demoting each other at
        # once cannot both see the other one still there
        owners = session.scalars(select(ProjectMember.id).where(
            ProjectMember.project_id == project.id, ProjectMember.role == "owner")
            .with_for_update()).all()
        if len(owners) == 1:
            raise Conflict(f"{user.username} is the last owner of project {project.owner}/"
                           f"{project.name}: give another member the owner role first")
    if role is None:
        if member is not None:
            session.delete(member)
        return before
    if member is None:
        session.add(ProjectMember(project_id=project.id, user_id=user.id, role=role))
    else:
        member.role = role
    return before


def organization_role(session: Session, user: User, owner: str = "default") -> str | None:
    return session.scalar(select(OrganizationMember.role).where(
        OrganizationMember.user_id == user.id, OrganizationMember.owner == owner))


def active_owners(session: Session, owner: str = "default") -> int:
    """How many active users own the organization ``owner`` (their rows locked until
    commit, so that two owners demoting each other at once cannot both succeed)."""
    return len(session.scalars(
        select(OrganizationMember.id)
        .join(User, User.id == OrganizationMember.user_id)
        .where(OrganizationMember.owner == owner, OrganizationMember.role == "owner",
               User.is_active.is_(True))
        .with_for_update(of=OrganizationMember)).all())


def set_organization_role(session: Session, user: User, role: str | None,
                          owner: str = "default") -> str | None:
    """Give ``user`` ``role`` in the organization (None removes them); returns the role
    before. The last active owner keeps it: removing or demoting them is a Conflict."""
    if role is not None and role not in ORGANIZATION_ROLES:
        raise InvalidRequest(
            f"unknown organization role {role!r}; use one of {', '.join(ORGANIZATION_ROLES)}"
        )
    member = session.scalar(
        select(OrganizationMember).where(OrganizationMember.user_id == user.id,
                                         OrganizationMember.owner == owner)
        .with_for_update()
    )
    before = member.role if member is not None else None
    if before == "owner" and role != "owner" and user.is_active and active_owners(session, owner) == 1:
        raise Conflict(f"{user.username} is the last owner of the organization: make another "
                       "user an owner first")
    if role is None:
        if member is not None:
            session.delete(member)
        return before
    if member is None:
        session.add(OrganizationMember(owner=owner, user_id=user.id, role=role))
    else:
        member.role = role
    return before
