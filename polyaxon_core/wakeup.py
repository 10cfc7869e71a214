"""Wake the orchestrator between its polls when something it waits for has happened.

The orchestrator of a home polls every ``POLYAXON_POLL_INTERVAL`` seconds. Between polls
it waits on a named pipe, ``$POLYAXON_HOME/orchestrator.wakeup``: a process that has just
changed something the orchestrator acts on writes one byte to it with :func:`wake`. The
runner does when a run's process ends; the domain functions that submit, stop, restart or
resume a run mark their session (:func:`wake_after_commit`), and the transaction scopes of
the CLI, of the server and of the orchestrator's intake (:func:`waking_scope`) wake the
orchestrator once it committed. Its next pass then
starts at once instead of up to a poll interval later.

A named pipe reaches the processes of one machine only. On PostgreSQL, which the
processes of a deployment share across machines (a server, Celery workers, orchestrator
replicas), wake-ups travel through the database instead: a marked transaction sends a
notification on the channel :data:`CHANNEL` as it commits (:func:`notify`), and every
orchestrator listens on a connection of its own (:class:`WakeupChannel` with the
database's URL). An orchestrator's own passes send none: a pass acts on what it commits.

Polling stays the ground truth: a wake-up that is lost (no orchestrator running, a full
pipe, a filesystem without named pipes, the listening connection lost until it is opened
again) only costs the wait it would have saved.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import stat
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from types import TracebackType
from typing import Any

from polyaxon_core.config import Settings

logger = logging.getLogger(__name__)

WAKEUP_NAME = "orchestrator.wakeup"
#: PostgreSQL's notification channel of the wake-ups
CHANNEL = "polyaxon_wakeup"
#: how long a lost listening connection waits before it is opened again
RELISTEN_SECONDS = 5.0
_SESSION_KEY = "polyaxon_wake_orchestrator"
_NOTIFIED_KEY = "polyaxon_wake_notified"
#: whether an orchestrator's pass is committing (it wakes nobody: it acts on it itself)
_PASS: ContextVar[bool] = ContextVar("polyaxon_orchestrator_pass", default=False)


def wakeup_path(settings: Settings) -> Path:
    return settings.home / WAKEUP_NAME


def wake(path: str | Path) -> None:
    """Wake the orchestrator listening on ``path``, if one is; never blocks, never raises."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return  # no such pipe, or nobody reading it: nothing to wake
    try:
        if stat.S_ISFIFO(os.fstat(descriptor).st_mode):  # never write into a regular file
            os.write(descriptor, b"!")
    except OSError:
        pass  # the pipe is full: a wake-up is already pending
    finally:
        os.close(descriptor)


def notify(session: Any) -> bool:
    """On PostgreSQL, have every orchestrator listening to the database woken when
    ``session``'s transaction commits (not at all if it rolls back); whether it will be
    (False on other databases: wake them with :func:`wake`; False in an orchestrator's
    pass, which acts on what it commits in the same pass)."""
    from sqlalchemy.exc import UnboundExecutionError

    if _PASS.get():
        return False
    try:
        dialect = session.get_bind().dialect.name
    except UnboundExecutionError:  # a session on no database: nothing to notify
        return False
    if dialect != "postgresql":
        return False
    if not session.info.get(_NOTIFIED_KEY):
        from sqlalchemy import text

        session.execute(text(f"NOTIFY {CHANNEL}"))
        session.info[_NOTIFIED_KEY] = True
    return True


def wake_after_commit(session: Any) -> None:
    """Mark ``session``: once it commits, the orchestrator has work (see :func:`wake_if_marked`).
    On PostgreSQL the notification is sent with the transaction itself."""
    session.info[_SESSION_KEY] = True
    notify(session)


def wake_if_marked(session: Any, settings: Settings) -> None:
    """Wake the orchestrator of ``settings`` if ``session`` (committed) was marked and the
    database did not carry the wake-up."""
    if session.info.pop(_SESSION_KEY, False) and not session.info.pop(_NOTIFIED_KEY, False):
        wake(wakeup_path(settings))


@contextlib.contextmanager
def waking_scope(settings: Settings) -> Iterator[Any]:
    """A transaction on the database of ``settings`` (see
    :func:`~polyaxon_core.db.session.session_scope`) that wakes the orchestrator once it
    committed work for it."""
    from polyaxon_core.db.session import session_scope

    with session_scope(settings.db_url) as session:
        yield session
    wake_if_marked(session, settings)


@contextlib.contextmanager
def orchestrator_pass() -> Iterator[None]:
    """Mark what is committed within as an orchestrator's pass: it sends no wake-ups."""
    token = _PASS.set(True)
    try:
        yield
    finally:
        _PASS.reset(token)


class DatabaseWakeups:
    """PostgreSQL's notifications on :data:`CHANNEL`, received on a connection of their
    own (psycopg2 or psycopg 3, the driver of the URL). A connection that is lost, or
    cannot be opened, is tried again :data:`RELISTEN_SECONDS` later; meanwhile the
    orchestrator only polls."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Any = None
        self._raw: Any = None
        self._connection: Any = None
        self._retry_at = 0.0
        self._reported = False

    def fileno(self) -> int | None:
        """The descriptor to wait on; None while there is no connection."""
        if self._connection is None and time.monotonic() >= self._retry_at:
            self._listen()
        return self._connection.fileno() if self._connection is not None else None

    def _listen(self) -> None:
        from polyaxon_core.db.session import create_db_engine

        try:
            self._engine = create_db_engine(self.url)
            self._raw = self._engine.raw_connection()
            self._connection = self._raw.driver_connection
            self._connection.rollback()  # whatever the driver began on connecting
            self._connection.autocommit = True
            cursor = self._connection.cursor()
            cursor.execute(f"LISTEN {CHANNEL}")
            cursor.close()
        except Exception as exc:  # the database is down or unreachable: polls meanwhile
            self._lost(exc)
            return
        if self._reported:
            logger.info("listening to the database's wake-ups again")
            self._reported = False

    def drain(self) -> bool:
        """Consume what arrived; whether it wakes the orchestrator (a notification, or the
        connection lost: a pass finds out what changed meanwhile)."""
        try:
            return _received(self._connection) > 0
        except Exception as exc:  # the connection was lost (the server restarted, ended it)
            self._lost(exc)
            return True

    def _lost(self, exc: Exception) -> None:
        if not self._reported:
            logger.warning("wake-ups through the database are off until it answers again "
                           "(polling every POLYAXON_POLL_INTERVAL meanwhile): %s",
                           str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
            self._reported = True
        self.close()
        self._retry_at = time.monotonic() + RELISTEN_SECONDS

    def close(self) -> None:
        raw, engine = self._raw, self._engine
        self._raw = self._engine = self._connection = None
        if raw is not None:
            with contextlib.suppress(Exception):
                raw.invalidate()  # never back into a pool: it is LISTENing
        if engine is not None:
            engine.dispose()


def _received(connection: Any) -> int:
    """How many notifications ``connection`` received; raises if it is lost.
    Readable with nothing received, it is asked a ``SELECT 1``: a connection the server
    ended reads as readable for ever, and only a statement finds it ended."""
    received = _collected(connection)
    if not received:
        cursor = connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        received = _collected(connection)  # what came in with the answer
    return received


def _collected(connection: Any) -> int:
    if hasattr(connection, "pgconn"):  # psycopg 3
        connection.pgconn.consume_input()
        count = 0
        while connection.pgconn.notifies() is not None:
            count += 1
        return count
    connection.poll()  # psycopg2
    count = len(connection.notifies)
    connection.notifies.clear()
    return count


class WakeupChannel:
    """The orchestrator's end of the pipe: :meth:`wait` returns after ``timeout`` seconds
    or as soon as someone calls :func:`wake`, whichever comes first. With ``database``
    (a database URL), so do the notifications of a PostgreSQL database."""

    def __init__(self, path: Path, database: str | None = None) -> None:
        self.path = path
        self._database = (DatabaseWakeups(database)
                          if database is not None and database.startswith("postgresql") else None)
        self._read: int | None = None
        self._keep_open: int | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                os.mkfifo(path, 0o600)
            if not stat.S_ISFIFO(path.stat().st_mode):
                return
            self._read = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            # a writer of our own, so the pipe never reads as closed between wake-ups
            self._keep_open = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            self.close()  # no named pipes here: wait() sleeps instead

    @property
    def listening(self) -> bool:
        """Whether wake-ups reach this channel (False: it only sleeps)."""
        return self._read is not None

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True when woken (pending wake-ups are consumed)."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            sources: dict[int, Callable[[], bool]] = {}
            if self._read is not None:
                sources[self._read] = self._drain_pipe
            if self._database is not None and (listening := self._database.fileno()) is not None:
                sources[listening] = self._database.drain
            remaining = max(0.0, deadline - time.monotonic())
            if not sources:
                time.sleep(remaining)
                return False
            # poll, not select: select refuses descriptors past 1023, which a busy server has
            poller = select.poll()
            for descriptor in sources:
                poller.register(descriptor, select.POLLIN)
            ready = poller.poll(remaining * 1000)
            if not ready:
                return False
            woken = False
            for descriptor, _ in ready:
                woken = sources[descriptor]() or woken
            if woken:
                return True
            if time.monotonic() >= deadline:
                return False

    def _drain_pipe(self) -> bool:
        assert self._read is not None
        with contextlib.suppress(BlockingIOError):
            while os.read(self._read, 4096):
                pass
        return True

    def close(self) -> None:
        for descriptor in (self._read, self._keep_open):
            if descriptor is not None:
                os.close(descriptor)
        self._read = self._keep_open = None
        if self._database is not None:
            self._database.close()

    def __enter__(self) -> WakeupChannel:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()
