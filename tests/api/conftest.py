"""Fixtures for the REST API: an application on each database, users with roles, runs.

``app`` is ``create_app`` on the ``db_url`` database (SQLite, then PostgreSQL) with an
isolated home; it never starts an orchestrator, so runs created through it stay queued
unless a test moves them on with :func:`finish`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from polyaxon_core import accounts
from polyaxon_core.api.app import create_app
from polyaxon_core.config import Settings
from polyaxon_core.db.models import Run, User
from polyaxon_core.db.session import session_scope
from polyaxon_core.domain.listing import get_run
from polyaxon_core.domain.projects import create_project, get_project
from polyaxon_core.domain.state import transition
from polyaxon_core.lifecycle import Status

FILES = Path(__file__).parent / "files"
JOB = (FILES / "job.yaml").read_text()

PROJECT_ROLES = ("owner", "admin", "member", "viewer")
ORGANIZATION_ROLES = ("owner", "manager", "admin", "member", "viewer")


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    home = tmp_path / "home"
    home.mkdir()
    return Settings(home=home, db_url=db_url, scheduler="local", store="local",
                    poll_interval=0.05, stop_grace_period=1.0)


@pytest.fixture
def app(settings: Settings) -> Flask:
    return create_app(settings, max_upload_bytes=64 * 1024)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@dataclasses.dataclass(frozen=True)
class Account:
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}


MakeUser = Callable[..., Account]


@pytest.fixture
def make_user(settings: Settings) -> MakeUser:
    """``make_user(name, organization_role=..., projects={"p": "viewer"})`` -> Account."""

    def make(username: str, organization_role: str | None = "member",
             projects: Mapping[str, str] | None = None) -> Account:
        with session_scope(settings.db_url) as session:
            user = accounts.create_user(session, username, "long enough password",
                                        organization_role=organization_role)
            for project, role in (projects or {}).items():
                accounts.set_project_role(session, get_project(session, project), user, role)
            _, key = accounts.issue_token(session, user)
        return Account(username, key)

    return make


@pytest.fixture
def new_token(settings: Settings) -> Callable[[str], Account]:
    """A fresh token for an existing user."""

    def issue(username: str) -> Account:
        with session_scope(settings.db_url) as session:
            _, key = accounts.issue_token(session, accounts.get_user(session, username))
        return Account(username, key)

    return issue


@pytest.fixture
def owner(make_user: MakeUser) -> Account:
    """An organization owner: allowed everything."""
    return make_user("olivia", organization_role="owner")


@pytest.fixture
def project(settings: Settings) -> str:
    with session_scope(settings.db_url) as session:
        create_project(session, "p")
    return "p"


def create_run(client: FlaskClient, account: Account, project: str = "p",
               content: Any = JOB, **fields: Any) -> dict[str, Any]:
    response = client.post(f"/api/v1/default/{project}/runs", headers=account.headers,
                           json={"content": content, **fields})
    assert response.status_code == 201, response.json
    run: dict[str, Any] = response.json
    return run


def finish(settings: Settings, uuid: str, status: str = "succeeded") -> None:
    """Move a queued run to a final status, as the orchestrator would."""
    with session_scope(settings.db_url) as session:
        run = get_run(session, uuid)
        for step in ("scheduled", "starting", "running", status):
            assert transition(session, run, Status(step)), f"{run.status} -> {step}"


def run_row(settings: Settings, uuid: str) -> Run:
    with session_scope(settings.db_url) as session:
        run = get_run(session, uuid)
        session.expunge(run)
        return run


def user_id(settings: Settings, username: str) -> int:
    with session_scope(settings.db_url) as session:
        user: User = accounts.get_user(session, username)
        return user.id
