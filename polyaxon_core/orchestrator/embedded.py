"""Start the orchestrator on demand for the embedded default.

One orchestrator per POLYAXON_HOME: it holds an exclusive ``flock`` on
``orchestrator.lock`` for its whole life, which the kernel releases however it dies
(SIGKILL included), so a stale lock can never block a new one. ``polyaxon run`` starts
one in the background when none holds the lock; it exits by itself once idle.
Set ``POLYAXON_ORCHESTRATOR=external`` when a long-running ``polyaxon scheduler`` is
managed by other means (systemd, a container).

The lock file also says who holds it and how it is doing, as one JSON object: the pid,
the scheduler and store it uses (so a command configured for other backends can refuse
instead of being silently ignored), what it found of the installed plugins (the class of
that scheduler as ``module:qualname``, the event hooks some plugin implements, the plugins
turned off: a command submitting to it need not discover every installed plugin again),
the socket it takes submissions on (:mod:`polyaxon_core.orchestrator.intake`), and,
while its passes fail on storage it cannot write (a full disk, a read-only database),
that error. The file is rewritten in place
and stays well under one block, so this works on a full disk too.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TextIO

from polyaxon_core.config import Settings
from polyaxon_core.errors import PolyaxonError

logger = logging.getLogger(__name__)

#: the status kept in the lock file is cut to this many characters (well under a block)
_STATUS_LIMIT = 2048


class OrchestratorUnavailable(PolyaxonError):
    """No orchestrator can serve this home: it could not start, or it cannot write."""


class OrchestratorLock:
    """The exclusive lock that makes an orchestrator *the* orchestrator of a home."""

    def __init__(self, settings: Settings, plugins: Mapping[str, object] | None = None) -> None:
        self.settings = settings
        #: what the holder publishes of its plugins (``scheduler_class``, ``listeners``)
        self.plugins = dict(plugins or {})
        self.path = settings.home / "orchestrator.lock"
        self._file: TextIO | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # read-write without O_APPEND, so the status is rewritten in place
        handle = os.fdopen(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644), "r+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        self.record_error(None)
        return True

    def record_error(self, error: str | None) -> None:
        """Publish the holder's status: its backends and ``error`` (None when all is well)."""
        if self._file is None:
            return
        status = {"pid": os.getpid(), "scheduler": self.settings.scheduler,
                  "store": self.settings.store, **self.plugins,
                  "disabled_plugins": sorted(self.settings.disabled_plugins),
                  "error": error and error[:_STATUS_LIMIT]}
        data = json.dumps(status).encode()
        try:  # unbuffered, in place: written first, then cut to its length
            os.pwrite(self._file.fileno(), data, 0)
            os.ftruncate(self._file.fileno(), len(data))
        except OSError as exc:  # a home remounted read-only: the orchestrator's log says it
            logger.warning("cannot update %s: %s", self.path, exc.strerror or exc)

    def publish(self, **entries: object) -> None:
        """Add ``entries`` to what the holder publishes (an address it serves on)."""
        self.plugins.update(entries)
        self.record_error(None)

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def holder_status(self) -> dict[str, object]:
        """What the holder last published (pid, scheduler, store, what it found of the
        plugins, error); empty if nothing."""
        try:
            status = json.loads(self.path.read_text() or "{}")
        except (FileNotFoundError, ValueError):
            return {}
        return status if isinstance(status, dict) else {}

    def holder_pid(self) -> int | None:
        pid = self.holder_status().get("pid")
        return pid if isinstance(pid, int) else None

    def is_held(self) -> bool:
        """Whether some process (this one included) holds the lock now."""
        if self._file is not None:
            return True
        if not self.path.exists():
            return False
        with open(self.path) as handle:  # a shared look works on a read-only home too
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False

    def __enter__(self) -> OrchestratorLock:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.release()


#: how long a starter waits for the orchestrator it started to hold the lock
_START_TIMEOUT = 60.0


def ensure_orchestrator(settings: Settings) -> int | None:
    """Start a background orchestrator unless one runs; returns the new pid, if any.

    A burst of callers (16 ``polyaxon run`` at once, a server's request threads) starts
    one orchestrator: starters take turns on ``orchestrator.start.lock``, and each one
    waits until the orchestrator it started holds the orchestrator lock (or has exited)
    before letting the next one look. A long-lived caller (the server) reaps the child
    when it exits, so no zombie is left behind. When the one it started exits without
    any orchestrator holding the lock, raises :class:`OrchestratorUnavailable` with the
    error it wrote to its log.
    """
    if os.environ.get("POLYAXON_ORCHESTRATOR", "auto") == "external":
        return None
    lock = OrchestratorLock(settings)
    if lock.is_held():
        return None
    settings.home.mkdir(parents=True, exist_ok=True)
    with open(settings.home / "orchestrator.start.lock", "a") as starting:
        fcntl.flock(starting, fcntl.LOCK_EX)
        if lock.is_held():
            return None
        log_path = settings.home / "logs" / "orchestrator.log"
        log_offset = log_path.stat().st_size if log_path.exists() else 0
        process = _spawn(settings)
        deadline = time.monotonic() + _START_TIMEOUT
        while process.poll() is None and not lock.is_held() and time.monotonic() < deadline:
            time.sleep(0.02)
    if process.poll() is not None:
        if lock.is_held():
            return None  # it found another orchestrator, started in the meantime
        raise OrchestratorUnavailable(
            f"the orchestrator for {settings.home} exited at start "
            f"(code {process.returncode}): {_last_error(log_path, log_offset)}; "
            f"fix that and run the command again (log: {log_path})"
        )
    threading.Thread(target=process.wait, name="orchestrator-reaper", daemon=True).start()
    return process.pid


def orchestrator_error(settings: Settings) -> str | None:
    """The error that keeps the running orchestrator from making progress, if any."""
    lock = OrchestratorLock(settings)
    if not lock.is_held():
        return None
    error = lock.holder_status().get("error")
    return str(error) if error else None


def _last_error(log_path: Path, offset: int) -> str:
    """The last line an orchestrator wrote to its log from ``offset`` on: the CLI's error."""
    try:
        with open(log_path, "rb") as log:
            log.seek(offset)
            lines = log.read().decode(errors="replace").splitlines()
    except OSError as exc:
        return f"its log {log_path} cannot be read ({exc.strerror or exc})"
    errors = [line.strip() for line in lines if line.startswith("Error:")]
    meaningful = errors or [line.strip() for line in lines if line.strip()]
    return meaningful[-1] if meaningful else "it wrote nothing"


def _spawn(settings: Settings) -> subprocess.Popen[bytes]:
    logs = settings.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "orchestrator.log", "ab") as log:
        log.write(f"starting an orchestrator on demand (requested by pid {os.getpid()})\n".encode())
        log.flush()
        return subprocess.Popen(
            [sys.executable, "-m", "polyaxon_core.cli", "scheduler",
             "--exit-when-idle", str(settings.idle_exit_seconds), "--quiet-if-running"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            cwd=str(Path(settings.home)),
        )
