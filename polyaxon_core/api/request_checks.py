"""Init step: refuse what a web page in the user's browser could send to this server.

Any page a user visits can make their browser send requests to a server on their
machine or network. Without credentials (``--no-auth``) such a request would act as an
organization owner; with them, a cookie-less token API is still reachable by DNS
rebinding. Before anything else, every request must:

* name a ``Host`` this server answers to (:data:`~polyaxon_core.api.config.LOOPBACK_HOSTS`
  plus ``POLYAXON_ALLOWED_HOSTS``): a rebinding attack sends the attacker's name (400);
* come from this server's own origin, or one of ``POLYAXON_ALLOWED_ORIGINS``, when a
  browser says where it comes from (``Origin``): another site's page is refused (403).

JSON bodies must also say so with ``Content-Type: application/json`` (415, see
:func:`polyaxon_core.api.common.load_body`): browsers send ``text/plain`` bodies across
sites without asking the server first, ``application/json`` only after a preflight this
server never grants.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from flask import Flask, request

from polyaxon_core.api.common import unstorable_text
from polyaxon_core.api.config import LOOPBACK_HOSTS, is_ip_address
from polyaxon_core.api.errors import ParameterError, PermissionDenied
from polyaxon_core.api.extensions import server


def init_request_checks(app: Flask) -> None:
    """Check the Host and the Origin of every request before it is authenticated."""
    app.before_request(check_host)
    app.before_request(check_origin)
    app.before_request(check_url_text)


def host_name(host: str) -> str:
    """The name of a ``Host`` header value, without its port, brackets or final dot."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def is_allowed_host(name: str, allowed: tuple[str, ...]) -> bool:
    """Whether ``name`` is a loopback name or address, or matches ``allowed``."""
    if is_ip_address(name):
        address = ipaddress.ip_address(name)
        return address.is_loopback or "*" in allowed or str(address) in allowed
    if name in LOOPBACK_HOSTS:
        return True
    for pattern in allowed:
        if pattern == "*" or name == pattern:
            return True
        if pattern.startswith(".") and (name == pattern[1:] or name.endswith(pattern)):
            return True
    return False


def check_host() -> None:
    """400 unless the request's Host is one this server answers to."""
    name = host_name(request.host)
    if is_allowed_host(name, server.config.allowed_hosts):
        return
    message = (f"this server does not answer to the host {name!r}; if clients reach it by "
               f"that name, add it to POLYAXON_ALLOWED_HOSTS (or `polyaxon server "
               f"--allowed-host {name}`)")
    raise ParameterError("Host", message)


def check_origin() -> None:
    """403 when a browser sends the request from a page of another origin."""
    origin = request.headers.get("Origin")
    if origin is None:
        return  # not sent by a browser page (or a same-origin navigation)
    parts = urlsplit(origin.strip().lower())
    if parts.netloc and parts.netloc == request.host.strip().lower():
        return  # this server's own pages (the API docs)
    if f"{parts.scheme}://{parts.netloc}" in server.config.allowed_origins:
        return
    raise PermissionDenied(
        f"cross-site request refused: a page of {origin!r} may not call this API; if that "
        "web application should, add its origin to POLYAXON_ALLOWED_ORIGINS"
    )


def check_url_text() -> None:
    """400 when the path or a query parameter holds text no database can store."""
    for name, text in [("path", request.path), *request.args.items(multi=True)]:
        problem = unstorable_text(name) or unstorable_text(text)
        if problem:
            raise ParameterError(name, f"the {'URL path' if name == 'path' else name} "
                                       f"holds {problem}")
