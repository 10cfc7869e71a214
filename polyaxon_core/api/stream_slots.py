"""Counting the long answers (log-follow streams) a server process holds at once.

Each such answer holds one of the server's threads while it lasts, so a process serves
only so many at once, in all and to one user: the others are refused at once (429)
instead of waiting for a thread the rest of the API needs.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator


class StreamLimitReached(Exception):
    """No slot is free; ``per_user`` says which limit was reached."""

    def __init__(self, per_user: bool) -> None:
        super().__init__("per user" if per_user else "in all")
        self.per_user = per_user


class StreamSlots:
    """At most ``total`` streams at once in this process, at most ``per_user`` per user."""

    def __init__(self, total: int, per_user: int) -> None:
        self.total = total
        self.per_user = per_user
        self._lock = threading.Lock()
        self._held: Counter[str] = Counter()

    def acquire(self, user: str) -> Callable[[], None]:
        """Take a slot for ``user``; returns the function that gives it back (once, however
        often it is called). Raises StreamLimitReached when none is free."""
        with self._lock:
            if self._held[user] >= self.per_user:
                raise StreamLimitReached(per_user=True)
            if self._held.total() >= self.total:
                raise StreamLimitReached(per_user=False)
            self._held[user] += 1
        released = threading.Event()

        def release() -> None:
            with self._lock:
                if not released.is_set():
                    released.set()
                    self._held[user] -= 1

        return release


class SlotStream:
    """An answer body holding a slot: the slot is given back as soon as the body ends
    (before the server sends its last chunk, so a client that continues at once finds it
    free) or is closed (the client went away)."""

    def __init__(self, chunks: Iterable[bytes], release: Callable[[], None]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._release = release

    def __iter__(self) -> SlotStream:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._chunks)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self._release()
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
