"""Logins: rate limited per account and per address, bounded hashing, the same cost for
unknown users, and every outcome in the audit log."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from polyaxon_core import accounts
from polyaxon_core.api.app import create_app
from polyaxon_core.config import Settings
from polyaxon_core.db.models import AuditEvent, LoginAttempt, utcnow
from polyaxon_core.db.session import session_scope
from polyaxon_core.domain import logins
from polyaxon_core.domain.logins import LoginLimits
from tests.api.conftest import MakeUser

PASSWORD = "long enough password"


@pytest.fixture
def app(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Flask:
    monkeypatch.setenv("POLYAXON_LOGIN_FAILURES_PER_ACCOUNT", "3")
    monkeypatch.setenv("POLYAXON_LOGIN_ATTEMPTS_PER_ADDRESS", "6")
    return create_app(settings)


def login(client: FlaskClient, username: str, password: str,
          address: str = "127.0.0.1") -> Any:
    return client.post("/api/v1/users/token", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def events(settings: Settings) -> list[tuple[str, str | None, str | None, str | None]]:
    with session_scope(settings.db_url) as session:
        rows = session.query(AuditEvent).order_by(AuditEvent.id).all()
        return [(row.event, row.actor, row.address, row.target) for row in rows]


def test_an_account_is_locked_after_repeated_failures_and_says_when_to_retry(
    client: FlaskClient, make_user: MakeUser
) -> None:
    make_user("ada")
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        assert login(client, "ada", "wrong password", address).status_code == 401
    # the right password, from yet another address, is refused too: the account is locked
    locked = login(client, "ada", PASSWORD, "10.0.0.4")
    assert locked.status_code == 429
    assert "too many failed logins for 'ada'" in locked.json["message"]
    assert 0 < int(locked.headers["Retry-After"]) <= 900
    # another account is not affected
    make_user("bob")
    assert login(client, "bob", PASSWORD, "10.0.0.4").status_code == 200


def test_a_success_clears_the_accounts_failures(client: FlaskClient, make_user: MakeUser) -> None:
    make_user("ada")
    for _ in range(2):
        assert login(client, "ada", "wrong password").status_code == 401
    assert login(client, "ada", PASSWORD).status_code == 200
    for _ in range(2):
        assert login(client, "ada", "wrong password").status_code == 401
    assert login(client, "ada", PASSWORD).status_code == 200


def test_an_address_is_limited_across_accounts(client: FlaskClient, make_user: MakeUser) -> None:
    make_user("ada")
    for name in ("u1", "u2", "u3", "u4", "u5", "u6"):
        assert login(client, name, "any password at all", "10.9.9.9").status_code == 401
    refused = login(client, "ada", PASSWORD, "10.9.9.9")
    assert refused.status_code == 429 and "from this address" in refused.json["message"]
    assert login(client, "ada", PASSWORD, "10.9.9.10").status_code == 200


def test_a_refused_login_costs_no_hash(client: FlaskClient, make_user: MakeUser,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    make_user("ada")
    for _ in range(3):
        login(client, "ada", "wrong password")
    hashes: list[int] = []
    real = accounts._scrypt
    monkeypatch.setattr(accounts, "_scrypt", lambda *a, **k: hashes.append(1) or real(*a, **k))
    assert login(client, "ada", PASSWORD).status_code == 429
    assert hashes == []


def test_unknown_users_cost_one_hash_like_wrong_passwords(
    client: FlaskClient, make_user: MakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user("ada")
    login(client, "warm-up", "any password at all")  # the stand-in hash is made once
    hashes: list[str] = []
    real = accounts._scrypt
    monkeypatch.setattr(accounts, "_scrypt",
                        lambda password, *a: hashes.append(password) or real(password, *a))
    assert login(client, "nobody", "a guessed password", "10.1.1.1").status_code == 401
    assert login(client, "ada", "a guessed password", "10.1.1.2").status_code == 401
    assert hashes == ["a guessed password", "a guessed password"]


def test_hashing_is_bounded_and_a_busy_server_answers_503(
    client: FlaskClient, make_user: MakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user("ada")
    monkeypatch.setattr(accounts, "HASHING_WAIT_SECONDS", 0.01)
    slots = accounts._hashing
    taken = 0
    while slots.acquire(blocking=False):  # every slot busy with other logins
        taken += 1
    try:
        assert taken == accounts.DEFAULT_HASHING_CONCURRENCY
        busy = login(client, "ada", PASSWORD)
    finally:
        for _ in range(taken):
            slots.release()
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "1"
    assert "busy checking passwords" in busy.json["message"]
    assert login(client, "ada", PASSWORD).status_code == 200


def test_every_login_outcome_is_audited(client: FlaskClient, settings: Settings,
                                        make_user: MakeUser) -> None:
    make_user("ada")
    login(client, "ada", "wrong password", "10.0.0.1")
    token = login(client, "ada", PASSWORD, "10.0.0.2").json["token"]
    for _ in range(3):
        login(client, "ada", "wrong password", "10.0.0.1")
    login(client, "ada", PASSWORD, "10.0.0.3")
    client.delete("/api/v1/users/token", headers={"Authorization": f"Token {token}"},
                  environ_base={"REMOTE_ADDR": "10.0.0.2"})
    seen = events(settings)
    assert [event for event, *_ in seen] == [
        "login.failed", "login.succeeded", "token.issued", "login.failed", "login.failed",
        "login.failed", "login.throttled", "token.revoked"]
    assert all(actor == "ada" for _, actor, _, _ in seen)
    assert [address for _, _, address, _ in seen][:2] == ["10.0.0.1", "10.0.0.2"]
    assert seen[0][3] == "user:ada" and seen[2][3].startswith("token:")
    assert seen[-1][3] == seen[2][3]


def test_an_over_long_password_is_refused_without_hashing(
    client: FlaskClient, make_user: MakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user("ada")
    monkeypatch.setattr(accounts, "_scrypt", lambda *a: pytest.fail("hashed"))
    assert login(client, "ada", "x" * 100_000).status_code == 401


def test_expired_attempts_are_forgotten(settings: Settings) -> None:
    limits = LoginLimits(window_seconds=60, failures_per_account=2, attempts_per_address=100)
    long_ago = utcnow() - timedelta(minutes=5)
    with session_scope(settings.db_url) as session:
        for _ in range(2):
            logins.note(session, limits, "ada", "10.0.0.1", succeeded=False, now=long_ago)
        assert logins.check(session, limits, "ada", "10.0.0.1", now=long_ago) is not None
        assert logins.check(session, limits, "ada", "10.0.0.1") is None
        logins.note(session, limits, "ada", "10.0.0.1", succeeded=False)
        assert session.query(LoginAttempt).count() == 1


@pytest.mark.parametrize("variable", ["POLYAXON_LOGIN_FAILURES_PER_ACCOUNT",
                                      "POLYAXON_PASSWORD_HASHING_CONCURRENCY"])
def test_a_bad_limit_is_refused_at_start(settings: Settings, monkeypatch: pytest.MonkeyPatch,
                                         variable: str, tmp_path: Path) -> None:
    from polyaxon_core.config import ConfigurationError

    monkeypatch.setenv(variable, "zero")
    with pytest.raises(ConfigurationError, match=f"{variable}='zero' is not a positive number"):
        create_app(settings)
