"""Shared fixtures: an isolated POLYAXON_HOME and databases on SQLite and PostgreSQL.

State tests take the ``db_url`` fixture and run once per backend. PostgreSQL is the real
server on 127.0.0.1:5432 (``POLYAXON_TEST_PG_URL`` overrides it); each test session gets a
database of its own, created here and dropped at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from polyaxon_core.db.models import Base
from polyaxon_core.db.session import migrate

PG_SERVER_URL = os.environ.get(
    "POLYAXON_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session."""
    name = f"polyaxon_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_SERVER_URL.rsplit("/", 1)[0] + f"/{name}"
    migrate(url)
    yield url
    from polyaxon_core.db.session import get_engine

    get_engine(url).dispose()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _empty_postgres(url: str) -> None:
    from polyaxon_core.db.session import get_engine

    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with get_engine(url).begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


def end_backend(url: str, backend: int) -> None:
    """End the PostgreSQL server process ``backend`` of the database at ``url`` (as
    ``pg_terminate_backend`` does to a connection when the server restarts)."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            assert connection.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
    finally:
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database URL: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'polyaxon.db'}"
        migrate(url)
        return url
    url: str = request.getfixturevalue("postgres_database")
    _empty_postgres(url)
    return url


@pytest.fixture
def polyaxon_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated POLYAXON_HOME with the embedded default (SQLite) database."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("POLYAXON_HOME", str(home))
    monkeypatch.delenv("POLYAXON_DB_URL", raising=False)
    monkeypatch.delenv("POLYAXON_DISABLE_PLUGINS", raising=False)
    monkeypatch.setenv("POLYAXON_POLL_INTERVAL", "0.1")
    monkeypatch.setenv("POLYAXON_STOP_GRACE_PERIOD", "2")
    return home


def stop_background_orchestrator(home: Path) -> None:
    """Stop the orchestrator a CLI command started in ``home`` in the background, if one
    holds its lock: it would otherwise keep the test's database open after the test."""
    if not (home / "orchestrator.lock").exists():
        return
    import os
    import signal
    import time

    from polyaxon_core.config import load_settings
    from polyaxon_core.orchestrator import OrchestratorLock

    orchestrator = OrchestratorLock(load_settings())
    pid = orchestrator.holder_pid()
    if not (pid and orchestrator.is_held()):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while orchestrator.is_held() and time.monotonic() < deadline:
        time.sleep(0.05)  # until it has let go of the lock: it closed the database then
