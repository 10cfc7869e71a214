"""Metric points: stored exactly once per client batch, with the attempt that logged them,
and read back by attempt."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, insert, select
from sqlalchemy.orm import Session

from polyaxon_core.db.convert import run_to_entity
from polyaxon_core.db.models import Metric, MetricBatch, Run, utcnow
from polyaxon_core.entities import SYSTEM_PREFIX
from polyaxon_core.errors import InvalidRequest
from polyaxon_core.events import has_listeners, queue_event

#: a metric point as stored: ``(name, value, step, timestamp or None: when stored)``
MetricRow = tuple[str, float, "int | None", "datetime | None"]


def current_attempt(run: Run) -> int:
    """The attempt ``run`` is on: 1 for its first launch, one more for each retry or resume
    (the orchestrator counts them in ``meta_info.attempts`` when it schedules the run)."""
    return max(1, int((run.meta_info or {}).get("attempts", 0)))


def log_metric_batch(session: Session, run: Run, batch_id: str,
                     points: Sequence[Mapping[str, Any]],
                     attempt: int | None = None) -> tuple[int, bool]:
    """Store a client's batch of metric points once; returns ``(points, duplicate)``.

    A ``batch_id`` the run already stored is not stored again (``duplicate``), so a
    client may retry a batch whose answer it never received. The points are stored as
    :func:`store_metric_points` does.
    """
    return log_metric_rows(session, run, batch_id, [
        (point["name"], float(point["value"]), point.get("step"), point.get("timestamp"))
        for point in points
    ], attempt)


def log_metric_rows(session: Session, run: Run, batch_id: str, rows: Sequence[MetricRow],
                    attempt: int | None = None) -> tuple[int, bool]:
    """:func:`log_metric_batch` for rows ``(name, value, step, timestamp or None)``."""
    if batch_stored(session, run, batch_id):
        return len(rows), True  # stored by an earlier request
    # The batch row goes in the same transaction as its points (no savepoint: on SQLite a
    # released savepoint can commit it alone). A concurrent request storing the same batch
    # makes this transaction fail on the unique constraint instead: see batch_stored.
    session.add(MetricBatch(run_id=run.id, batch_id=batch_id, points=len(rows)))
    store_metric_rows(session, run, rows, attempt)
    return len(rows), False


def is_system_metric(name: str) -> bool:
    return name.startswith(SYSTEM_PREFIX)


def store_metric_points(session: Session, run: Run, points: Sequence[Mapping[str, Any]],
                        attempt: int | None = None) -> None:
    """Store points ``{"name", "value", "step"?, "timestamp"?}`` logged by ``attempt`` of
    the run (default: its current attempt; a later one than that is InvalidRequest).

    Points of the current attempt also update the run's last values (``metrics`` in
    queries and leaderboards), in the same transaction; points a previous attempt sends
    late are stored with that attempt and leave them alone. ``polyaxon_on_run_metrics_logged``
    is queued once per step. Resource samples (``system/...``) are stored as any point,
    but change no last value and are heard by no hook: they describe the machine, not
    the model.
    """
    store_metric_rows(session, run, [
        (point["name"], float(point["value"]), point.get("step"), point.get("timestamp"))
        for point in points
    ], attempt)


def store_metric_rows(session: Session, run: Run, rows: Sequence[MetricRow],
                      attempt: int | None = None) -> None:
    """:func:`store_metric_points` for rows ``(name, value, step, timestamp or None)``:
    what the tracking SDK hands over, thousands at a time."""
    current = current_attempt(run)
    if attempt is None:
        attempt = current
    if attempt > current:
        raise InvalidRequest(f"run {run.uuid[:12]} is on attempt {current}; it has no attempt "
                             f"{attempt} to log metrics for")
    if not rows:
        return
    _insert_rows(session, run.id, attempt, rows, utcnow())
    by_step: dict[int | None, dict[str, float]] = {}
    # by step (points without a step keep their place last), so "last" means the highest
    # step, whatever order the client sent them in
    for name, value, step, _ in sorted(rows, key=_logging_order):
        if not is_system_metric(name):
            values = by_step.get(step)
            if values is None:
                values = by_step[step] = {}
            values[name] = value
    if attempt == current and by_step:
        last: dict[str, float] = dict(run.last_metrics or {})
        for values in by_step.values():
            last.update(values)
        run.last_metrics = last
    session.flush()
    if by_step and has_listeners("polyaxon_on_run_metrics_logged"):
        entity = run_to_entity(run)
        for step, values in by_step.items():
            queue_event(session, "polyaxon_on_run_metrics_logged", run=entity, metrics=values,
                        step=step)


def _logging_order(row: MetricRow) -> tuple[bool, int]:
    step = row[2]
    return (step is None, step if step is not None else 0)


_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}
_COLUMNS = ("run_id", "attempt", "name", "step", "value", "timestamp")


def _insert_rows(session: Session, run_id: int, attempt: int, rows: Sequence[MetricRow],
                 now: datetime) -> None:
    """Insert the rows with one driver-level statement (an ``executemany``; with psycopg2 a
    multi-row ``VALUES``): thousands of points a batch, where the ORM's per-row
    bookkeeping would cost more than the database. Timestamps go
    through the column's own bind processor (once per distinct time), so they are stored
    exactly as the ORM stores them."""
    connection = session.connection()
    dialect = connection.dialect
    placeholder = _PLACEHOLDERS.get(dialect.paramstyle)
    if placeholder is None:  # a driver with named parameters: the generic path
        session.execute(insert(Metric), [
            dict(zip(_COLUMNS, (run_id, attempt, name, step, value, timestamp or now), strict=True))
            for name, value, step, timestamp in rows])
        return
    process = Metric.__table__.c.timestamp.type.bind_processor(dialect) or (lambda value: value)
    if dialect.name == "sqlite":
        # the text the sqlite3 module would make of the datetime, made once per time
        def bind(value: datetime) -> Any:
            bound = process(value)
            return bound.isoformat(" ") if isinstance(bound, datetime) else bound
    else:
        bind = process
    bound: dict[datetime | None, Any] = {None: bind(now)}
    values = []
    for name, value, step, timestamp in rows:
        stamp = bound.get(timestamp)
        if stamp is None and timestamp is not None:
            stamp = bound[timestamp] = bind(timestamp)
        values.append((run_id, attempt, name, step, value, stamp))
    statement = f"INSERT INTO {Metric.__tablename__} ({', '.join(_COLUMNS)}) VALUES "
    if dialect.driver == "psycopg2":
        # psycopg2's executemany sends one statement per row: one multi-row VALUES instead
        from psycopg2.extras import execute_values

        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            execute_values(cursor, statement + "%s", values, page_size=len(values) or 1)
        finally:
            cursor.close()
        return
    connection.exec_driver_sql(statement + f"({', '.join([placeholder] * len(_COLUMNS))})", values)


def batch_stored(session: Session, run: Run, batch_id: str) -> bool:
    """Whether the run already holds the metric batch ``batch_id``."""
    return session.scalar(
        select(MetricBatch.id).where(MetricBatch.run_id == run.id, MetricBatch.batch_id == batch_id)
    ) is not None


#: a query of metric points: id, name, step, value, timestamp, attempt
Points = Select[int, str, int | None, float, datetime, int]
#: ``attempt`` of :func:`read_metrics` for the points of every attempt
ALL_ATTEMPTS = "all"
_MOST_POINTS = 2**31 - 1


def read_metrics(session: Session, run: Run, *, names: Sequence[str] = (),
                 attempt: int | str | None = None, limit: int | None = None,
                 tail: int | None = None, max_points: int | None = None) -> dict[str, Any]:
    """A run's metric series: ``{"attempt", "attempts", "metrics": {name: [{"step",
    "value", "timestamp", "attempt"}, ...]}}``, each series by step (points without a
    step last).

    ``attempt`` picks the points of one attempt; by default the latest attempt that
    logged any (``attempt`` in the answer, None when there are none), with
    :data:`ALL_ATTEMPTS` every attempt's, one after the other (``attempt`` None).
    ``attempts`` lists the attempts that logged points; an attempt the run never reached
    is InvalidRequest. ``limit`` keeps the first, ``tail`` the last, that many points of
    each series (not both). ``max_points`` then thins each series to at most that many
    points, evenly spread, its first and last always kept: the database does it, so a
    series of millions of points costs a chart no more than its ``max_points``.
    """
    if limit is not None and tail is not None:
        raise InvalidRequest("give a limit (the first points of each series) or a tail (the "
                             "last ones), not both")
    if max_points is not None and max_points < 2:
        raise InvalidRequest(f"max_points keeps the first and the last point: give 2 or more, "
                             f"not {max_points}")
    names_filter = [Metric.name.in_(names)] if names else []
    attempts = list(session.scalars(
        select(Metric.attempt).where(Metric.run_id == run.id, *names_filter)
        .group_by(Metric.attempt).order_by(Metric.attempt)))
    if attempt is None:
        attempt = attempts[-1] if attempts else None
    elif attempt != ALL_ATTEMPTS and not isinstance(attempt, int):
        raise InvalidRequest(f"attempt {attempt!r} is neither a number nor '{ALL_ATTEMPTS}'")
    elif isinstance(attempt, int) and not 1 <= attempt <= current_attempt(run):
        raise InvalidRequest(f"run {run.uuid[:12]} has attempts 1 to {current_attempt(run)}, "
                             f"not {attempt}")
    chosen = attempt if isinstance(attempt, int) else None
    conditions = [Metric.run_id == run.id, *names_filter]
    if chosen is not None:
        conditions.append(Metric.attempt == chosen)
    statement: Points = select(Metric.id, Metric.name, Metric.step, Metric.value,
                               Metric.timestamp, Metric.attempt).where(*conditions)
    count = limit if limit is not None else tail
    if count is not None:
        statement = _first_or_last(statement, min(count, _MOST_POINTS), last=tail is not None)
    if max_points is not None:
        statement = _evenly_spread(statement, min(max_points, _MOST_POINTS),
                                   materialize=_materializes_ctes(session))
    points = statement.subquery()
    series: dict[str, list[dict[str, Any]]] = {}
    for name, step, value, timestamp, point_attempt in session.execute(
            select(points.c.name, points.c.step, points.c.value, points.c.timestamp,
                   points.c.attempt).order_by(points.c.name, *_in_series_order(points))):
        series.setdefault(name, []).append(
            {"step": step, "value": value, "timestamp": timestamp, "attempt": point_attempt})
    return {"attempt": chosen, "attempts": attempts, "metrics": series}


def _materializes_ctes(session: Session) -> bool:
    """Whether the database takes ``WITH name AS MATERIALIZED`` (PostgreSQL 12, SQLite 3.35)."""
    dialect = session.get_bind().dialect
    version = dialect.server_version_info or ()
    return tuple(version) >= ((12,) if dialect.name == "postgresql" else (3, 35))


def _in_series_order(points: Any, *, backward: bool = False) -> tuple[Any, ...]:
    """A series' order: by attempt, then step (points without one last), then arrival."""
    if backward:
        return (points.c.attempt.desc(), points.c.step.desc().nulls_first(), points.c.id.desc())
    return (points.c.attempt.asc(), points.c.step.asc().nulls_last(), points.c.id.asc())


def _first_or_last(statement: Points, count: int, *, last: bool) -> Points:
    """The first (or ``last``) ``count`` points of each series of ``statement``."""
    points = statement.subquery()
    position = func.row_number().over(partition_by=points.c.name,
                                      order_by=_in_series_order(points, backward=last))
    numbered = select(points, position.label("position")).subquery()
    return select(*(numbered.c[column.key] for column in points.c)).where(
        numbered.c.position <= count)


def _evenly_spread(statement: Points, most: int, *, materialize: bool) -> Points:
    """At most ``most`` points of each series of ``statement``, evenly spread, the first
    and the last kept.

    The i-th of a series' n points (from 0) stays when i * (most - 1) / (n - 1) reaches a
    whole number that the point before it had not reached: exactly ``most`` points, the
    first (i = 0) and the last (i = n - 1) among them. In integers, that is
    ``i * (most - 1) % (n - 1) < most - 1``.

    The points are numbered from their keys alone (id, name, attempt, step: what the
    metrics index holds) and counted apart, and only the points kept are read whole: a
    database numbering whole rows of a long series spent twice the time.
    """
    points = statement.subquery()
    keys = select(points.c.id, points.c.name, points.c.attempt, points.c.step).subquery()
    index = func.row_number().over(partition_by=keys.c.name, order_by=_in_series_order(keys)) - 1
    numbered = select(keys.c.id, keys.c.name, index.label("index")).subquery()
    totals = (select(points.c.name, func.count().label("total"))
              .group_by(points.c.name).subquery())
    spread = most - 1
    kept = case((totals.c.total <= most, True),
                else_=(numbered.c.index * spread) % (totals.c.total - 1) < spread)
    # materialized first (where the database can be told so), so that it reads whole rows
    # of the kept points only
    chosen = (select(numbered.c.id).join(totals, totals.c.name == numbered.c.name)
              .where(kept).cte("chosen"))
    if materialize:
        chosen = chosen.prefix_with("MATERIALIZED")
    return (select(Metric.id, Metric.name, Metric.step, Metric.value, Metric.timestamp,
                   Metric.attempt)
            .join(chosen, chosen.c.id == Metric.id))
