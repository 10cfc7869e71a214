"""A bounded buffer of metric points, sent in batches by one background thread.

Logging a metric puts points into the buffer and returns at once; a daemon thread takes
up to ``batch_size`` points at a time, oldest first, and hands them to ``send`` with a
``batch_id`` chosen once per batch. A batch leaves the buffer only after ``send``
returned, so a batch whose sending raised is sent again with the same id (the server
stores a batch id once). The guarantees:

* **bounded**: at most ``capacity`` points wait (the batch being sent included); a
  ``put`` that does not fit blocks until sending makes room, it never drops points;
* **ordered**: batches are sent one at a time, in logging order;
* **prompt**: a batch goes out when ``batch_size`` points wait, else ``interval``
  seconds after the oldest waiting point was logged, else on :meth:`flush`;
* **loud**: an error ``send`` raises as permanent (:class:`PermanentSendError`, e.g. the
  server refused the batch) drops that batch and is raised by the next ``put`` or
  ``flush``; any other error is retried after ``retry_delay(attempt)`` seconds.

The thread is a daemon so that a process is never kept alive by it; the owner flushes
on ``end()`` and at interpreter exit (the daemon thread still runs during ``atexit``).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

Point = TypeVar("Point")


class PermanentSendError(Exception):
    """``send`` failed in a way retrying cannot fix; the batch is dropped."""


class MetricsNotStored(Exception):
    """Raised to the logging code: earlier points could not be stored."""


class MetricsBuffer(Generic[Point]):
    def __init__(
        self,
        send: Callable[[str, list[Point]], None],
        *,
        capacity: int = 10_000,
        batch_size: int = 1_000,
        interval: float = 1.0,
        retry_delay: Callable[[int], float] = lambda attempt: min(30.0, 0.25 * 2 ** attempt),
        name: str = "polyaxon-metrics",
    ) -> None:
        if batch_size < 1 or capacity < batch_size:
            raise ValueError(f"need 1 <= batch_size ({batch_size}) <= capacity ({capacity})")
        self._send = send
        self.capacity = capacity
        self.batch_size = batch_size
        self.interval = interval
        self._retry_delay = retry_delay
        self._points: deque[Point] = deque()
        self._oldest_at: float | None = None
        self._flush_requested = False
        self._closed = False
        self._errors: list[str] = []
        self._dropped = 0
        self._lock = threading.Lock()
        self._condition = threading.Condition(self._lock)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # ---------------------------------------------------------------------- producer
    def put(self, points: Sequence[Point], timeout: float | None = None) -> None:
        """Add points, waiting while the buffer is full; raise if earlier points failed.

        A call with more points than fit at once adds them in parts as room is made.
        ``timeout`` bounds the whole wait (``TimeoutError``); None waits as long as needed.
        """
        with self._lock:  # the condition's lock, entered without the Python-level wrapper
            if self._errors:
                self._raise_errors()
            if self._closed:
                raise MetricsNotStored("the metrics buffer is closed")
            waiting = len(self._points)
            if waiting + len(points) <= self.capacity:  # the usual case: room for all
                if not waiting:
                    self._oldest_at = time.monotonic()
                self._points.extend(points)
                # the sender sleeps until a batch is full or the oldest point is due: wake
                # it only when that changed (a notify per point would cost the logging loop)
                if not waiting or waiting + len(points) >= self.batch_size > waiting:
                    self._condition.notify_all()
                return
            deadline = None if timeout is None else time.monotonic() + timeout
            pending = list(points)
            while pending:
                room = self.capacity - len(self._points)
                if room <= 0:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise TimeoutError(
                            f"the metrics buffer stayed full ({self.capacity} points) too long")
                    self._condition.wait(remaining)
                    self._raise_errors()
                    continue
                taken, pending = pending[:room], pending[room:]
                if not self._points:
                    self._oldest_at = time.monotonic()
                self._points.extend(taken)
                self._condition.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every point put so far was sent; False if ``timeout`` ran out first.

        Raises the error of a batch that could not be stored.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._condition:
            self._flush_requested = True
            self._condition.notify_all()
            while self._points:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._condition.wait(remaining)
            self._flush_requested = False
            self._raise_errors()
            return True

    def close(self, timeout: float | None = None) -> bool:
        """Flush, then stop accepting points and let the thread end; whether all were sent."""
        try:
            sent = self.flush(timeout)
        finally:
            with self._condition:
                self._closed = True
                self._condition.notify_all()
        if sent:
            self._thread.join(timeout)
        return sent

    @property
    def pending(self) -> int:
        """Points not yet stored (waiting or being sent)."""
        with self._condition:
            return len(self._points)

    def _raise_errors(self) -> None:
        if self._errors:
            errors, dropped = self._errors, self._dropped
            self._errors, self._dropped = [], 0
            raise MetricsNotStored(f"{dropped} metric point(s) could not be stored: {'; '.join(errors)}")

    # ---------------------------------------------------------------------- consumer
    def _next_batch(self) -> list[Point] | None:
        """Wait for a batch that is due; None once closed and empty."""
        with self._condition:
            while True:
                if self._points:
                    due = (len(self._points) >= self.batch_size or self._flush_requested
                           or self._closed)
                    waited = time.monotonic() - (self._oldest_at or 0.0)
                    if due or waited >= self.interval:
                        batch = [self._points[i] for i in range(min(self.batch_size, len(self._points)))]
                        return batch
                    self._condition.wait(self.interval - waited)
                elif self._closed:
                    return None
                else:
                    self._condition.wait()

    def _done(self, batch_size: int, error: str | None = None) -> None:
        with self._condition:
            for _ in range(batch_size):
                self._points.popleft()
            self._oldest_at = time.monotonic() if self._points else None
            if error is not None:
                self._errors.append(error)
                self._dropped += batch_size
            self._condition.notify_all()

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            batch_id = uuid.uuid4().hex
            attempt = 0
            while True:
                try:
                    self._send(batch_id, batch)
                except PermanentSendError as exc:
                    logger.error("%d metric point(s) were refused: %s", len(batch), exc)
                    self._done(len(batch), str(exc))
                    break
                except Exception as exc:  # retried: the batch id makes a resend harmless
                    delay = self._retry_delay(attempt)
                    logger.warning("sending %d metric point(s) failed (%s); retrying in %.1f s",
                                   len(batch), exc, delay)
                    attempt += 1
                    time.sleep(delay)
                else:
                    self._done(len(batch))
                    break
