"""Init step: the services' proxy, ``/services/v1/...`` and ``/rewrite-services/v1/...``.

A service run (a notebook, a TensorBoard, a dashboard) is reached through the server at
``/services/v1/{namespace}/{owner}/{project}/runs/{uuid}/{port}/...``, only by users who
may read the run: the server is the security boundary, not the service's own token. The
request is passed on to where the scheduler started the service (its handle's
``service``: a loopback port on this machine, a Service in a cluster), with the path as it
came (``rewritePath: true``: without the prefix), and so is the answer. HTTP requests
reuse their connections to the service; a WebSocket (``Upgrade: websocket``) is passed
on byte for byte once the service accepts it, holding a thread of the server while it
lasts (at most ``POLYAXON_MAX_SERVICE_SOCKETS`` at once).

What the proxy keeps from the service: the caller's API token (``Authorization``) and the
web UI's session cookie, in both directions. A path with ``.`` or ``..`` segments (once
decoded) is refused: it could leave the service's prefix.

A gateway in front of the server (nginx, :mod:`polyaxon_core.gateway`) can pass the
services' requests on itself: it asks ``GET /auth-request/v1/services`` with the original
request's credentials and ``X-Original-URI``, and the answer's ``X-Polyaxon-Upstream``
names where the service listens when the caller may read its run and it is running.
Without that header, the gateway hands the request to this server, whose proxy answers
it, refusals included.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import re
import selectors
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, unquote

from flask import Blueprint, Flask, Response, current_app, g, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from polyaxon_core.api.errors import TooManyRequests, Unauthenticated
from polyaxon_core.api.extensions import EXTENSION_KEY, server
from polyaxon_core.api.routing import PUBLIC, Reply, Route
from polyaxon_core.api.security import (
    check_access,
    current_user,
    is_allowed,
    resource_from,
)
from polyaxon_core.api.stream_slots import StreamLimitReached
from polyaxon_core.db.models import Project, Run
from polyaxon_core.errors import InvalidRequest, NotFound, PolyaxonError
from polyaxon_core.interfaces import AuthenticationFailed
from polyaxon_core.lifecycle import is_final
from polyaxon_core.permissions import RUN_READ
from polyaxon_core.services import REWRITE_SERVICES_PREFIX, SERVICES_PREFIX

#: headers that concern one connection, never passed on (RFC 9110, 7.6.1)
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "te", "trailer", "transfer-encoding", "upgrade"})
#: request bodies up to this size are read whole, so a request can be sent again over a
#: fresh connection when a kept one turns out closed; larger ones are streamed
REPLAYABLE_BODY_BYTES = 1024 * 1024
#: how long the service may take to accept a connection, and to answer
CONNECT_SECONDS = 10.0
ANSWER_SECONDS = 300.0
#: how long the proxy trusts that a caller may reach a port (see :class:`_Verdicts`)
VERDICT_SECONDS = 5.0
#: the largest head a service may answer a WebSocket request with
MAX_HEAD_BYTES = 64 * 1024
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
RULES = ("/<namespace>/<owner>/<project>/runs/<uuid>/<int:port>/",
         "/<namespace>/<owner>/<project>/runs/<uuid>/<int:port>/<path:rest>")
#: the path a gateway asks where a service's request goes (see :func:`service_upstream`)
UPSTREAM_PATH = "/auth-request/v1/services"
#: the answer's header naming the service's ``host:port``
UPSTREAM_HEADER = "X-Polyaxon-Upstream"
_SERVICE_PATH = re.compile(
    r"(?P<prefix>/services/v1|/rewrite-services/v1)/(?P<namespace>[^/?#]+)/(?P<owner>[^/?#]+)/"
    r"(?P<project>[^/?#]+)/runs/(?P<uuid>[^/?#]+)/(?P<port>[0-9]{1,5})(?:/(?P<rest>[^?#]*))?"
    r"(?:[?#].*)?")


class ServiceUnavailable(PolyaxonError):
    """The service is not running (yet), or does not answer."""

    http_status = 503

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unreachable(ServiceUnavailable):
    """Nothing accepts connections where the service was."""


class BadGateway(PolyaxonError):
    """The service answered with something that is not HTTP."""

    http_status = 502


class ServiceGone(PolyaxonError):
    """The service's run has ended."""

    http_status = 410


def proxy_service(namespace: str, owner: str, project: str, uuid: str, port: int,
                  rest: str = "") -> Response:
    """Pass a request on to a port of a service run, and its answer back."""
    request.max_content_length = server.config.max_upload_bytes  # a notebook's upload
    if _leaves_prefix(rest):
        raise InvalidRequest(f"the path {rest!r} has `.` or `..` segments, which could leave the "
                             "service's prefix; ask for the path they resolve to")
    base = _base(request.blueprint, namespace, owner, project, uuid, port)
    rewrite = base.startswith(REWRITE_SERVICES_PREFIX)
    path = _forwarded_path(base, rewrite)
    g.proxied_service = True
    verdicts = _verdicts()
    key = _verdict_key(base)
    # the verdict check_access let the request through on (never read again here: it
    # may expire in between, and this request was then let through on it alone)
    target = g.pop("service_verdict", None)
    if target is not None:
        try:
            return _pass_on(target, path, base, rewrite)
        except Unreachable:  # ended since, perhaps: asked again, of the database
            verdicts.drop(key)
            check_access()
    with server.session() as session:
        target = _target(session, base, owner, project, uuid, port)
    verdicts.put(key, target)
    return _pass_on(target, path, base, rewrite)


def _leaves_prefix(rest: str) -> bool:
    """Whether the decoded path after a service's prefix has `.` or `..` segments."""
    return any(segment in {".", ".."} for segment in rest.split("/"))


def _pass_on(target: tuple[str, int], path: str, base: str, rewrite: bool) -> Response:
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return _websocket(*target, path, base)
    return _forward(*target, path, base, rewrite)


def _base(blueprint: str | None, namespace: str, owner: str, project: str, uuid: str,
          port: int) -> str:
    prefix = REWRITE_SERVICES_PREFIX if blueprint == "rewrite_services" else SERVICES_PREFIX
    return f"{prefix}/{namespace}/{owner}/{project}/runs/{uuid}/{port}"


class _Verdicts:
    """The services' ports each caller was let through to lately, and where they listen.

    A request of the same credentials for the same port within
    :data:`VERDICT_SECONDS` is passed on without asking the database again: a service's
    page loads dozens of files, each would otherwise pay for authentication, roles and
    the run. So a revoked token, a removed role or a stopped service is refused by the
    proxy at most that long after the change. Keys are digests: no credential is kept.
    """

    def __init__(self, most: int = 10_000) -> None:
        self.most = most
        self._entries: dict[str, tuple[float, tuple[str, int]]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[str, int] | None:
        with self._lock:
            found = self._entries.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, key: str, target: tuple[str, int]) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._entries) >= self.most:
                self._entries = {k: v for k, v in self._entries.items() if v[0] >= now}
                if len(self._entries) >= self.most:
                    self._entries.clear()
            self._entries[key] = (now + VERDICT_SECONDS, target)

    def drop(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)


def _verdict_key(base: str) -> str:
    """Who asks (their token, or their browser session) for which port, as a digest."""
    credentials = request.headers.get("Authorization") or request.cookies.get(
        str(current_app.config.get("SESSION_COOKIE_NAME") or "session")) or ""
    return hashlib.sha256(f"{credentials}\n{base}".encode()).hexdigest()


def recently_allowed() -> bool:
    """Whether this request's caller was let through to the port it asks for lately (see
    :class:`_Verdicts`): :func:`~polyaxon_core.api.security.check_access` then lets it
    through again without asking who they are."""
    arguments = request.view_args or {}
    if "port" not in arguments:
        return False
    base = _base(request.blueprint, arguments["namespace"], arguments["owner"],
                 arguments["project"], arguments["uuid"], arguments["port"])
    target = _verdicts().get(_verdict_key(base))
    if target is None:
        return False
    g.service_verdict = target  # what the view passes the request on to
    return True


def _target(session: Session, base: str, owner: str, project: str, uuid: str,
            port: int) -> tuple[str, int]:
    """Where the service behind ``base`` listens; a NotFound, ServiceGone or
    ServiceUnavailable saying why it cannot be reached."""
    # one query: the run of that project with exactly that uuid (its path names it whole)
    run = session.scalar(select(Run).join(Project, Run.project_id == Project.id).where(
        Project.owner == owner, Project.name == project, Run.uuid == uuid))
    if run is None:
        raise NotFound(f"project {owner}/{project} has no run {uuid}; `polyaxon ops service "
                       "UUID` prints the URL of a service")
    if run.kind != "service":
        raise NotFound(f"run {run.uuid} is a {run.kind}, not a service: only the ports of a "
                       "`run.kind: service` are served here")
    described = ((run.meta_info or {}).get("service") or {})
    urls = [str(url) for url in described.get("base_urls") or []]
    if is_final(run.status):
        raise ServiceGone(f"run {run.uuid} is {run.status}: its service no longer answers")
    handle = (run.scheduler_handle or {}).get("service")
    if not handle or run.status != "running":
        raise ServiceUnavailable(f"the service of run {run.uuid} is {run.status}, not running "
                                 "yet; try again once it is running", retry_after=2)
    ports = {str(key): int(value) for key, value in (handle.get("ports") or {}).items()}
    if base not in urls or str(port) not in ports:
        raise NotFound(f"run {run.uuid} serves no port at {base}; its service is at "
                       f"{', '.join(url + '/' for url in urls) or 'no path'}")
    return str(handle["host"]), ports[str(port)]


def _forwarded_path(base: str, rewrite: bool) -> str:
    """The path (and query) the service is asked for: as the request had it, still
    encoded, or without ``base`` for a service with ``rewritePath``."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
    if not raw.startswith(base):  # an encoded prefix, or no raw form: from the decoded one
        raw = quote(request.path)
        if request.query_string:
            raw += "?" + request.query_string.decode("latin-1")
    if not rewrite:
        return raw
    stripped = raw[len(base):]
    return stripped if stripped.startswith("/") else "/" + stripped


def _session_cookies() -> frozenset[str]:
    """The cookies of the server's own browser sessions, which no service sees or sets."""
    names = {str(current_app.config.get("SESSION_COOKIE_NAME") or "session")}
    names.add(str(current_app.config.get("REMEMBER_COOKIE_NAME") or "remember_token"))
    return frozenset(names)


def _request_headers(base: str) -> dict[str, str]:
    """The request's headers for the service: without the caller's credentials for this
    server and without those of one connection; with where the request came from."""
    hidden = _session_cookies()
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        lower = name.lower()
        if lower in HOP_BY_HOP or lower in {"authorization", "content-length"}:
            continue
        if lower == "cookie":
            kept = [part.strip() for part in value.split(";")
                    if part.strip() and part.strip().split("=", 1)[0] not in hidden]
            if kept:
                headers["Cookie"] = "; ".join(kept)
            continue
        headers[name] = value
    forwarded_for = request.headers.get("X-Forwarded-For")
    client = request.remote_addr or ""
    headers["X-Forwarded-For"] = f"{forwarded_for}, {client}" if forwarded_for else client
    headers["X-Forwarded-Proto"] = request.scheme
    headers["X-Forwarded-Host"] = request.host
    headers["X-Forwarded-Prefix"] = base
    return headers


class _Connections:
    """Kept-alive connections to services, by address, shared by the server's threads."""

    def __init__(self, per_address: int = 16) -> None:
        self.per_address = per_address
        self._idle: dict[tuple[str, int], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()

    def take(self, host: str, port: int) -> tuple[http.client.HTTPConnection, bool]:
        """A connection to ``host:port``, and whether it was kept from an earlier request."""
        with self._lock:
            idle = self._idle.get((host, port))
            if idle:
                return idle.pop(), True
        return http.client.HTTPConnection(host, port, timeout=CONNECT_SECONDS), False

    def give_back(self, host: str, port: int, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault((host, port), [])
            if len(idle) < self.per_address:
                idle.append(connection)
                return
        connection.close()


_CONNECTIONS_KEY = "polyaxon_service_connections"
_VERDICTS_KEY = "polyaxon_service_verdicts"


def _connections() -> _Connections:
    found: _Connections = current_app.extensions[_CONNECTIONS_KEY]
    return found


def _verdicts() -> _Verdicts:
    found: _Verdicts = current_app.extensions[_VERDICTS_KEY]
    return found


def _forward(host: str, port: int, path: str, base: str, rewrite: bool) -> Response:
    headers = _request_headers(base)
    length = request.content_length
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    body: Any = None
    if chunked or (length is not None and length <= REPLAYABLE_BODY_BYTES):
        body = request.get_data(cache=False)
    elif length:
        body = request.stream  # too large to keep: streamed once, over a fresh connection
    if body is not None:
        headers["Content-Length"] = str(len(body) if isinstance(body, bytes) else length)
    pool = _connections()
    replayable = not hasattr(body, "read")
    while True:
        connection, kept = pool.take(host, port) if replayable else (
            http.client.HTTPConnection(host, port, timeout=CONNECT_SECONDS), False)
        try:
            connection.request(request.method, path, body=body, headers=headers)
            connection.sock.settimeout(ANSWER_SECONDS)
            answer = connection.getresponse()
            break
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            connection.close()
            if kept:  # the service closed a kept connection meanwhile: once more, fresh
                continue
            raise ServiceUnavailable(f"the service at {base}/ closed the connection without "
                                     "answering; look at the run's logs") from None
        except http.client.HTTPException as exc:
            connection.close()
            raise BadGateway(f"the service at {base}/ did not answer in HTTP ({exc}); it must "
                             "serve HTTP on its port") from None
        except OSError as exc:
            connection.close()
            raise Unreachable(f"the service at {base}/ cannot be reached: "
                              f"{exc.strerror or exc}; look at the run's logs") from None
    hidden = _session_cookies()
    answer_headers = []
    for name, value in answer.getheaders():
        lower = name.lower()
        if lower in HOP_BY_HOP or lower in {"server", "date"}:  # this server's own
            continue
        if lower == "set-cookie" and value.split("=", 1)[0].strip() in hidden:
            continue
        if lower == "location" and rewrite and value.startswith("/") and not value.startswith("//"):
            value = base + value  # the service's own paths are under its prefix here
        answer_headers.append((name, value))

    def body_of() -> Iterator[bytes]:
        finished = False
        try:
            while chunk := answer.read1(65536):
                yield chunk
            finished = True
        finally:
            answer.close()  # read to its end: the connection can carry the next request
            if finished and not answer.will_close:
                pool.give_back(host, port, connection)
            else:
                connection.close()

    response = Response(body_of(), status=answer.status, headers=answer_headers,
                        direct_passthrough=True)
    if not any(name.lower() == "content-type" for name, _ in answer_headers):
        del response.headers["Content-Type"]
    return response


def _websocket(host: str, port: int, path: str, base: str) -> Response:
    """Open the WebSocket with the service; once it accepts (101), the answer passes
    the bytes on both ways until either side closes."""
    client = request.environ.get("werkzeug.socket") or request.environ.get("gunicorn.socket")
    if client is None:
        raise ServiceUnavailable("this server cannot pass WebSockets on: serve the API with "
                                 "`polyaxon server` or gunicorn's gthread worker")
    username = str(current_user().username)
    try:
        release = server.state.service_sockets.acquire(username)
    except StreamLimitReached as reached:
        config = server.config
        if reached.per_user:
            raise TooManyRequests(
                f"{username} has {config.max_service_sockets_per_user} WebSockets to services "
                "open on this server process already (POLYAXON_MAX_SERVICE_SOCKETS_PER_USER); "
                "close a notebook tab or a kernel", 5) from None
        raise TooManyRequests(
            f"this server process passes {config.max_service_sockets} WebSockets on already "
            "(POLYAXON_MAX_SERVICE_SOCKETS); try again shortly", 5) from None
    try:
        backend = socket.create_connection((host, port), timeout=CONNECT_SECONDS)
    except OSError as exc:
        release()
        raise Unreachable(f"the service at {base}/ cannot be reached: "
                          f"{exc.strerror or exc}; look at the run's logs") from None
    try:
        head, rest = _open_websocket(backend, path, base)
    except BaseException:
        backend.close()
        release()
        raise
    status = int(head.split(b" ", 2)[1])
    if status != 101:
        backend.close()
        release()
        return _answer_of(head, rest)
    return _Tunnel(client, backend, head + rest, release)


def _open_websocket(backend: socket.socket, path: str, base: str) -> tuple[bytes, bytes]:
    """Send the upgrade request; the service's answer head, and what came after it."""
    headers = _request_headers(base)
    headers["Connection"] = "Upgrade"
    headers["Upgrade"] = request.headers.get("Upgrade", "websocket")
    lines = [f"{request.method} {path} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    backend.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    backend.settimeout(ANSWER_SECONDS)
    received = b""
    try:
        while b"\r\n\r\n" not in received:
            chunk = backend.recv(65536)
            if not chunk:
                break
            received += chunk
            if len(received) > MAX_HEAD_BYTES:
                break
    except OSError as exc:
        raise ServiceUnavailable(f"the service at {base}/ did not answer the WebSocket: "
                                 f"{exc.strerror or exc}") from None
    head, separator, rest = received.partition(b"\r\n\r\n")
    parts = head.split(b" ", 2)
    if not separator or len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") \
            or not parts[1].isdigit():
        raise BadGateway(f"the service at {base}/ did not answer the WebSocket in HTTP")
    return head + separator, rest


def _answer_of(head: bytes, rest: bytes) -> Response:
    """The service's refusal of a WebSocket (a 403, a 404), as this server's answer."""
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name and name.strip().lower() not in HOP_BY_HOP | {"content-length", "set-cookie"}:
            headers.append((name.strip(), value.strip()))
    response = Response(rest[:MAX_HEAD_BYTES], status=status, headers=headers)
    return response


class _Tunnel(Response):
    """The answer to an accepted WebSocket: the service's head, then the bytes of both
    sides passed on until one closes. The connection is this server's no more after
    that: the server is told it was dropped, so it writes nothing more to it."""

    def __init__(self, client: socket.socket, backend: socket.socket, first: bytes,
                 release: Any) -> None:
        super().__init__()
        self.client = client
        self.backend = backend
        self.first = first
        self.release = release

    def __call__(self, environ: Mapping[str, Any], start_response: Any) -> Any:
        try:
            with contextlib.suppress(OSError):  # either side gone: the tunnel ends
                self.client.settimeout(None)
                self.backend.settimeout(None)
                self.client.sendall(self.first)
                _splice(self.client, self.backend)
        finally:
            self.backend.close()
            self.release()
            with contextlib.suppress(OSError):
                self.client.shutdown(socket.SHUT_RDWR)
        if "gunicorn.socket" in environ:
            raise StopIteration  # gunicorn closes the connection, writing nothing
        raise ConnectionAbortedError("the WebSocket was passed on and has closed")


def _splice(one: socket.socket, other: socket.socket) -> None:
    """Pass bytes between two sockets both ways until either closes."""
    with selectors.DefaultSelector() as selector:
        selector.register(one, selectors.EVENT_READ, other)
        selector.register(other, selectors.EVENT_READ, one)
        while True:
            for key, _ in selector.select():
                source: socket.socket = key.fileobj  # type: ignore[assignment]
                data = source.recv(65536)
                if not data:
                    return
                key.data.sendall(data)


def service_upstream() -> Response:
    """Where a gateway passes a request for a service on.

    ``X-Original-URI`` is the request's path; its credentials are this request's. The
    answer is an empty 200: with ``X-Polyaxon-Upstream: host:port`` when the caller may
    read the run and its service is running, without it otherwise (the gateway then
    hands the request to this server, whose proxy answers it as it would any other,
    refusals included). Nothing else is said, so the path cannot be used to learn
    anything but where a service its caller may reach listens.
    """
    answer = Response(status=200)
    answer.headers["Cache-Control"] = "private, no-store"
    matched = _SERVICE_PATH.fullmatch(request.headers.get("X-Original-URI", ""))
    if matched is None:
        return answer
    parts = matched.groupdict()
    if _leaves_prefix(unquote(parts["rest"] or "")):
        return answer
    try:
        user = current_user()
    except (Unauthenticated, AuthenticationFailed):  # the server's proxy says which
        return answer
    if getattr(user, "run_scope", None) is not None or getattr(user, "agent", None) is not None:
        return answer  # a run's or an agent's token reaches no service
    names = {key: unquote(parts[key]) for key in ("namespace", "owner", "project", "uuid")}
    if not is_allowed(user, RUN_READ, resource_from(names)):
        return answer
    port = int(parts["port"])
    prefix = "rewrite_services" if parts["prefix"] == REWRITE_SERVICES_PREFIX else "services"
    base = _base(prefix, names["namespace"], names["owner"], names["project"], names["uuid"], port)
    try:
        with server.session() as session:
            host, listening = _target(session, base, names["owner"], names["project"],
                                      names["uuid"], port)
    except PolyaxonError:
        return answer
    answer.headers[UPSTREAM_HEADER] = f"[{host}]:{listening}" if ":" in host else f"{host}:{listening}"
    return answer


def init_proxy(app: Flask) -> None:
    """Serve ``/services/v1`` and ``/rewrite-services/v1``, each request authorized as a
    read of the run (:mod:`polyaxon_core.api.security`)."""
    from polyaxon_core.api.blueprints import add_routes

    app.extensions[_CONNECTIONS_KEY] = _Connections()
    app.extensions[_VERDICTS_KEY] = _Verdicts()
    state = app.extensions[EXTENSION_KEY]
    routes = [Route(method, rule, proxy_service, RUN_READ, "services",
                    {200: Reply("the service's answer", content_type="*/*")}, documented=False)
              for method in METHODS for rule in RULES]
    for name, prefix in (("services", SERVICES_PREFIX), ("rewrite_services", REWRITE_SERVICES_PREFIX)):
        blueprint = Blueprint(name, __name__, url_prefix=prefix)
        add_routes(blueprint, routes, state, prefix=f"{name}.")
        for rule in RULES:  # a WebSocket's request matches only rules made for WebSockets
            blueprint.add_url_rule(rule, endpoint=proxy_service.__name__, view_func=proxy_service,
                                   methods=["GET"], websocket=True, provide_automatic_options=False)
        app.register_blueprint(blueprint)
    add_routes(app, [Route("GET", UPSTREAM_PATH, service_upstream, PUBLIC, "services",
                           {200: Reply("where the service listens, in X-Polyaxon-Upstream")},
                           documented=False)], state)
