"""Metric points: stored exactly once per client batch, with the attempt that logged them,
and read back by attempt."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import (
    Select,
    String,
    Table,
    bindparam,
    case,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.orm import Session

from polyaxon_core.db.claims import insert_unless_present
from polyaxon_core.db.convert import run_to_entity
from polyaxon_core.db.models import Metric, MetricBatch, Project, Run, utcnow
from polyaxon_core.entities import SYSTEM_PREFIX
from polyaxon_core.errors import InvalidRequest
from polyaxon_core.events import has_listeners, queue_event

#: a metric point as stored: ``(name, value, step, timestamp or None: when stored)``
MetricRow = tuple[str, float, "int | None", "datetime | None"]


class MetricTarget(Protocol):
    """What storing points needs of a run: a :class:`Run`, or a row of these three
    columns (:func:`metric_target`), which costs a request far less to read."""

    @property
    def id(self) -> int: ...

    @property
    def uuid(self) -> str: ...

    @property
    def meta_info(self) -> dict[str, Any] | None: ...


#: the columns of a :class:`MetricTarget` row
TARGET_COLUMNS = (Run.id, Run.uuid, Run.meta_info)


def metric_target(session: Session, uuid: str) -> MetricTarget:
    """The run ``uuid`` as a :class:`MetricTarget` (NoResultFound when there is none)."""
    return session.execute(select(*TARGET_COLUMNS).where(Run.uuid == uuid)).one()


def current_attempt(run: MetricTarget) -> int:
    """The attempt ``run`` is on: 1 for its first launch, one more for each retry or resume
    (the orchestrator counts them in ``meta_info.attempts`` when it schedules the run)."""
    return max(1, int((run.meta_info or {}).get("attempts", 0)))


def log_metric_batch(session: Session, run: MetricTarget, batch_id: str,
                     points: Sequence[Mapping[str, Any]],
                     attempt: int | None = None) -> tuple[int, bool]:
    """Store a client's batch of metric points once; returns ``(points, duplicate)``.

    A ``batch_id`` the run already stored is not stored again (``duplicate``), so a
    client may retry a batch whose answer it never received. The points are stored as
    :func:`store_metric_points` does.
    """
    return log_metric_rows(session, run, batch_id, _rows(points), attempt)


def log_metric_rows(session: Session, run: MetricTarget, batch_id: str, rows: Sequence[MetricRow],
                    attempt: int | None = None) -> tuple[int, bool]:
    """:func:`log_metric_batch` for rows ``(name, value, step, timestamp or None)``."""
    attempt, by_step, last = _plan(run, rows, attempt)
    # The batch row goes in the same transaction as its points (no savepoint: on SQLite a
    # released savepoint can commit it alone). On PostgreSQL a concurrent request storing
    # the same batch makes this insert wait for it, then find the batch there.
    connection = session.connection()
    if connection.dialect.driver == "psycopg2":
        if not _store_batch(connection, run, batch_id, attempt, rows, last):
            return len(rows), True  # stored by an earlier request
        _stored(session, run, by_step, bool(last))
    elif _claim_batch(session, run.id, batch_id, len(rows)):
        _write_rows(session, run, attempt, rows, by_step, last)
    else:
        return len(rows), True
    return len(rows), False


_BATCHES, _RUNS = cast(Table, MetricBatch.__table__), cast(Table, Run.__table__)


@functools.cache
def _batch_insert(dialect: str) -> Any:
    """The statement :func:`_claim_batch` inserts a batch's row with, built once: one
    that does nothing when the run has the batch on the databases that can say so."""
    return insert_unless_present(_BATCHES, dialect, ["run_id", "batch_id"])


def _claim_batch(session: Session, run_id: int, batch_id: str, points: int) -> bool:
    """Insert the batch's row unless the run has it; whether it was inserted. One
    statement on PostgreSQL and SQLite (``ON CONFLICT DO NOTHING``); elsewhere a read
    then an insert, which a concurrent request for the same batch makes fail on the
    unique constraint (see :func:`batch_stored`)."""
    connection = session.connection()
    dialect = connection.dialect.name
    row = {"run_id": run_id, "batch_id": batch_id, "points": points, "created_at": utcnow()}
    if dialect not in ("postgresql", "sqlite") and batch_stored(session, run_id, batch_id):
        return False
    return bool(connection.execute(_batch_insert(dialect), row).rowcount)


def is_system_metric(name: str) -> bool:
    return name.startswith(SYSTEM_PREFIX)


def store_metric_points(session: Session, run: MetricTarget, points: Sequence[Mapping[str, Any]],
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
    store_metric_rows(session, run, _rows(points), attempt)


def store_metric_rows(session: Session, run: MetricTarget, rows: Sequence[MetricRow],
                      attempt: int | None = None) -> None:
    """:func:`store_metric_points` for rows ``(name, value, step, timestamp or None)``:
    what the tracking SDK hands over, thousands at a time."""
    attempt, by_step, last = _plan(run, rows, attempt)
    _write_rows(session, run, attempt, rows, by_step, last)


def _write_rows(session: Session, run: MetricTarget, attempt: int, rows: Sequence[MetricRow],
                by_step: dict[int | None, dict[str, float]], last: dict[str, float]) -> None:
    """Insert the rows for ``attempt`` of the run and merge its last values, then
    :func:`_stored` (one statement on psycopg2 instead: :func:`_store_batch`)."""
    if rows:
        _insert_rows(session, run.id, attempt, rows, utcnow())
    if last:
        _merge_last_metrics(session, run.id, last)
    _stored(session, run, by_step, bool(last))


def _plan(run: MetricTarget, rows: Sequence[MetricRow],
          attempt: int | None) -> tuple[int, dict[int | None, dict[str, float]], dict[str, float]]:
    """What storing ``rows`` for ``attempt`` of the run means: the attempt (the current
    one by default; a later one is InvalidRequest), the values by step that hooks hear
    of, and the last values to set on the run (none for a past attempt's points)."""
    current = current_attempt(run)
    if attempt is None:
        attempt = current
    if attempt > current:
        raise InvalidRequest(f"run {run.uuid[:12]} is on attempt {current}; it has no attempt "
                             f"{attempt} to log metrics for")
    by_step = _by_step(rows)
    return attempt, by_step, _last_values(by_step) if attempt == current else {}


def _rows(points: Sequence[Mapping[str, Any]]) -> list[MetricRow]:
    """Points ``{"name", "value", "step"?, "timestamp"?}`` as rows."""
    return [(point["name"], float(point["value"]), point.get("step"), point.get("timestamp"))
            for point in points]


def _last_values(by_step: dict[int | None, dict[str, float]]) -> dict[str, float]:
    """The last value of each metric of :func:`_by_step`'s steps."""
    last: dict[str, float] = {}
    for values in by_step.values():
        last.update(values)
    return last


def _by_step(rows: Sequence[MetricRow]) -> dict[int | None, dict[str, float]]:
    """The values of ``rows`` by step, system metrics left out: what hooks hear of, and
    what the last values are made of."""
    by_step: dict[int | None, dict[str, float]] = {}
    # by step (points without a step keep their place last), so "last" means the highest
    # step, whatever order the client sent them in
    for name, value, step, _ in sorted(rows, key=_logging_order):
        if not is_system_metric(name):
            values = by_step.get(step)
            if values is None:
                values = by_step[step] = {}
            values[name] = value
    return by_step


def _stored(session: Session, run: MetricTarget, by_step: dict[int | None, dict[str, float]],
            changed_last: bool) -> None:
    """After points were stored: a loaded run forgets its old last values, and
    ``polyaxon_on_run_metrics_logged`` is queued once per step."""
    if changed_last and isinstance(run, Run):
        session.expire(run, ["last_metrics", "updated_at"])
    if by_step and has_listeners("polyaxon_on_run_metrics_logged"):
        entity = run_to_entity(run if isinstance(run, Run) else session.get_one(Run, run.id))
        for step, values in by_step.items():
            queue_event(session, "polyaxon_on_run_metrics_logged", run=entity, metrics=values,
                        step=step)


def _merge_last_metrics(session: Session, run_id: int, values: dict[str, float]) -> None:
    """Set the run's last values of these metrics, its others kept, in the database itself:
    two requests logging different metrics of one run at once both count."""
    connection = session.connection()
    dialect = connection.dialect.name
    changes = {"run_id": run_id, "updated_at": utcnow()}
    if dialect == "postgresql":
        changes["last_values"] = values
    elif dialect == "sqlite":
        changes["last_values"] = json.dumps(values)
    else:
        column = _RUNS.c.last_metrics
        last = session.scalar(select(column).where(_RUNS.c.id == run_id).with_for_update()) or {}
        changes["last_values"] = {**last, **values}
    connection.execute(_last_metrics_update(dialect), changes)


@functools.cache
def _last_metrics_update(dialect: str) -> Any:
    """The statement :func:`_merge_last_metrics` runs, built once: a merge in the database
    on PostgreSQL (``jsonb ||``) and SQLite (``json_patch``), a plain write elsewhere."""
    column = _RUNS.c.last_metrics
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        merged: Any = func.coalesce(column, literal_column("'{}'::jsonb")).op("||")(
            bindparam("last_values", type_=postgresql.JSONB))
    elif dialect == "sqlite":
        merged = func.json_patch(func.coalesce(column, literal_column("'{}'")),
                                 bindparam("last_values", type_=String()))
    else:
        merged = bindparam("last_values", type_=column.type)
    return (update(_RUNS).where(_RUNS.c.id == bindparam("run_id"))
            .values(last_metrics=merged, updated_at=bindparam("updated_at", type_=_RUNS.c.updated_at.type)))


def _logging_order(row: MetricRow) -> tuple[bool, int]:
    step = row[2]
    return (step is None, step if step is not None else 0)


_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}
_COLUMNS = ("run_id", "attempt", "name", "step", "value", "timestamp")


def _insert_rows(session: Session, run_id: int, attempt: int, rows: Sequence[MetricRow],
                 now: datetime) -> None:
    """Insert the rows with one driver-level statement: thousands of points a batch, where
    the ORM's per-row bookkeeping would cost more than the database. Timestamps go
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
    if dialect.driver == "psycopg2":
        _insert_arrays(connection, run_id, attempt, rows, _iso_times(dialect), now)
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
    connection.exec_driver_sql(statement + f"({', '.join([placeholder] * len(_COLUMNS))})", values)


#: the points of a batch as :func:`_arrays` writes them, a row each
_POINTS = ("unnest(%(positions)s::int[], %(steps)s::bigint[], %(values)s::float8[], "
           "%(times)s::timestamptz[]) AS points(i, s, v, t)")
_INSERT_ARRAYS = (
    f"INSERT INTO {Metric.__tablename__} ({', '.join(_COLUMNS)}) "
    f"SELECT %(run_id)s, %(attempt)s, (%(names)s::text[])[i], s, v, t FROM {_POINTS}")
#: a batch stored in one statement, for the run of the CTE ``target`` (``id``,
#: ``attempt``, ``current``): its row claimed (nothing more when the run has it), its
#: points inserted, the run's last values merged when they are of its current attempt
_STORE_INTO_TARGET = (
    "claimed AS ("
    f"INSERT INTO {MetricBatch.__tablename__} (run_id, batch_id, points, created_at) "
    "SELECT id, %(batch)s, %(count)s, %(now)s FROM target "
    "ON CONFLICT (run_id, batch_id) DO NOTHING RETURNING 1), "
    f"stored AS (INSERT INTO {Metric.__tablename__} ({', '.join(_COLUMNS)}) "
    f"SELECT target.id, target.attempt, (%(names)s::text[])[i], s, v, t FROM target, {_POINTS} "
    "WHERE EXISTS (SELECT FROM claimed)), "
    f"last AS (UPDATE {Run.__tablename__} "
    "SET last_metrics = coalesce(last_metrics, '{}'::jsonb) || %(last)s::jsonb, updated_at = %(now)s "
    f"FROM target WHERE {Run.__tablename__}.id = target.id AND target.attempt = target.current "
    "AND %(any_last)s AND EXISTS (SELECT FROM claimed)) ")
_STORE_BATCH = (
    "WITH target AS (SELECT %(run_id)s AS id, %(attempt)s AS attempt, %(current)s AS current), "
    + _STORE_INTO_TARGET + "SELECT count(*) FROM claimed")
#: what :func:`current_attempt` reads, in SQL: the plain whole number ``meta_info.attempts``
#: (1 at least); a run whose count is anything else takes the general path
_ATTEMPTS = "(runs.meta_info ->> 'attempts')"
_STORE_BATCH_OF = (
    "WITH run AS ("
    f"SELECT runs.id, {_ATTEMPTS} IS NULL OR {_ATTEMPTS} ~ '^[0-9]{{1,9}}$' AS plain, "
    f"greatest(1, CASE WHEN {_ATTEMPTS} ~ '^[0-9]{{1,9}}$' THEN {_ATTEMPTS}::int ELSE 0 END) "
    f"AS current FROM {Run.__tablename__} AS runs "
    f"JOIN {Project.__tablename__} AS projects ON projects.id = runs.project_id "
    "WHERE runs.uuid = %(uuid)s AND projects.owner = %(owner)s AND projects.name = %(project)s), "
    "target AS (SELECT id, current, coalesce(%(attempt)s, current) AS attempt FROM run "
    "WHERE plain AND coalesce(%(attempt)s, current) <= current), "
    + _STORE_INTO_TARGET + "SELECT plain, current, (SELECT count(*) FROM claimed) FROM run")


def _execute(connection: Any, statement: str, parameters: dict[str, Any]) -> Any:
    """``statement`` through the psycopg2 cursor of ``connection``; its first row."""
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute(statement, parameters)
        return cursor.fetchone() if cursor.description else None
    finally:
        cursor.close()


def _batch_parameters(connection: Any, batch_id: str, rows: Sequence[MetricRow],
                      last: dict[str, float]) -> dict[str, Any]:
    """What :data:`_STORE_INTO_TARGET` takes of a batch."""
    now = utcnow()
    names, positions, steps, numbers, times = _arrays(rows, _iso_times(connection.dialect), now)
    return {"batch": batch_id, "count": len(rows), "now": now, "names": names,
            "positions": positions, "steps": steps, "values": numbers, "times": times,
            "last": json.dumps(last), "any_last": bool(last)}


def _store_batch(connection: Any, run: MetricTarget, batch_id: str, attempt: int,
                 rows: Sequence[MetricRow], last: dict[str, float]) -> bool:
    """A batch through psycopg2 in one statement (:data:`_STORE_INTO_TARGET`); whether
    it was stored. One round trip instead of three, each of which a request waits for."""
    (claimed,) = _execute(connection, _STORE_BATCH, {
        "run_id": run.id, "attempt": attempt, "current": current_attempt(run),
        **_batch_parameters(connection, batch_id, rows, last)})
    return bool(claimed)


def log_metric_batch_at(connection: Any, owner: str, project: str, uuid: str, batch_id: str,
                        points: Sequence[Mapping[str, Any]],
                        attempt: int | None = None) -> tuple[int, bool] | None:
    """:func:`log_metric_batch` for the run ``uuid`` (whole) of the project
    ``owner/project``, in one statement that is its own transaction: the run found, the
    batch claimed, its points inserted and the run's last values merged, where the
    general path takes a query and a transaction of its own. ``connection``: through
    psycopg2, in autocommit mode (see :func:`polyaxon_core.db.session.autocommit`).

    None when it cannot say, having stored nothing: no such run (the general path names
    what is missing), an attempts count that is not a plain number, or plugins listening
    to logged metrics (the general path tells them).
    """
    if has_listeners("polyaxon_on_run_metrics_logged"):
        return None
    rows = _rows(points)
    found = _execute(connection, _STORE_BATCH_OF, {
        "uuid": uuid, "owner": owner, "project": project, "attempt": attempt,
        **_batch_parameters(connection, batch_id, rows, _last_values(_by_step(rows)))})
    if found is None or not found[0]:
        return None
    _, current, claimed = found
    if attempt is not None and attempt > current:
        raise InvalidRequest(f"run {uuid[:12]} is on attempt {current}; it has no attempt "
                             f"{attempt} to log metrics for")
    return len(rows), not claimed


def _insert_arrays(connection: Any, run_id: int, attempt: int, rows: Sequence[MetricRow],
                   bind: Any, now: datetime) -> None:
    """The rows in one statement through psycopg2 (see :func:`_arrays`)."""
    names, positions, steps, numbers, times = _arrays(rows, bind, now)
    _execute(connection, _INSERT_ARRAYS, {
        "run_id": run_id, "attempt": attempt, "names": names, "positions": positions,
        "steps": steps, "values": numbers, "times": times})


def _arrays(rows: Sequence[MetricRow], bind: Any, now: datetime) -> tuple[list[str], str, str, str, str]:
    """The rows as :data:`_INSERT_ARRAYS` takes them, a column at a time: the distinct
    names, then each column one PostgreSQL array written here (numbers as Python writes
    them, exactly; a name by its position), where psycopg2 would quote the points one
    value at a time, which costs more than the database's insert."""
    names: dict[str, int] = {}
    for name, _, _, _ in rows:
        if name not in names:
            names[name] = len(names) + 1
    times: dict[datetime | None, str] = {None: f'"{bind(now)}"'}
    for _, _, _, timestamp in rows:
        if timestamp not in times:
            times[timestamp] = f'"{bind(timestamp)}"'
    columns = (
        ",".join([str(names[row[0]]) for row in rows]),
        ",".join(["NULL" if row[2] is None else str(row[2]) for row in rows]),
        ",".join([repr(float(row[1])) for row in rows]),
        ",".join([times[row[3]] for row in rows]),
    )
    positions, steps, numbers, stamps = ("{" + column + "}" for column in columns)
    return list(names), positions, steps, numbers, stamps


def _iso_times(dialect: Any) -> Callable[[datetime], str]:
    """A time as the ``timestamp`` column stores it, as ISO text (for an array's text)."""
    process = Metric.__table__.c.timestamp.type.bind_processor(dialect) or (lambda value: value)
    return lambda moment: process(moment).isoformat()


def batch_stored(session: Session, run_id: int, batch_id: str) -> bool:
    """Whether the run ``run_id`` already holds the metric batch ``batch_id``."""
    return session.scalar(
        select(MetricBatch.id).where(MetricBatch.run_id == run_id, MetricBatch.batch_id == batch_id)
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
