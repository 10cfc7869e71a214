"""What the SDK's transports share: metric points and how a failed batch waits.

Without a server the data goes to the database and the store directly
(:mod:`polyaxon_core.tracking.database`); with one, :mod:`polyaxon_core.tracking.remote`
sends it to the API. Either is called by :class:`~polyaxon_core.tracking.run.TrackingRun`,
whose background thread hands metric points over in batches (``send_metrics``). Nothing
here imports the database layer: a run that logs through the API never loads it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

#: where the process that owns a run's attempt serves its tracking calls
#: (:mod:`polyaxon_core.tracking.relay`)
SOCKET_VARIABLE = "POLYAXON_TRACKING_SOCKET"


class MetricPoint(NamedTuple):
    """One point; the SDK's hot path makes them as plain tuples of the same fields."""

    name: str
    value: float
    step: int | None
    #: when it was logged (seconds since the epoch, ``time.time()``); None: when it is stored
    timestamp: float | None = None


#: what a point is on the way: ``(name, value, step, timestamp)``, a MetricPoint or a tuple
PointRow = tuple[str, float, int | None, float | None]


def with_times(points: Sequence[PointRow]) -> list[tuple[str, float, int | None, datetime | None]]:
    """The points with their times as UTC datetimes (made once per distinct time: the
    points of one call share theirs)."""
    times: dict[float | None, datetime | None] = {None: None}
    rows = []
    for name, value, step, timestamp in points:
        logged_at = times.get(timestamp)
        if logged_at is None and timestamp is not None:
            logged_at = times[timestamp] = datetime.fromtimestamp(timestamp, UTC)
        rows.append((name, value, step, logged_at))
    return rows


def parse_moment(text: str | None) -> datetime | None:
    """An ISO 8601 moment (an offline run's times); a naive one is UTC."""
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def retry_delay(attempt: int) -> float:
    """Seconds before sending a batch again after the ``attempt``-th failure."""
    return float(min(30.0, 0.25 * 2 ** attempt))


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` at ``path`` whole or not at all: into a partial file of this
    writer's own (the processes of one run, a distributed job's workers, may write the
    same file at once), then renamed over ``path``."""
    partial = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.part")
    partial.write_bytes(data)
    partial.replace(path)
