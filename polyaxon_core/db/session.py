"""Engines, sessions and migrations.

SQLite (the embedded default) is opened in WAL mode with a generous busy timeout and
foreign keys on, because the orchestrator, the runs' tracking SDK and the CLI all write
to the same file from different processes.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import cache, partial
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from polyaxon_core.config import ConfigurationError

MIGRATIONS_PATH = Path(__file__).parent / "migrations"
T = TypeVar("T")


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
            "sqlite:////path/to/polyaxon.db or postgresql://user@host/db"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            create_private_file(Path(parsed.database).expanduser())
        # SQLite serializes writers itself; a busy timeout instead of pool contention.
        engine = create_engine(url, connect_args={"timeout": 60})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.drivername == "postgresql":
        # psycopg2 (the `postgres` extra), whatever SQLAlchemy's default driver for the
        # scheme is (psycopg 3 since SQLAlchemy 2.1); postgresql+psycopg:// picks psycopg 3
        parsed = parsed.set(drivername="postgresql+psycopg2")
    try:
        engine = create_engine(parsed)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        hint = _DRIVER_HINTS.get(parsed.drivername, _POSTGRES_HINT)
        raise ConfigurationError(f"no driver for {parsed.drivername!r} ({exc}); {hint}") from None
    event.listen(engine.pool, "checkout", partial(_ping_on_checkout, engine.dialect))
    event.listen(engine.pool, "checkin", _note_return)
    return engine


#: how long a pooled connection may have sat unused and still leave the pool unpinged:
#: 0, every connection is pinged as it leaves the pool (one round trip), so a request
#: never meets a connection the server ended while it waited; see
#: :func:`ping_only_idle_connections`
_UNPINGED_SECONDS = 0.0
#: what a process that does again whatever a lost connection interrupts passes to
#: :func:`ping_only_idle_connections`: a connection unused this long is pinged before use
UNPINGED_SECONDS = 5.0
_RETURNED_AT = "polyaxon_returned_at"


def ping_only_idle_connections(seconds: float) -> None:
    """In this process, ping a pooled connection as it leaves the pool only if it sat
    unused ``seconds`` or more: for a process that does again whatever a lost connection
    interrupts (the orchestrator, whose steps are each a transaction and whose failed pass
    is the next pass), so that its many short transactions do not each cost a round trip
    more. A connection that dies between two of them is found by the statement."""
    global _UNPINGED_SECONDS
    _UNPINGED_SECONDS = seconds


def _ping_on_checkout(dialect: Any, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    returned = record.info.get(_RETURNED_AT)
    if returned is None or time.monotonic() - returned < _UNPINGED_SECONDS:
        return  # just opened, or used a moment ago
    try:
        alive = dialect.do_ping(dbapi_connection)
    except Exception as exc:
        if not dialect.is_disconnect(exc, dbapi_connection, None):
            raise
        alive = False
    if not alive:  # the pool opens a new connection in its place
        raise DisconnectionError("the pooled connection was closed by the server")


def _note_return(_dbapi_connection: Any, record: Any) -> None:
    record.info[_RETURNED_AT] = time.monotonic()


_PSYCOPG2_HINT = "install `pip install 'polyaxon-core[postgres]'` (psycopg2)"
_PSYCOPG3_HINT = "install `pip install 'polyaxon-core[psycopg]'` (psycopg 3)"
_POSTGRES_HINT = (f"for postgresql:// URLs {_PSYCOPG2_HINT}; for postgresql+psycopg:// URLs "
                  f"{_PSYCOPG3_HINT}")
_DRIVER_HINTS = {"postgresql": _PSYCOPG2_HINT, "postgresql+psycopg2": _PSYCOPG2_HINT,
                 "postgresql+psycopg": _PSYCOPG3_HINT}


#: the engines of this process, one per URL
_ENGINES: dict[str, Engine] = {}


def _engine(url: str) -> Engine:
    engine = _ENGINES.get(url)
    if engine is None:
        engine = _ENGINES[url] = create_db_engine(url)
    return engine


#: the engines of :func:`autocommit`, one per URL: pools of their own, whose connections
#: stay in autocommit mode
_AUTOCOMMIT_ENGINES: dict[str, Engine] = {}


def _forget_inherited_connections() -> None:
    """In a forked child: the pooled connections are the parent's (a PostgreSQL socket
    used by both would mix their conversations); the child opens its own, and leaves the
    parent's open for the parent."""
    for engine in [*_ENGINES.values(), *_AUTOCOMMIT_ENGINES.values()]:
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_inherited_connections)


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


@cache
def _reading_factory(url: str) -> sessionmaker[Session]:
    engine = _engine(url)
    if engine.dialect.name != "sqlite":  # in the process, SQLite's transactions cost nothing
        engine = _autocommit_engine(url)
    factory = sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
    event.listen(factory, "before_flush", _refuse_writes)
    return factory


def _refuse_writes(_session: Session, _context: Any, _instances: Any) -> None:
    raise RuntimeError("a reading session writes nothing: write in a session_scope")


@contextmanager
def reading(url: str) -> Iterator[Session]:
    """A session for reads alone, such as the listings each orchestrator pass begins with.

    On a database server its statements run in autocommit mode, each its own snapshot, on
    the connections of :func:`autocommit`'s pool: a read costs its round trip alone (no
    ``BEGIN``, no ``COMMIT``, no ping; a connection found lost fails the statement, and
    the caller reads again on its next pass). On SQLite, in the process, those cost
    nothing: its connections are the ordinary ones. Writing through it is refused."""
    session = _reading_factory(url)()
    try:
        yield session
    finally:
        session.close()


def autocommit(url: str, work: Callable[[Connection], T]) -> T:
    """``work(connection)`` on a connection in autocommit mode: each statement is its own
    transaction, begun and committed by the database in that statement's round trip (a
    statement that writes several tables at once is still all or nothing). For the hot
    paths whose whole work is one statement, safe to send again (doing it twice does no
    harm).

    The connections come from a pool of their own that keeps them in autocommit mode, and
    are not pinged as they leave it: a call is the statement's round trip alone. A
    connection the statement finds lost (the server restarted, or ended it) is given up,
    with every other connection of the pool opened before, and ``work`` is done again on
    a new one (see :func:`_reconnecting`)."""

    def attempt() -> T:
        with _autocommit_engine(url).connect() as connection:
            return work(connection)

    return _reconnecting(attempt)


def _autocommit_engine(url: str) -> Engine:
    engine = _AUTOCOMMIT_ENGINES.get(url)
    if engine is None:
        # last in, first out: the connection used last is reused, the others may idle
        engine = _AUTOCOMMIT_ENGINES[url] = create_engine(_engine(url).url, isolation_level="AUTOCOMMIT",
                                                          pool_use_lifo=True)
    return engine


def is_disconnect(exc: BaseException) -> bool:
    """Whether ``exc`` is the database connection being lost (the server restarted, or
    ended the connection: ``pg_terminate_backend``), rather than a statement failing."""
    from sqlalchemy.exc import DBAPIError

    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


#: how many times :func:`transact` and :func:`autocommit` try, each on a new connection
RECONNECT_ATTEMPTS = 5


def _reconnecting(attempt: Callable[[], T], may_repeat: Callable[[], bool] = lambda: True) -> T:
    """``attempt()``, done again when it lost its connection (and ``may_repeat()``), up
    to :data:`RECONNECT_ATTEMPTS` times, a little later each time: the server may be
    restarting. A lost connection makes the pool give up every connection opened before
    it, so the next attempt has a new one."""
    number = 0
    while True:
        number += 1
        try:
            return attempt()
        except Exception as exc:
            if not is_disconnect(exc) or not may_repeat() or number == RECONNECT_ATTEMPTS:
                raise
            time.sleep(0.05 * 2 ** number)  # the server may be restarting: give it time


def transact(url: str, work: Callable[[Session], T], *, idempotent: bool = False) -> T:
    """``work(session)`` in one transaction (committed, or rolled back on error), begun
    again on a new connection when the one it had is lost before the commit; also when
    lost *during* the commit if ``idempotent`` (doing it twice does no harm), since the
    server may have committed it then. See :func:`_reconnecting`."""
    committing = False

    def attempt() -> T:
        nonlocal committing
        committing = False
        with session_scope(url) as session:
            result = work(session)
            committing = True
        return result

    return _reconnecting(attempt, lambda: idempotent or not committing)


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_PATH))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Bring the database at ``url`` to the newest schema (idempotent).

    Several processes may open a brand-new database at once (16 ``polyaxon run`` in a new
    home, the replicas of a server): they take turns, and each one after the first finds
    the schema current. On PostgreSQL the turn is an advisory lock held for the
    transaction; on SQLite an exclusive ``flock`` on a file beside the database.
    """
    from alembic import command

    engine = get_engine(url)
    with _migration_lock(engine), engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        config = alembic_config(url)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


#: the advisory lock key migrations take on PostgreSQL ("plx-mig" as an integer)
_MIGRATION_LOCK = int.from_bytes(b"plx-mig", "big")


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    import fcntl

    lock_path = Path(database).expanduser().with_name(Path(database).name + ".migrate.lock")
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_REVISION = re.compile(r'^(down_revision|revision)\b[^=]*=\s*(?:"([^"]*)"|None)', re.MULTILINE)


@cache
def head_revisions() -> frozenset[str]:
    """The newest migrations, read from the migration files themselves: every command
    asks whether the schema is current, and importing alembic to know costs more than
    the command (a test checks this agrees with alembic)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for file in (MIGRATIONS_PATH / "versions").glob("*.py"):
        for kind, value in _REVISION.findall(file.read_text(encoding="utf-8")):
            if value:
                (revisions if kind == "revision" else parents).add(value)
    return frozenset(revisions - parents)


def is_current(url: str) -> bool:
    """Whether the database exists and is at the newest migration."""
    engine = get_engine(url)
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return False
        current = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return set(current) == head_revisions()


def ensure_database(url: str) -> None:
    """Migrate if needed; cheap when the schema is already current. A connection lost on
    the way (the server restarting, or ending connections) is replaced and the check made
    again (:func:`_reconnecting`): PostgreSQL migrates in one transaction, so a migration
    cut short left nothing behind."""

    def attempt() -> None:
        if not is_current(url):
            migrate(url)

    _reconnecting(attempt)
