"""The HTTP client's retries and error mapping, against a small stand-in HTTP server.

The stand-in (``ScriptedServer``) answers each request with the next scripted reply and
records what it received; it is not the polyaxon server, only enough HTTP to check
what the client does with each kind of answer.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from polyaxon_core.client import ApiClient, RetryPolicy
from polyaxon_core.client.errors import (
    ApiError,
    PermissionDenied,
    ServerError,
    ServerUnreachable,
    Unauthenticated,
)
from polyaxon_core.errors import Conflict, InvalidRequest, NotFound

FAST = RetryPolicy(attempts=4, initial_backoff=0.01, max_backoff=0.02)


class ScriptedServer:
    """A stand-in HTTP server: replies come from ``script``, requests are recorded."""

    def __init__(self) -> None:
        self.script: list[tuple[int, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.hold = threading.Event()
        self.hold.set()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                stand_in.requests.append({"method": self.command, "path": self.path,
                                          "headers": dict(self.headers), "body": body})
                stand_in.hold.wait(10)
                status, payload = stand_in.script.pop(0) if stand_in.script else (200, {})
                data = b"" if status == 204 else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.hold.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def stand_in() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    yield server
    server.close()


def _error(status: int, message: str, errors: dict[str, list[str]] | None = None) -> tuple[int, Any]:
    return status, {"code": status, "message": message, "errors": errors or {}}


def test_a_5xx_is_retried_until_the_server_answers(stand_in: ScriptedServer) -> None:
    stand_in.script = [_error(503, "starting"), _error(500, "boom"), (200, {"uuid": "a" * 32})]
    client = ApiClient(stand_in.url, "key", retry=FAST)
    assert client.get_run("p", "a" * 32) == {"uuid": "a" * 32}
    assert len(stand_in.requests) == 3


def test_a_4xx_is_never_retried(stand_in: ScriptedServer) -> None:
    stand_in.script = [_error(404, "no run"), (200, {})]
    client = ApiClient(stand_in.url, "key", retry=FAST)
    with pytest.raises(NotFound, match="no run"):
        client.get_run("p", "a" * 32)
    assert len(stand_in.requests) == 1


def test_retries_stop_after_the_policys_attempts(stand_in: ScriptedServer) -> None:
    stand_in.script = [_error(502, "bad gateway")] * 10
    client = ApiClient(stand_in.url, retry=FAST)
    with pytest.raises(ServerError, match="bad gateway") as raised:
        client.get_project("p")
    assert raised.value.status == 502
    assert len(stand_in.requests) == FAST.attempts


def test_a_plain_post_is_not_retried_after_a_5xx(stand_in: ScriptedServer) -> None:
    stand_in.script = [_error(500, "failed half-way"), (200, {})]
    client = ApiClient(stand_in.url, retry=FAST)
    with pytest.raises(ServerError):
        client.stop_run("p", "a" * 32)
    assert len(stand_in.requests) == 1


def test_a_metric_batch_is_retried_with_the_same_batch_id(stand_in: ScriptedServer) -> None:
    stand_in.script = [_error(503, "restarting"), (201, {"count": 2, "duplicate": False})]
    client = ApiClient(stand_in.url, retry=FAST)
    result = client.log_metrics("p", "a" * 32, "batch-1",
                                [{"name": "loss", "value": 0.5, "step": 1},
                                 {"name": "acc", "value": 0.9, "step": 1}])
    assert (result.count, result.duplicate) == (2, False)
    bodies = [json.loads(request["body"]) for request in stand_in.requests]
    assert [body["batch_id"] for body in bodies] == ["batch-1", "batch-1"]
    assert bodies[0]["metrics"] == bodies[1]["metrics"]


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, InvalidRequest), (422, InvalidRequest), (401, Unauthenticated), (403, PermissionDenied),
     (404, NotFound), (409, Conflict), (413, InvalidRequest)],
)
def test_error_statuses_map_to_domain_errors(stand_in: ScriptedServer, status: int,
                                             kind: type[Exception]) -> None:
    stand_in.script = [_error(status, f"refused with {status}")]
    with pytest.raises(kind, match=f"refused with {status}") as raised:
        ApiClient(stand_in.url, retry=FAST).get_project("p")
    assert isinstance(raised.value, ApiError) and raised.value.status == status


def test_field_errors_are_part_of_the_message(stand_in: ScriptedServer) -> None:
    stand_in.script = [_error(422, "invalid polyaxonfile", {"content": ["line 3: unknown field"]})]
    with pytest.raises(InvalidRequest) as raised:
        ApiClient(stand_in.url).create_run("p", "kind: nope")
    assert "content: line 3: unknown field" in str(raised.value)
    assert raised.value.field_errors == {"content": ["line 3: unknown field"]}  # type: ignore[attr-defined]


def test_an_unauthenticated_answer_says_how_to_log_in(stand_in: ScriptedServer) -> None:
    stand_in.script = [_error(401, "invalid token")]
    with pytest.raises(Unauthenticated, match="polyaxon login"):
        ApiClient(stand_in.url, "stale").whoami()


def test_the_token_is_sent_as_polyaxon_does(stand_in: ScriptedServer) -> None:
    stand_in.script = [(200, {"username": "ada"})]
    ApiClient(stand_in.url, "s3cret").whoami()
    assert stand_in.requests[0]["headers"]["Authorization"] == "token s3cret"


def test_query_parameters_are_encoded(stand_in: ScriptedServer) -> None:
    stand_in.script = [(200, {"count": 0, "results": []})]
    ApiClient(stand_in.url).list_runs("mnist", query="metrics.loss:<0.1, status:succeeded",
                                      sort="-created_at", offset=20, limit=10)
    path = stand_in.requests[0]["path"]
    assert path.startswith("/api/v1/default/mnist/runs?")
    assert "query=metrics.loss%3A%3C0.1%2C+status%3Asucceeded" in path
    assert "sort=-created_at" in path and "offset=20" in path and "limit=10" in path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_refused_connection_names_the_host() -> None:
    port = _free_port()
    client = ApiClient(f"127.0.0.1:{port}", retry=RetryPolicy(attempts=2, initial_backoff=0.01))
    with pytest.raises(ServerUnreachable) as raised:
        client.whoami()
    message = str(raised.value)
    assert f"http://127.0.0.1:{port}" in message and "connection refused" in message


def test_a_timeout_names_the_host_and_the_wait(stand_in: ScriptedServer) -> None:
    stand_in.hold.clear()  # the stand-in keeps every request waiting
    client = ApiClient(stand_in.url, timeout=0.3, retry=RetryPolicy(attempts=1))
    with pytest.raises(ServerUnreachable) as raised:
        client.get_project("p")
    assert stand_in.url in str(raised.value) and "no answer within 0.3 s" in str(raised.value)


def test_an_invalid_host_is_a_configuration_error() -> None:
    from polyaxon_core.config import ConfigurationError

    with pytest.raises(ConfigurationError, match="POLYAXON_HOST"):
        ApiClient("ftp://example")
