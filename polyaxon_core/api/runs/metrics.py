"""A run's metrics: batches stored once each, and series read back by attempt (cut to
their first or last points, downsampled)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import request
from marshmallow import Schema, fields, validate
from sqlalchemy.exc import IntegrityError

from polyaxon_core.api.common import (
    FIRST_YEAR,
    INT64,
    LAST_YEAR,
    Answer,
    Float,
    InputSchema,
    Timestamp,
    check_owner,
    dump,
    load_body,
    load_query,
    unstorable_text,
)
from polyaxon_core.api.errors import ParameterError, PayloadTooLarge
from polyaxon_core.api.extensions import server
from polyaxon_core.api.routing import Reply, Route
from polyaxon_core.api.runs.api import RUN_PATH, find_run, find_run_columns, run_lookup
from polyaxon_core.db.session import autocommit, get_engine
from polyaxon_core.domain.metrics import (
    ALL_ATTEMPTS,
    TARGET_COLUMNS,
    batch_stored,
    log_metric_batch,
    log_metric_batch_at,
    read_metrics,
)
from polyaxon_core.permissions import RUN_READ, RUN_UPDATE

MAX_BATCH_POINTS = 1_000
#: the most series one read may name
MAX_METRIC_NAMES = 256


class MetricPointSchema(InputSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=256))
    value = Float(required=True, allow_nan=False)
    step = fields.Integer(allow_none=True, load_default=None, validate=INT64)
    timestamp = Timestamp(allow_none=True, load_default=None,
                          metadata={"description": "when it was logged (default: now)"})


class MetricBatchSchema(InputSchema):
    batch_id = fields.String(required=True, validate=validate.Length(min=1, max=64), metadata={
        "description": "chosen by the client; a batch sent again with it is not stored twice"})
    metrics = fields.List(fields.Nested(MetricPointSchema), required=True,
                          validate=validate.Length(min=1), metadata={
                              "description": f"at most {MAX_BATCH_POINTS} points (more: 413)"})
    attempt = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1),
                             metadata={"description": "the attempt of the run that logged the "
                                       "points (default: its current attempt)"})


_BATCH_KEYS = frozenset({"batch_id", "metrics", "attempt"})
_POINT_KEYS = frozenset({"name", "value", "step", "timestamp"})
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def quick_batch(body: dict[str, Any]) -> dict[str, Any] | None:
    """``body`` as :class:`MetricBatchSchema` loads it, when it has the common shape: a
    batch id, at most :data:`MAX_BATCH_POINTS` points each with a name, a finite number,
    an integer step or none, an ISO time or none, and no other key. Checked in one loop:
    thousands of points a request, where the schema's per-point work (and the walk for
    what no database can store) would cost more than storing them. None for any other
    body, which the schema then loads and names every problem of."""
    if not body.keys() <= _BATCH_KEYS:
        return None
    batch_id, attempt, points = body.get("batch_id"), body.get("attempt"), body.get("metrics")
    if (not isinstance(batch_id, str) or not 1 <= len(batch_id) <= 64 or unstorable_text(batch_id)
            or attempt is not None and (not isinstance(attempt, int) or isinstance(attempt, bool)
                                        or attempt < 1)
            or not isinstance(points, list) or not 1 <= len(points) <= MAX_BATCH_POINTS):
        return None
    loaded = []
    names = set()
    for point in points:
        if not isinstance(point, dict) or not point.keys() <= _POINT_KEYS:
            return None
        name, number, step = point.get("name"), point.get("value"), point.get("step")
        if (not isinstance(name, str) or not 1 <= len(name) <= 256
                or not isinstance(number, int | float) or isinstance(number, bool)
                or step is not None and (not isinstance(step, int) or isinstance(step, bool)
                                         or not _INT64_MIN <= step <= _INT64_MAX)):
            return None
        try:
            number = float(number)
        except OverflowError:  # an integer too large for a float
            return None
        if number != number or number in (float("inf"), float("-inf")):
            return None
        moment = point.get("timestamp")
        if moment is not None:
            moment = _time(moment)
            if moment is None:
                return None
        names.add(name)
        loaded.append({"name": name, "value": number, "step": step, "timestamp": moment})
    if any(unstorable_text(name) for name in names):
        return None
    return {"batch_id": batch_id, "metrics": loaded, "attempt": attempt}


def _time(value: Any) -> datetime | None:
    """An ISO time as :class:`Timestamp` loads it (UTC when it has no zone), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment if FIRST_YEAR <= moment.year <= LAST_YEAR else None


class MetricBatchResultSchema(Schema):
    count = fields.Integer(required=True)
    duplicate = fields.Boolean(required=True, metadata={
        "description": "the run had this batch already; nothing was stored"})


class MetricsQuery(InputSchema):
    names = fields.String(load_default=None, metadata={
        "description": "comma-separated metric names (default: all)"})
    max_points = fields.Integer(load_default=None, validate=validate.Range(min=2), metadata={
        "description": "downsample each series to at most this many points (first and last kept)"})
    attempt = fields.String(load_default=None, validate=validate.Regexp(
        rf"^(?:[1-9][0-9]{{0,8}}|{ALL_ATTEMPTS})$",
        error=f"an attempt number from 1, or '{ALL_ATTEMPTS}'"), metadata={
        "description": f"the attempt whose points to read (default: the latest that logged "
                       f"any), or `{ALL_ATTEMPTS}`"})
    limit = fields.Integer(load_default=None, validate=validate.Range(min=1), metadata={
        "description": "only the first this many points of each series"})
    tail = fields.Integer(load_default=None, validate=validate.Range(min=1), metadata={
        "description": "only the last this many points of each series (not with `limit`)"})


class MetricValueSchema(Schema):
    step = fields.Integer(allow_none=True)
    value = fields.Float(required=True)
    timestamp = fields.DateTime(required=True)
    attempt = fields.Integer(required=True)


class MetricsSchema(Schema):
    attempt = fields.Integer(allow_none=True, required=True, metadata={
        "description": "the attempt the points are of (null: every attempt, or no points)"})
    attempts = fields.List(fields.Integer(), required=True, metadata={
        "description": "the attempts that logged points"})
    metrics = fields.Dict(keys=fields.String(),
                          values=fields.List(fields.Nested(MetricValueSchema)), required=True)


#: the columns of a run storing points needs, read with one query
_TARGET = run_lookup(*TARGET_COLUMNS)


def run_metrics_log(owner: str, project: str, uuid: str) -> Answer:
    """Store a batch of metric points.

    A `batch_id` the run already has is not stored again (200, `duplicate: true`), so a
    client may retry a batch whose answer it lost. The run's last values are updated in
    the same transaction.
    """
    body = load_body(MetricBatchSchema, quick=quick_batch)
    if len(body["metrics"]) > MAX_BATCH_POINTS:
        raise PayloadTooLarge(f"a batch holds at most {MAX_BATCH_POINTS} points, not "
                              f"{len(body['metrics'])}; send them in several batches")
    stored = None
    if len(uuid) == 32 and get_engine(server.settings.db_url).dialect.driver == "psycopg2":
        check_owner(owner)
        try:
            stored = autocommit(server.settings.db_url, lambda connection: log_metric_batch_at(
                connection, owner, project, uuid, body["batch_id"], body["metrics"], body["attempt"]))
        except IntegrityError:  # the run was deleted meanwhile: the general path says so
            stored = None
    count, duplicate = stored if stored is not None else _log_batch(owner, project, uuid, body)
    payload = dump(MetricBatchResultSchema, {"count": count, "duplicate": duplicate})
    return payload, 200 if duplicate else 201


def _log_batch(owner: str, project: str, uuid: str, body: dict[str, Any]) -> tuple[int, bool]:
    """The batch stored in a transaction of its own, the run found first (by a prefix of
    its uuid too): ``(points, duplicate)``."""
    try:
        with server.session() as session:
            return log_metric_batch(
                session, find_run_columns(session, owner, project, uuid, _TARGET),
                body["batch_id"], body["metrics"], body["attempt"])
    except IntegrityError:
        # on a database without ON CONFLICT, a concurrent request stored the same batch
        # first, whole; anything else is an error
        with server.session() as session:
            run = find_run_columns(session, owner, project, uuid, _TARGET)
            if not batch_stored(session, run.id, body["batch_id"]):
                raise
        return len(body["metrics"]), True


def run_metrics(owner: str, project: str, uuid: str) -> Answer:
    """Read a run's metric series, step by step (available while it runs), of its latest
    attempt unless `attempt` says otherwise."""
    arguments = load_query(MetricsQuery)
    names = [name.strip() for value in request.args.getlist("names")
             for name in value.split(",") if name.strip()]
    if len(names) > MAX_METRIC_NAMES:
        raise ParameterError("names", f"at most {MAX_METRIC_NAMES} metric names, not {len(names)}")
    attempt = arguments["attempt"]
    with server.session() as session:
        answer = read_metrics(
            session, find_run(session, owner, project, uuid), names=names,
            attempt=int(attempt) if attempt and attempt != ALL_ATTEMPTS else attempt,
            limit=arguments["limit"], tail=arguments["tail"], max_points=arguments["max_points"])
    return metrics_payload(answer), 200


def metrics_payload(answer: dict[str, Any]) -> dict[str, Any]:
    """:func:`read_metrics`'s answer as :class:`MetricsSchema` writes it, written out here:
    a chart's thousands of points cost the schema more than reading them did
    (``tests/api/test_metrics.py`` holds the two equal)."""
    return {
        "attempt": answer["attempt"], "attempts": list(answer["attempts"]),
        "metrics": {name: [{"step": point["step"], "value": float(point["value"]),
                            "timestamp": point["timestamp"].isoformat(),
                            "attempt": point["attempt"]} for point in points]
                    for name, points in answer["metrics"].items()},
    }


ROUTES = [
    Route("POST", f"{RUN_PATH}/metrics", run_metrics_log, RUN_UPDATE, "metrics",
          {201: Reply("stored", MetricBatchResultSchema),
           200: Reply("already stored: nothing changed", MetricBatchResultSchema)},
          body=MetricBatchSchema, errors=(413,)),
    Route("GET", f"{RUN_PATH}/metrics", run_metrics, RUN_READ, "metrics",
          {200: Reply("the series by metric name", MetricsSchema)}, query=MetricsQuery),
]
