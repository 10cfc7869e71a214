"""Engines, sessions and migrations.

SQLite (the embedded default) is opened in WAL mode with a generous busy timeout and
foreign keys on, because the orchestrator, the runs' tracking SDK and the CLI all write
to the same file from different processes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from polyaxon_core.config import ConfigurationError

MIGRATIONS_PATH = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_private_file(path: Path) -> None:
    """Create ``path`` readable and writable by this user only (0600); an existing file
    keeps its mode.

    The database holds every user's token hashes and every run's data; SQLite gives its
    journal files the database file's mode.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def create_db_engine(url: str) -> Engine:
    """An engine for ``url``; bad URLs and missing drivers become ConfigurationError."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError(
            f"POLYAXON_DB_URL={url!r} is not a database URL; use e.g. "
            "sqlite:////path/to/polyaxon.db or postgresql+psycopg://user@host/db"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            create_private_file(Path(parsed.database).expanduser())
        # SQLite serializes writers itself; a busy timeout instead of pool contention.
        engine = create_engine(url, connect_args={"timeout": 60})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        return create_engine(parsed, pool_pre_ping=True)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise ConfigurationError(
            f"no driver for {parsed.drivername!r} ({exc}); for PostgreSQL install "
            "`pip install 'polyaxon-core[postgres]'`"
        ) from None


@cache
def _engine(url: str) -> Engine:
    return create_db_engine(url)


@cache
def _factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=_engine(url), expire_on_commit=False)


def get_engine(url: str) -> Engine:
    return _engine(url)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error.

    Run events queued during the session are broadcast to plugins after the commit.
    """
    from polyaxon_core.events import discard_pending, dispatch_pending

    session = _factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        discard_pending(session)
        raise
    finally:
        session.close()
    dispatch_pending(session)


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_PATH))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Bring the database at ``url`` to the newest schema (idempotent)."""
    from alembic import command

    engine = get_engine(url)
    with engine.begin() as connection:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def is_current(url: str) -> bool:
    """Whether the database exists and is at the newest migration."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    engine = get_engine(url)
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return False
        current = MigrationContext.configure(connection).get_current_heads()
    head = ScriptDirectory.from_config(alembic_config(url)).get_heads()
    return set(current) == set(head)


def ensure_database(url: str) -> None:
    """Migrate if needed; cheap when the schema is already current."""
    if not is_current(url):
        migrate(url)
