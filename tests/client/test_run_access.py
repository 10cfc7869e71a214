"""What a launched run receives to reach the API: the server's address and a token of its own."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from polyaxon_core.accounts import create_user, issue_token, user_for_token
from polyaxon_core.config import ConfigurationError, load_settings
from polyaxon_core.db.models import ApiToken, Run, User, utcnow
from polyaxon_core.db.session import session_scope
from polyaxon_core.domain.projects import create_project
from polyaxon_core.domain.state import transition
from polyaxon_core.orchestrator.loop import run_context_env

PASSWORD = "correct horse battery"


@pytest.fixture
def env(db_url: str, polyaxon_home: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("POLYAXON_DB_URL", db_url)
    for name in ("POLYAXON_API_HOST", "POLYAXON_API_RUN_USER", "POLYAXON_RUN_TOKEN_TTL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _launch_env(db_url: str, creator: str | None = None, sweep_creator: str | None = None,
                token: bool = True) -> dict[str, str]:
    """The environment a run gets, issued in the same transaction as the launch."""
    with session_scope(db_url) as session:
        project = create_project(session, "p")
        users = {user.username: user for user in session.scalars(select(User))}
        sweep = None
        if sweep_creator:
            sweep = Run(project=project, kind="matrix", runtime="job", user=users[sweep_creator])
            session.add(sweep)
        run = Run(project=project, kind="job", runtime="job", pipeline=sweep,
                  user=users[creator] if creator else None)
        session.add(run)
        session.flush()
        return run_context_env(load_settings(), run, Path("/tmp/artifacts"), "/tmp", token=token)


def _user_of(db_url: str, token: str) -> str | None:
    with session_scope(db_url) as session:
        user = user_for_token(session, token)
        return user.username if user else None


def test_without_an_api_host_runs_use_the_database(env: pytest.MonkeyPatch, db_url: str) -> None:
    launched = _launch_env(db_url)
    assert "POLYAXON_HOST" not in launched and "POLYAXON_AUTH_TOKEN" not in launched
    assert launched["POLYAXON_DB_URL"] == db_url


def test_a_run_gets_a_token_of_its_creator(env: pytest.MonkeyPatch, db_url: str) -> None:
    with session_scope(db_url) as session:
        create_user(session, "ada", PASSWORD)
    env.setenv("POLYAXON_API_HOST", "127.0.0.1:8000")
    env.setenv("POLYAXON_RUN_TOKEN_TTL", "3600")
    launched = _launch_env(db_url, creator="ada")
    assert launched["POLYAXON_HOST"] == "http://127.0.0.1:8000"
    # nothing of the server's own configuration: the run reaches only the API
    assert not {"POLYAXON_DB_URL", "POLYAXON_HOME", "POLYAXON_STORE"} & set(launched)
    assert _user_of(db_url, launched["POLYAXON_AUTH_TOKEN"]) == "ada"
    with session_scope(db_url) as session:
        token = session.scalars(select(ApiToken).where(ApiToken.name.startswith("run "))).one()
        assert token.expires_at is not None
        assert abs((token.expires_at - utcnow()) - timedelta(hours=1)) < timedelta(minutes=1)
        assert token.key_hash != launched["POLYAXON_AUTH_TOKEN"]  # only the hash is stored


def test_a_launch_built_again_on_a_worker_issues_no_token_at_the_orchestrator(
        env: pytest.MonkeyPatch, db_url: str) -> None:
    """The Celery scheduler's workers build the launch (and its token) themselves."""
    with session_scope(db_url) as session:
        create_user(session, "ada", PASSWORD)
    env.setenv("POLYAXON_API_HOST", "127.0.0.1:8000")
    launched = _launch_env(db_url, creator="ada", token=False)
    assert launched["POLYAXON_HOST"] == "http://127.0.0.1:8000"
    assert not {"POLYAXON_AUTH_TOKEN", "POLYAXON_DB_URL", "POLYAXON_HOME"} & set(launched)
    with session_scope(db_url) as session:
        assert session.scalars(select(ApiToken).where(ApiToken.name.startswith("run "))).all() == []


def test_a_trial_acts_as_whoever_created_its_sweep(env: pytest.MonkeyPatch, db_url: str) -> None:
    with session_scope(db_url) as session:
        create_user(session, "ada", PASSWORD)
    env.setenv("POLYAXON_API_HOST", "http://127.0.0.1:8000")
    launched = _launch_env(db_url, sweep_creator="ada")
    assert _user_of(db_url, launched["POLYAXON_AUTH_TOKEN"]) == "ada"


def test_a_run_without_creator_acts_as_the_configured_user(env: pytest.MonkeyPatch, db_url: str) -> None:
    with session_scope(db_url) as session:
        create_user(session, "runner", PASSWORD)
    env.setenv("POLYAXON_API_HOST", "http://127.0.0.1:8000")
    env.setenv("POLYAXON_API_RUN_USER", "runner")
    launched = _launch_env(db_url)
    assert _user_of(db_url, launched["POLYAXON_AUTH_TOKEN"]) == "runner"


def test_a_missing_run_user_is_a_configuration_error(env: pytest.MonkeyPatch, db_url: str) -> None:
    env.setenv("POLYAXON_API_HOST", "http://127.0.0.1:8000")
    with pytest.raises(ConfigurationError, match="POLYAXON_API_RUN_USER is not set"):
        _launch_env(db_url)
    env.setenv("POLYAXON_API_RUN_USER", "nobody")
    with pytest.raises(ConfigurationError, match="'nobody' is not an active user"):
        _launch_env(db_url)


@pytest.mark.parametrize("final", ["succeeded", "failed", "stopped"])
def test_a_runs_token_is_revoked_when_the_run_ends(env: pytest.MonkeyPatch, db_url: str,
                                                   final: str) -> None:
    with session_scope(db_url) as session:
        ada = create_user(session, "ada", PASSWORD)
        _, own_key = issue_token(session, ada, name="laptop")
    env.setenv("POLYAXON_API_HOST", "http://127.0.0.1:8000")
    launched = _launch_env(db_url, creator="ada")
    key = launched["POLYAXON_AUTH_TOKEN"]
    with session_scope(db_url) as session:
        run = session.scalars(select(Run).where(Run.kind == "job")).one()
        for status in ("compiled", "queued", "scheduled", "running"):
            assert transition(session, run, status)
    assert _user_of(db_url, key) == "ada"  # still running: the SDK may log

    with session_scope(db_url) as session:
        run = session.scalars(select(Run).where(Run.kind == "job")).one()
        assert transition(session, run, final)
    assert _user_of(db_url, key) is None
    assert _user_of(db_url, own_key) == "ada"  # the user's own tokens are not the run's
    with session_scope(db_url) as session:
        token = session.scalars(select(ApiToken).where(ApiToken.name.startswith("run "))).one()
        assert token.revoked_at is not None and token.run_id == run.id
