"""Two owners demoting each other at the same moment on PostgreSQL: one wins, the other is
refused, and the project keeps an owner."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from polyaxon_core import accounts
from polyaxon_core.db.models import ProjectMember
from polyaxon_core.db.session import get_engine, session_scope
from polyaxon_core.domain.projects import create_project, get_project
from polyaxon_core.errors import Conflict
from tests.conftest import _empty_postgres


def _wait_until_a_session_waits_for_a_lock(url: str) -> None:
    """Poll PostgreSQL's own view of its sessions (bounded), not a timer."""
    deadline = time.monotonic() + 30
    with get_engine(url).connect() as connection:
        while connection.scalar(text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()")) == 0:
            assert time.monotonic() < deadline, "the second demotion never waited for the first"
            connection.commit()


@pytest.mark.postgres
def test_two_owners_demoting_each_other_at_once_leave_one_owner(postgres_database: str) -> None:
    url = postgres_database
    _empty_postgres(url)
    with session_scope(url) as session:
        project = create_project(session, "p")
        for name in ("oscar", "olga"):
            user = accounts.create_user(session, name, "long enough password",
                                        organization_role=None)
            accounts.set_project_role(session, project, user, "owner")

    outcomes: dict[str, str] = {}
    first_demoted = threading.Event()
    release_first = threading.Event()

    def demote(name: str, hold: bool) -> None:
        try:
            with session_scope(url) as session:
                accounts.set_project_role(session, get_project(session, "p"),
                                          accounts.get_user(session, name), "viewer")
                if hold:  # keep the transaction (and its locks) open until the other waits
                    first_demoted.set()
                    assert release_first.wait(30)
            outcomes[name] = "demoted"
        except Conflict as exc:
            outcomes[name] = str(exc)

    first = threading.Thread(target=demote, args=("olga", True))
    first.start()
    assert first_demoted.wait(30)
    second = threading.Thread(target=demote, args=("oscar", False))
    second.start()
    _wait_until_a_session_waits_for_a_lock(url)
    release_first.set()
    first.join(30)
    second.join(30)

    assert outcomes == {"olga": "demoted", "oscar": "oscar is the last owner of project "
                        "default/p: give another member the owner role first"}
    with session_scope(url) as session:
        owners = session.query(ProjectMember).filter(ProjectMember.role == "owner").count()
    assert owners == 1
