"""Start the orchestrator on demand for the embedded default.

One orchestrator per POLYAXON_HOME: it holds an exclusive ``flock`` on
``orchestrator.lock`` for its whole life, which the kernel releases however it dies
(SIGKILL included), so a stale lock can never block a new one. ``polyaxon run`` starts
one in the background when none holds the lock; it exits by itself once idle.
Set ``POLYAXON_ORCHESTRATOR=external`` when a long-running ``polyaxon scheduler`` is
managed by other means (systemd, a container).
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

from polyaxon_core.config import Settings


class OrchestratorLock:
    """The exclusive lock that makes an orchestrator *the* orchestrator of a home."""

    def __init__(self, settings: Settings) -> None:
        self.path = settings.home / "orchestrator.lock"
        self._file: object | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle
        return True

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # type: ignore[attr-defined]
            self._file = None

    def holder_pid(self) -> int | None:
        try:
            text = self.path.read_text().strip()
        except FileNotFoundError:
            return None
        return int(text) if text.isdigit() else None

    def is_held(self) -> bool:
        """Whether some process (this one included) holds the lock now."""
        if self._file is not None:
            return True
        if not self.path.exists():
            return False
        with open(self.path, "a+") as handle:
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
    when it exits, so no zombie is left behind.
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
        process = _spawn(settings)
        deadline = time.monotonic() + _START_TIMEOUT
        while process.poll() is None and not lock.is_held() and time.monotonic() < deadline:
            time.sleep(0.02)
    if process.poll() is not None:
        return None  # it found another orchestrator, or failed: its log says which
    threading.Thread(target=process.wait, name="orchestrator-reaper", daemon=True).start()
    return process.pid


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
