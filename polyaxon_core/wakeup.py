"""Wake the orchestrator between its polls when something it waits for has happened.

The orchestrator of a home polls every ``POLYAXON_POLL_INTERVAL`` seconds. Between polls
it waits on a named pipe, ``$POLYAXON_HOME/orchestrator.wakeup``: a process that has just
changed something the orchestrator acts on writes one byte to it with :func:`wake`. The
runner does when a run's process ends; the domain functions that submit, stop, restart or
resume a run mark their session (:func:`wake_after_commit`), and the transaction scopes of
the CLI and of the server wake the orchestrator once it committed. Its next pass then
starts at once instead of up to a poll interval later. Polling stays the ground truth: a wake-up that is
lost (no orchestrator running, a full pipe, a filesystem without named pipes) only costs
the wait it would have saved.
"""

from __future__ import annotations

import contextlib
import os
import select
import stat
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from polyaxon_core.config import Settings

WAKEUP_NAME = "orchestrator.wakeup"
_SESSION_KEY = "polyaxon_wake_orchestrator"


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


def wake_after_commit(session: Any) -> None:
    """Mark ``session``: once it commits, the orchestrator has work (see :func:`wake_if_marked`)."""
    session.info[_SESSION_KEY] = True


def wake_if_marked(session: Any, settings: Settings) -> None:
    """Wake the orchestrator of ``settings`` if ``session`` (committed) was marked."""
    if session.info.pop(_SESSION_KEY, False):
        wake(wakeup_path(settings))


class WakeupChannel:
    """The orchestrator's end of the pipe: :meth:`wait` returns after ``timeout`` seconds
    or as soon as someone calls :func:`wake`, whichever comes first."""

    def __init__(self, path: Path) -> None:
        self.path = path
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
        if self._read is None:
            time.sleep(timeout)
            return False
        # poll, not select: select refuses descriptors past 1023, which a busy server has
        poller = select.poll()
        poller.register(self._read, select.POLLIN)
        ready = poller.poll(max(0.0, timeout) * 1000)
        if ready:
            with contextlib.suppress(BlockingIOError):
                while os.read(self._read, 4096):
                    pass
        return bool(ready)

    def close(self) -> None:
        for descriptor in (self._read, self._keep_open):
            if descriptor is not None:
                os.close(descriptor)
        self._read = self._keep_open = None

    def __enter__(self) -> WakeupChannel:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()
