"""A run's logs: read from an offset, follow as a stream, and the official client's path.

The log is bytes in the artifact store; ``offset`` and ``next_offset`` count bytes. An
answer never ends in the middle of a UTF-8 character while the run may still write: the
cut character is part of the next answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from flask import Response
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from polyaxon_core.api.common import MAX_OFFSET, Answer, InputSchema, Timestamp, dump, load_query
from polyaxon_core.api.errors import TooManyRequests
from polyaxon_core.api.extensions import server
from polyaxon_core.api.routing import Reply, Route
from polyaxon_core.api.runs.api import RUN_PATH, find_run
from polyaxon_core.api.security import current_user
from polyaxon_core.api.stream_slots import SlotStream, StreamLimitReached
from polyaxon_core.config import Settings
from polyaxon_core.db.models import Run
from polyaxon_core.db.session import session_scope
from polyaxon_core.interfaces import ArtifactStore
from polyaxon_core.lifecycle import is_final
from polyaxon_core.permissions import RUN_READ

#: the most bytes of log one answer carries
READ_LIMIT = 1024 * 1024
#: the container name the official client shows log lines of
MAIN_CONTAINER = "polyaxon-main"


class LogsQuery(InputSchema):
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_OFFSET),
                            metadata={"description": "the byte to read from"})
    follow = fields.Boolean(load_default=False, metadata={
        "description": "stream the log as text/plain until the run is final, or for "
                       "POLYAXON_LOG_STREAM_SECONDS at most (then read on from where it ended)"})


class LogsSchema(Schema):
    data = fields.String(required=True, metadata={"description": "log text from `offset`"})
    next_offset = fields.Integer(required=True, metadata={"description": "where to read next"})
    done = fields.Boolean(required=True, metadata={
        "description": "the run is final and this answer reached the end of its log"})


class StreamLogsQuery(InputSchema):
    last_time = Timestamp(load_default=None, metadata={
        "description": "the cursor of the previous answer (see docs/api-contract.md)"})
    last_file = fields.String(load_default=None, metadata={"description": "accepted and ignored"})
    kind = fields.String(load_default=None, metadata={"description": "accepted and ignored"})
    connection = fields.String(load_default=None, metadata={"description": "accepted and ignored"})
    force = fields.Boolean(load_default=None, metadata={"description": "accepted and ignored"})


class LogLineSchema(Schema):
    timestamp = fields.DateTime(allow_none=True)
    node = fields.String(allow_none=True)
    pod = fields.String(allow_none=True)
    container = fields.String(required=True)
    value = fields.String(required=True)


class StreamLogsSchema(Schema):
    logs = fields.List(fields.Nested(LogLineSchema), required=True)
    last_time = fields.DateTime(allow_none=True, metadata={
        "description": "the cursor to send back; null once the run is final and read to its end"})
    last_file = fields.String(allow_none=True)
    files = fields.List(fields.String(), required=True)


def whole_characters(data: bytes) -> bytes:
    """``data`` without a UTF-8 character cut off at its end."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 == 0x80:
            continue  # a continuation byte: look further back for its lead byte
        length = 1 if byte < 0x80 else 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
        return data if back >= length else data[:-back]
    return data


def run_logs(owner: str, project: str, uuid: str) -> Answer | Response:
    """Read a run's log from a byte offset, or follow it.

    With `follow=true` the answer is a chunked text/plain stream of the log from
    `offset` that ends when the run is final, or after `POLYAXON_LOG_STREAM_SECONDS`
    while it runs on: the client then reads on from `offset` plus what it received. A
    server process serves only so many streams at once (429 beyond, see docs/api.md).
    """
    arguments = load_query(LogsQuery)
    with server.session() as session:
        run = find_run(session, owner, project, uuid)
        run_uuid, final = run.uuid, is_final(run.status)
    store = server.store
    if arguments["follow"]:
        release = _stream_slot()
        until = time.monotonic() + server.config.log_stream_seconds
        stream = SlotStream(follow(server.settings, store, run_uuid, arguments["offset"], until),
                            release)
        return Response(stream, mimetype="text/plain", headers={"X-Accel-Buffering": "no"})
    chunk = store.read_log(run_uuid, arguments["offset"], limit=READ_LIMIT)
    # the status was read first: a run final by then has written all of its log
    at_end = len(chunk.data) < READ_LIMIT
    data = chunk.data if final and at_end else whole_characters(chunk.data)
    payload = dump(LogsSchema, {
        "data": data.decode("utf-8", errors="replace"),
        "next_offset": arguments["offset"] + len(data),
        "done": final and at_end,
    })
    return payload, 200


def _stream_slot() -> Callable[[], None]:
    """A slot of this process's log streams for the current user (429 when none is free)."""
    username = str(current_user().username)
    try:
        return server.state.log_streams.acquire(username)
    except StreamLimitReached as reached:
        config = server.config
        retry_after = max(1, round(config.log_stream_seconds))
        if reached.per_user:
            raise TooManyRequests(
                f"{username} follows {config.max_log_streams_per_user} logs on this server "
                "process already (POLYAXON_MAX_LOG_STREAMS_PER_USER); stop following one, or "
                "read the log without `follow`", retry_after) from None
        raise TooManyRequests(
            f"this server process follows {config.max_log_streams} logs already "
            "(POLYAXON_MAX_LOG_STREAMS); try again shortly, or read the log without `follow`",
            retry_after) from None


def follow(settings: Settings, store: ArtifactStore, run_uuid: str, offset: int,
           until: float) -> Iterator[bytes]:
    """The log from ``offset`` as it grows, until the run is final (or deleted), or the
    monotonic clock reaches ``until``."""
    yield b""  # the server sends the status and headers now, not once the log grows
    while True:
        with session_scope(settings.db_url) as session:
            status = session.scalar(select(Run.status).where(Run.uuid == run_uuid))
        final = status is None or is_final(status)
        chunk = store.read_log(run_uuid, offset)
        data = chunk.data if final else whole_characters(chunk.data)
        if data:
            yield data
            offset += len(data)
        if final or time.monotonic() >= until:
            return
        time.sleep(settings.poll_interval)


def cursor_time(created_at: datetime, offset: int) -> datetime:
    """The ``last_time`` the official client sends back to read on from ``offset``.

    The client pages a live log by time; the log has no times, so the cursor is the
    run's creation time plus one microsecond per byte already read. The client's
    first request carries the time of the run's first status, at or before its
    creation, which reads from the start.
    """
    return created_at + timedelta(microseconds=offset)


def offset_of(cursor: datetime | None, created_at: datetime) -> int:
    if cursor is None:
        return 0
    return max(0, (cursor - created_at) // timedelta(microseconds=1))


def run_stream_logs(namespace: str, owner: str, project: str, uuid: str) -> Answer:
    """A run's log lines, the way the official client reads them (`polyaxon ops logs`).

    Lines come in Polyaxon's `V1Logs` shape. While the run may still write, only whole
    lines are sent and `last_time` is a cursor to send back; once the run is final the
    rest of the log comes at once and `last_time` is null.
    """
    arguments = load_query(StreamLogsQuery)
    with server.session() as session:
        run = find_run(session, owner, project, uuid)
        run_uuid, created_at, final = run.uuid, run.created_at, is_final(run.status)
    offset = offset_of(arguments["last_time"], created_at)
    data = server.store.read_log(run_uuid, offset, limit=READ_LIMIT).data
    if not final:
        # the last line may still be growing; a line longer than a whole answer is cut
        end = data.rfind(b"\n") + 1
        data = data[:end] if end or len(data) < READ_LIMIT else whole_characters(data)
    lines = data.decode("utf-8", errors="replace").splitlines()
    next_offset = offset + len(data)
    at_end = final and len(data) < READ_LIMIT
    payload = dump(StreamLogsSchema, {
        "logs": [{"timestamp": None, "node": None, "pod": None, "container": MAIN_CONTAINER,
                  "value": line} for line in lines],
        "last_time": None if at_end else cursor_time(created_at, next_offset),
        "last_file": None,
        "files": [],
    })
    return payload, 200


ROUTES = [
    Route("GET", f"{RUN_PATH}/logs", run_logs, RUN_READ, "logs",
          {200: Reply("the log from `offset`; with `follow=true`, a text/plain stream instead",
                      LogsSchema, also=("text/plain",))}, query=LogsQuery, errors=(429,)),
]

STREAM_ROUTES = [
    Route("GET", "/<namespace>/<owner>/<project>/runs/<uuid>/logs", run_stream_logs, RUN_READ,
          "logs", {200: Reply("log lines and the cursor to continue from", StreamLogsSchema)},
          query=StreamLogsQuery),
]
