"""Rate limits on password logins, kept in the database so every server process shares them.

Two limits, over a sliding window (``POLYAXON_LOGIN_WINDOW_SECONDS``, 15 minutes):

* per account: at most ``POLYAXON_LOGIN_FAILURES_PER_ACCOUNT`` failed logins for one
  username since its last successful one (guessing one user's password);
* per client address: at most ``POLYAXON_LOGIN_ATTEMPTS_PER_ADDRESS`` logins of any
  outcome from one address (trying many users, or flooding the password hashing).

A refused login is answered 429 with ``Retry-After``, costs no password hash and is not
counted itself. Attempts older than the window are deleted as new ones are noted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.orm import Session

from polyaxon_core.db.models import LoginAttempt, utcnow

DEFAULT_WINDOW_SECONDS = 900.0
DEFAULT_FAILURES_PER_ACCOUNT = 10
DEFAULT_ATTEMPTS_PER_ADDRESS = 100


@dataclass(frozen=True)
class LoginLimits:
    window_seconds: float = DEFAULT_WINDOW_SECONDS
    failures_per_account: int = DEFAULT_FAILURES_PER_ACCOUNT
    attempts_per_address: int = DEFAULT_ATTEMPTS_PER_ADDRESS


@dataclass(frozen=True)
class Refusal:
    """Why a login is refused now, and in how many seconds it may be tried again."""

    reason: str
    retry_after: int


def check(session: Session, limits: LoginLimits, account: str, address: str,
          now: datetime | None = None) -> Refusal | None:
    """The refusal of a login for ``account`` from ``address`` now, or None to go ahead."""
    now = now or utcnow()
    since = now - timedelta(seconds=limits.window_seconds)
    last_success = session.scalar(
        select(func.max(LoginAttempt.created_at))
        .where(LoginAttempt.account == account, LoginAttempt.succeeded.is_(True),
               LoginAttempt.created_at >= since))
    failures = select(LoginAttempt.created_at).where(
        LoginAttempt.account == account, LoginAttempt.succeeded.is_(False),
        LoginAttempt.created_at >= max(since, last_success or since))
    refusal = _over(session, failures, limits.failures_per_account, limits, now,
                    f"too many failed logins for {account!r}")
    if refusal is not None:
        return refusal
    attempts = select(LoginAttempt.created_at).where(
        LoginAttempt.address == address, LoginAttempt.created_at >= since)
    return _over(session, attempts, limits.attempts_per_address, limits, now,
                 "too many logins from this address")


def _over(session: Session, attempts: Select[Any], limit: int, limits: LoginLimits,
          now: datetime, reason: str) -> Refusal | None:
    """A refusal when ``attempts`` (a select of created_at) holds ``limit`` rows or more;
    it lifts when the oldest of the newest ``limit`` leaves the window."""
    newest: list[datetime] = list(session.scalars(
        attempts.order_by(LoginAttempt.created_at.desc()).limit(limit)))
    if len(newest) < limit:
        return None
    lifts_at = newest[-1] + timedelta(seconds=limits.window_seconds)
    return Refusal(reason, max(1, int((lifts_at - now).total_seconds()) + 1))


def note(session: Session, limits: LoginLimits, account: str, address: str, succeeded: bool,
         now: datetime | None = None) -> None:
    """Count a login that was checked; forget this account's and address's expired ones."""
    now = now or utcnow()
    expired = now - timedelta(seconds=limits.window_seconds)
    session.execute(delete(LoginAttempt).where(
        or_(LoginAttempt.account == account, LoginAttempt.address == address),
        LoginAttempt.created_at < expired))
    session.add(LoginAttempt(account=account, address=address, succeeded=succeeded,
                             created_at=now))
