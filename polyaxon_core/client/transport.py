"""HTTP over the standard library: keep-alive connections, retries, error mapping.

The client uses ``http.client`` rather than a third-party HTTP library so that the SDK
imports in any training environment without pinning or upgrading what the user's code
already depends on; it needs nothing beyond keep-alive, streaming and timeouts.

Retries follow one rule: a request is retried when it may succeed later *and* sending it
again cannot do something twice. Server errors (5xx), dropped connections and timeouts
are retried for idempotent requests (GET, PUT, PATCH, DELETE, and the requests the
caller marks idempotent, such as a metric batch with its ``batch_id``); a refused
connection is retried for every request, since nothing reached the server. Client
errors (4xx) are never retried. The wait between tries doubles from
``initial_backoff`` up to ``max_backoff``, with jitter so that many clients do not retry
in step.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO

from polyaxon_core import __version__
from polyaxon_core.client.errors import ApiError, ServerError, ServerUnreachable, error_for
from polyaxon_core.client.hosts import normalize_host

DEFAULT_TIMEOUT = 30.0
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class RetryPolicy:
    """How many times and for how long a retryable request is tried."""

    #: tries in all, the first included; ``None``: no limit other than ``deadline``
    attempts: int | None = 4
    #: seconds after the first try when no new try starts; ``None``: no limit
    deadline: float | None = None
    initial_backoff: float = 0.25
    max_backoff: float = 8.0

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (0 for the first retry)."""
        ceiling = min(self.max_backoff, self.initial_backoff * (2 ** min(retry, 32)))
        return ceiling * random.uniform(0.5, 1.0)

    def allows(self, tries: int, started: float) -> bool:
        """Whether another try may start after ``tries`` tries begun at ``started``."""
        if self.attempts is not None and tries >= self.attempts:
            return False
        return self.deadline is None or time.monotonic() - started < self.deadline


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(attempts=1)


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class _Retryable(Exception):
    """A failed try that may be tried again; ``error`` is what to raise if it is not."""

    def __init__(self, error: Exception, safe_for_any_method: bool = False) -> None:
        super().__init__(str(error))
        self.error = error
        self.safe_for_any_method = safe_for_any_method


class Transport:
    """Requests to one server with one token; safe to share between threads.

    Each thread keeps its own keep-alive connection, dropped after any failure.
    """

    def __init__(self, host: str, token: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 retry: RetryPolicy = DEFAULT_RETRY) -> None:
        self.host = normalize_host(host)
        self.token = token
        self.timeout = timeout
        self.retry = retry
        parsed = urllib.parse.urlsplit(self.host)
        self._https = parsed.scheme == "https"
        self._netloc = parsed.netloc
        self._prefix = parsed.path
        self._local = threading.local()

    # ----------------------------------------------------------------------- requests
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        body: bytes | BinaryIO | None = None,
        content_type: str | None = None,
        idempotent: bool | None = None,
        retry: RetryPolicy | None = None,
    ) -> Response:
        """Send a request and return the response; raise an ``ApiError`` for an error status.

        ``idempotent`` defaults to what ``method`` implies; ``retry`` to the transport's
        policy. A file ``body`` must be seekable: it is rewound before each try.
        """
        policy = retry or self.retry
        if idempotent is None:
            idempotent = method in _IDEMPOTENT_METHODS
        url = self._url(path, params)
        headers = self._headers(content_type)
        payload: bytes | BinaryIO | None = body
        if json_body is not None:
            payload = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        start_position = (payload.tell() if payload is not None and not isinstance(payload, bytes)
                          else None)
        started = time.monotonic()
        tries = 0
        while True:
            tries += 1
            if start_position is not None and not isinstance(payload, bytes | None):
                payload.seek(start_position)
            try:
                return self._once(method, url, headers, payload, reuse=idempotent)
            except _Retryable as failure:
                if not (idempotent or failure.safe_for_any_method) or not policy.allows(tries, started):
                    raise failure.error from None
                time.sleep(policy.backoff(tries - 1))

    @contextmanager
    def stream(self, path: str, params: Mapping[str, Any] | None = None,
               read_timeout: float | None = None) -> Iterator[http.client.HTTPResponse]:
        """GET ``path`` on a connection of its own and yield the response to read from.

        ``read_timeout`` bounds the wait for each read (default: none, for a follow
        stream that may be quiet for long). Error statuses raise before yielding.
        """
        url = self._url(path, params)
        connection = self._connect(read_timeout)
        try:
            try:
                connection.request("GET", url, headers=self._headers(None))
                response = connection.getresponse()
            except OSError as exc:
                raise self._unreachable(exc) from None
            except http.client.HTTPException as exc:
                raise ServerUnreachable(f"the connection to {self.host} broke: {exc}") from None
            if response.status >= 400:
                raise self._error(response.status, response.read(), url)
            yield response
        finally:
            connection.close()

    # ------------------------------------------------------------------------ details
    def _url(self, path: str, params: Mapping[str, Any] | None) -> str:
        url = self._prefix + path
        query = {key: value for key, value in (params or {}).items() if value is not None}
        if query:
            url += "?" + urllib.parse.urlencode(
                {key: _query_value(value) for key, value in query.items()})
        return url

    def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": f"polyaxon-core/{__version__}"}
        if self.token:
            headers["Authorization"] = f"token {self.token}"
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def _connect(self, timeout: float | None) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        return kind(self._netloc, timeout=timeout)

    def _pooled(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._connect(self.timeout)
            self._local.connection = connection
        return connection

    def _drop_pooled(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def _once(self, method: str, url: str, headers: dict[str, str],
              payload: bytes | BinaryIO | None, reuse: bool) -> Response:
        # A request that must not be sent twice gets a fresh connection: on a kept-alive
        # one the server may have closed, a failure could not tell "never arrived" apart
        # from "arrived, answer lost".
        connection = self._pooled() if reuse else self._connect(self.timeout)
        send_headers = dict(headers)
        if payload is not None and not isinstance(payload, bytes):
            send_headers["Content-Length"] = str(_remaining(payload))
        try:
            connection.request(method, url, body=payload, headers=send_headers)
            response = connection.getresponse()
            data = response.read()
        except ConnectionRefusedError as exc:
            self._discard(connection, reuse)
            raise _Retryable(self._unreachable(exc), safe_for_any_method=True) from None
        except socket.gaierror as exc:
            self._discard(connection, reuse)
            raise self._unreachable(exc) from None
        except (OSError, http.client.HTTPException) as exc:
            self._discard(connection, reuse)
            raise _Retryable(self._unreachable(exc)) from None
        if not reuse or response.will_close:
            self._discard(connection, reuse)
        if response.status >= 400:
            error = self._error(response.status, data, url)
            if isinstance(error, ServerError):
                raise _Retryable(error)
            raise error
        return Response(response.status, dict(response.getheaders()), data)

    def _discard(self, connection: http.client.HTTPConnection, pooled: bool) -> None:
        if pooled:
            self._drop_pooled()
        else:
            connection.close()

    def _error(self, status: int, data: bytes, url: str) -> ApiError:
        try:
            body: Any = json.loads(data) if data else None
        except ValueError:
            body = None
        return error_for(status, body, url, self.host)

    def _unreachable(self, exc: BaseException) -> ServerUnreachable:
        if isinstance(exc, ConnectionRefusedError):
            why = "connection refused"
            hint = " Is the server running there? Check POLYAXON_HOST or `polyaxon login --host`."
        elif isinstance(exc, socket.gaierror):
            why = f"unknown host ({exc.strerror or exc})"
            hint = " Check POLYAXON_HOST or `polyaxon login --host`."
        elif isinstance(exc, TimeoutError):
            why = f"no answer within {self.timeout:g} s"
            hint = ""
        else:
            why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            hint = ""
        return ServerUnreachable(f"cannot reach the Polyaxon server at {self.host}: {why}.{hint}")


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    return str(value)


def _remaining(stream: BinaryIO) -> int:
    position = stream.tell()
    end = stream.seek(0, 2)
    stream.seek(position)
    return end - position
