"""Metric points, stored exactly once per client batch."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from polyaxon_core.db.convert import run_to_entity
from polyaxon_core.db.models import Metric, MetricBatch, Run, utcnow
from polyaxon_core.events import queue_event


def log_metric_batch(session: Session, run: Run, batch_id: str,
                     points: Sequence[Mapping[str, Any]]) -> tuple[int, bool]:
    """Store a client's batch of metric points once; returns ``(points, duplicate)``.

    Each point is ``{"name", "value", "step"?, "timestamp"?}``. A ``batch_id`` the run
    already stored is not stored again (``duplicate``), so a client may retry a batch
    whose answer it never received. The run's last values (``metrics`` in queries and
    leaderboards) are updated in the same transaction, and ``polyaxon_on_run_metrics_logged``
    is queued once per step of the batch.
    """
    if batch_stored(session, run, batch_id):
        return len(points), True  # stored by an earlier request
    # The batch row goes in the same transaction as its points (no savepoint: on SQLite a
    # released savepoint can commit it alone). A concurrent request storing the same batch
    # makes this transaction fail on the unique constraint instead: see batch_stored.
    session.add(MetricBatch(run_id=run.id, batch_id=batch_id, points=len(points)))
    now = utcnow()
    session.add_all(
        Metric(run_id=run.id, name=point["name"], step=point.get("step"),
               value=float(point["value"]), timestamp=point.get("timestamp") or now)
        for point in points
    )
    last: dict[str, float] = dict(run.last_metrics or {})
    by_step: dict[int | None, dict[str, float]] = {}
    for point in _in_logging_order(points):
        last[point["name"]] = float(point["value"])
        by_step.setdefault(point.get("step"), {})[point["name"]] = float(point["value"])
    run.last_metrics = last
    session.flush()
    entity = run_to_entity(run)
    for step, values in by_step.items():
        queue_event(session, "polyaxon_on_run_metrics_logged", run=entity, metrics=values, step=step)
    return len(points), False


def batch_stored(session: Session, run: Run, batch_id: str) -> bool:
    """Whether the run already holds the metric batch ``batch_id``."""
    return session.scalar(
        select(MetricBatch.id).where(MetricBatch.run_id == run.id, MetricBatch.batch_id == batch_id)
    ) is not None


def _in_logging_order(points: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Points by step (points without a step keep their place last), so "last" means the
    highest step, whatever order the client sent them in."""
    def key(point: Mapping[str, Any]) -> tuple[bool, int]:
        step = point.get("step")
        return (step is None, step if step is not None else 0)

    return sorted(points, key=key)
