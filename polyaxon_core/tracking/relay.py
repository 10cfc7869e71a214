"""The SDK's transport inside a run of the embedded default: through the run's runner.

A run of the embedded default (no server) writes to the database and the store itself.
Doing that from the run's own process means importing SQLAlchemy and the models there,
about 0.4 s of CPU before the first metric, more than a short trial's command costs. The
process that owns the attempt (the local scheduler's runner, forked from a process that
imported all that once) serves the run's tracking calls instead, on a Unix socket in a
folder only its user can open, whose path it gives the command as
``POLYAXON_TRACKING_SOCKET``; the SDK then loads none of the database layer. The runner
answers for its own run and attempt only, and does on their behalf exactly what
:class:`~polyaxon_core.tracking.database.DatabaseBackend` would do in the run's process:
the same domain calls, the same transactions.

Protocol, one JSON object per line each way: ``{"call": name, "args": [...]}``, answered
``{"ok": result}`` or ``{"error": kind, "message": text}``, where ``kind`` is ``retry``
(the database was away: send it again), ``permanent`` (a batch of points the domain
refuses) or ``refused`` (anything else, said to the user as a TrackingError).

A process that finds the socket gone (a command started by hand with a run's environment
copied) writes to the database itself, as before.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from polyaxon_core.tracking.backends import SOCKET_VARIABLE, PointRow, retry_delay
from polyaxon_core.tracking.buffer import PermanentSendError

#: what a run may ask of its runner: the transport's calls, nothing else
CALLS = frozenset({
    "hello", "artifacts_path", "send_metrics", "merge_json", "merge_meta", "update",
    "add_tags", "put_artifact", "record_lineage", "promote", "report_status",
})


class RelayLost(ConnectionError):
    """The runner did not answer (it ended, or the database it writes to was away)."""


class RelayBackend:
    """Sends the run's tracking calls to its runner at ``address``; raises RelayLost when
    there is no runner there. One connection per process, one call at a time."""

    batch_size = 5_000

    def __init__(self, address: str, run_uuid: str) -> None:
        self.address = address
        self.run_uuid = run_uuid
        self._lock = threading.Lock()
        self._connection: socket.socket | None = None
        self._reader: Any = None
        self._pid = 0
        self._where = str(self._call("hello"))

    @property
    def where(self) -> str:
        return self._where

    def _connect(self) -> None:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            connection.connect(self.address)
        except OSError as exc:
            connection.close()
            raise RelayLost(f"the run's runner is not reachable at {self.address}: "
                            f"{exc.strerror or exc}") from None
        self._connection, self._reader, self._pid = connection, connection.makefile("rb"), os.getpid()

    def _drop(self) -> None:
        if self._connection is not None:
            self._reader.close()
            self._connection.close()
        self._connection = self._reader = None

    def _call(self, name: str, *args: Any) -> Any:
        try:
            request = json.dumps({"call": name, "args": list(args)}).encode() + b"\n"
        except (TypeError, ValueError) as exc:  # what the database could not store either
            from polyaxon_core.tracking.run import TrackingError

            raise TrackingError(f"could not {name.replace('_', ' ')}: {exc}") from None
        with self._lock:
            if self._connection is None or self._pid != os.getpid():  # a forked child: its own
                self._connect()
            assert self._connection is not None
            try:
                self._connection.sendall(request)
                line = self._reader.readline()
            except OSError:
                line = b""
            if not line:
                self._drop()
                raise RelayLost("the run's runner ended the connection")
        answer = json.loads(line)
        if "ok" in answer:
            return answer["ok"]
        message = str(answer.get("message"))
        if answer.get("error") == "retry":
            raise RelayLost(message)
        if answer.get("error") == "permanent":
            raise PermanentSendError(message)
        from polyaxon_core.tracking.run import TrackingError

        raise TrackingError(message)

    def _request(self, name: str, *args: Any) -> Any:
        """A call other than sending points: the runner being gone is the user's error."""
        try:
            return self._call(name, *args)
        except RelayLost as exc:
            from polyaxon_core.tracking.run import TrackingError

            raise TrackingError(f"could not {name.replace('_', ' ')}: {exc}") from None

    def artifacts_path(self) -> Path:
        return Path(self._request("artifacts_path"))

    def retry_delay(self, attempt: int) -> float:
        return retry_delay(attempt)

    def send_metrics(self, batch_id: str, points: Sequence[PointRow]) -> None:
        self._call("send_metrics", batch_id, [list(point) for point in points])

    def merge_json(self, column: str, values: Mapping[str, Any]) -> None:
        self._request("merge_json", column, dict(values))

    def merge_meta(self, values: Mapping[str, Any]) -> None:
        self._request("merge_meta", dict(values))

    def update(self, values: Mapping[str, str | None]) -> None:
        self._request("update", dict(values))

    def add_tags(self, tags: Sequence[str]) -> None:
        self._request("add_tags", list(tags))

    def put_artifact(self, source: Path, path: str) -> int:
        return int(self._request("put_artifact", str(Path(source).resolve()), path))

    def record_lineage(self, entries: Sequence[Mapping[str, Any]]) -> None:
        self._request("record_lineage", [dict(entry) for entry in entries])

    def promote(self, version: Mapping[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self._request("promote", dict(version))
        return answer

    def report_status(self, status: str, reason: str, message: str | None,
                      at: str | None = None) -> None:
        self._request("report_status", status, reason, message, at)

    def close(self) -> None:
        with self._lock:
            self._drop()


# ------------------------------------------------------------------ the runner's side
def warm() -> None:
    """Import what serving a run's calls needs (in a process that forks runners, once)."""
    from sqlalchemy.orm import configure_mappers

    import polyaxon_core.domain.commands  # noqa: F401
    import polyaxon_core.domain.metrics  # noqa: F401
    import polyaxon_core.tracking.database  # noqa: F401

    configure_mappers()  # else done again by every runner, at its first query
    tempfile.gettempdir()  # else every runner probes where its relay's socket may go


def start(run_uuid: str, attempt: int | None) -> RelayServer | None:
    """A relay for the run, or None where no socket can be made (a temporary folder whose
    path is too long for a Unix socket, or that cannot be written): the run then writes
    to the database itself, as a run without a runner does."""
    try:
        return RelayServer(run_uuid, attempt)
    except OSError:
        return None


def _moment(value: Any) -> str:
    """A time in an answer (a version's dates) as the API writes it: ISO 8601."""
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} values cannot be sent as JSON")


def _encoded(answer: Mapping[str, Any]) -> bytes:
    try:
        return json.dumps(answer, default=_moment).encode()
    except (TypeError, ValueError) as exc:
        return json.dumps({"error": "refused", "message": f"the answer could not be sent: {exc}"}).encode()


def _retryable(exc: Exception) -> bool:
    from sqlalchemy.exc import InterfaceError, OperationalError, PendingRollbackError

    from polyaxon_core.db.session import is_disconnect

    return isinstance(exc, OperationalError | InterfaceError | PendingRollbackError) or is_disconnect(exc)


def serves(environment: Mapping[str, str]) -> bool:
    """Whether a run with the command environment ``environment`` tracks through a relay:
    one of the embedded default (it writes to the database itself, no server's API), not
    given a relay already."""
    return ("POLYAXON_DB_URL" in environment and "POLYAXON_RUN_UUID" in environment
            and "POLYAXON_HOST" not in environment and SOCKET_VARIABLE not in environment)


def attempt_of(environment: Mapping[str, str]) -> int | None:
    text = environment.get("POLYAXON_RUN_ATTEMPT", "")
    return int(text) if text.isdigit() else None


class RelayServer:
    """Serves the calls of run ``run_uuid`` (attempt ``attempt``) on a socket of its own,
    each connection in a thread, with the database backend the run's process would have
    used, on this process's settings (the database of ``POLYAXON_DB_URL``)."""

    def __init__(self, run_uuid: str, attempt: int | None) -> None:
        self.run_uuid, self.attempt = run_uuid, attempt
        self._backend: Any = None
        self._backend_lock = threading.Lock()
        # a folder of this user's alone (0700): nobody else can reach the socket
        self._folder = tempfile.mkdtemp(prefix="polyaxon-run-")
        self.address = os.path.join(self._folder, "tracking.sock")
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._listener.bind(self.address)
            self._listener.listen(16)
        except OSError:
            self.close()
            raise
        threading.Thread(target=self._accept, name="polyaxon-relay", daemon=True).start()

    @property
    def environment(self) -> dict[str, str]:
        """What the command needs to find the server."""
        return {SOCKET_VARIABLE: self.address}

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _backend_of_run(self) -> Any:
        with self._backend_lock:
            if self._backend is None:
                from polyaxon_core.tracking.database import DatabaseBackend

                self._backend = DatabaseBackend(self.run_uuid, self.attempt)
            return self._backend

    def _serve(self, connection: socket.socket) -> None:
        with connection, connection.makefile("rb") as requests:
            for line in requests:
                try:
                    connection.sendall(_encoded(self.answer(line)) + b"\n")
                except OSError:
                    return

    def answer(self, line: bytes) -> dict[str, Any]:
        """The answer to one request line."""
        from polyaxon_core.tracking.run import TrackingError

        try:
            request = json.loads(line)
            call, args = request["call"], list(request["args"])
        except (ValueError, KeyError, TypeError) as exc:
            return {"error": "refused", "message": f"not a tracking request: {exc}"}
        if call not in CALLS:
            return {"error": "refused", "message": f"{call!r} is not a tracking call"}
        try:
            backend = self._backend_of_run()
            if call == "hello":
                from sqlalchemy.engine import make_url

                where = make_url(backend.where).render_as_string(hide_password=True)
                return {"ok": f"{where} (through the run's runner)"}
            if call == "artifacts_path":
                return {"ok": str(backend.artifacts_path())}
            if call == "put_artifact":
                args[0] = Path(args[0])
            if call == "send_metrics":
                args[1] = [tuple(point) for point in args[1]]
            return {"ok": getattr(backend, call)(*args)}
        except PermanentSendError as exc:
            return {"error": "permanent", "message": str(exc)}
        except TrackingError as exc:
            return {"error": "refused", "message": str(exc)}
        except Exception as exc:  # the database's or a store's failure, said to the run
            kind = "retry" if _retryable(exc) else "refused"
            return {"error": kind, "message": f"{type(exc).__name__}: {exc}"}

    def stop(self) -> None:
        """Take no more connections; calls in flight finish."""
        self._listener.close()

    def close(self) -> None:
        """Take no more connections and remove the socket; calls in flight finish."""
        self.stop()
        shutil.rmtree(self._folder, ignore_errors=True)
