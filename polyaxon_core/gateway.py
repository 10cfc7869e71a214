"""An nginx gateway in front of the server: ``polyaxon gateway``.

nginx passes every request on to the server, except the services' (``/services/v1/...``
and ``/rewrite-services/v1/...``), which it passes on to the service itself once the
server has said the caller may reach it: an ``auth_request`` to
``/auth-request/v1/services`` (:func:`polyaxon_core.api.proxy.service_upstream`), whose
answer nginx keeps for a few seconds per credentials and service port, as the server's
own proxy does. So a notebook's requests cost nginx's relay, not a Python server's.

What nginx does as the server's proxy does: the caller's ``Authorization`` and the
server's session cookies never reach the service; ``X-Forwarded-*`` say where the
request came from; a ``rewritePath`` service is asked without its prefix, and a redirect
of its own paths is sent back under the prefix; WebSockets are passed on; a path with
``.`` or ``..`` segments is not. Every request nginx does not pass on to a service (a
caller who may not read the run, a service not running, a bad path) goes to the server,
which answers it, with its JSON errors.
"""

from __future__ import annotations

import re
from typing import Any

from polyaxon_core.api.proxy import UPSTREAM_HEADER, UPSTREAM_PATH, VERDICT_SECONDS
from polyaxon_core.services import REWRITE_SERVICES_PREFIX, SERVICES_PREFIX

#: the server's session cookies, which no service sees (the web UI's defaults)
SESSION_COOKIES = ("session", "remember_token")

_ADDRESS = re.compile(r"(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}")


class GatewayConfigError(ValueError):
    """An option the configuration cannot be written with; the message says which."""


def _address(value: str, option: str) -> str:
    if not _ADDRESS.fullmatch(value) or not 0 < int(value.rsplit(":", 1)[1]) < 65536:
        raise GatewayConfigError(f"{option} {value!r} is not HOST:PORT (e.g. 127.0.0.1:8000)")
    return value


def nginx_config(*, api: str, listen: str, cache_dir: str, resolver: str | None = None,
                 max_body_bytes: int = 1024 ** 3, server_name: str = "_") -> str:
    """The ``http`` block's content of an nginx serving the server at ``api`` on
    ``listen``, keeping the services' verdicts under ``cache_dir``. ``resolver`` is the
    DNS server nginx asks for the services' host names (a cluster's DNS); without it,
    services must listen on addresses (the local scheduler's loopback)."""
    _address(api, "--api")
    _address(listen, "--listen")
    if not cache_dir.startswith("/") or any(char in cache_dir for char in " ;{}'\"\\$"):
        raise GatewayConfigError(f"--cache-dir {cache_dir!r} is not an absolute path without "
                                 "spaces, quotes, `;`, `{`, `}` or `$`")
    if resolver is not None and not re.fullmatch(r"[0-9A-Za-z.:\[\]-]+", resolver):
        raise GatewayConfigError(f"--resolver {resolver!r} is not an address (e.g. 10.96.0.10)")
    service = r"/[^/?]+/[^/?]+/[^/?]+/runs/[^/?]+/[0-9]+"
    upstream_variable = UPSTREAM_HEADER.lower().replace("-", "_")
    forwarded = ("proxy_set_header Host $http_host;",
                 "proxy_set_header Connection $polyaxon_connection;",
                 "proxy_set_header Upgrade $http_upgrade;",
                 "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
                 "proxy_set_header X-Forwarded-Proto $scheme;",
                 "proxy_set_header X-Forwarded-Host $http_host;")
    services, rewrite = re.escape(SERVICES_PREFIX), re.escape(REWRITE_SERVICES_PREFIX)
    cookie_maps = []
    source = "$http_cookie"
    # twice each: a browser may hold two of a name (different paths); the last is the server's
    for index, name in enumerate(name for name in SESSION_COOKIES for _ in range(2)):
        cookie_maps.append(
            f"map {source} $polyaxon_cookie_{index} {{\n"
            f'    "~^(?<before>(?:.*;)?)\\s*{re.escape(name)}=[^;]*;?(?<after>.*)$" "$before$after";\n'
            f"    default {source};\n}}")
        source = f"$polyaxon_cookie_{index}"
    cache_key = "$http_authorization|" + "|".join(f"$cookie_{name}" for name in SESSION_COOKIES)
    lines = [
        "# The polyaxon gateway: written by `polyaxon gateway`; include it in nginx's `http` block.",
        f"proxy_cache_path {cache_dir} levels=1:2 keys_zone=polyaxon_verdicts:10m max_size=64m "
        "inactive=1m use_temp_path=off;",
        *([f"resolver {resolver} valid=30s;"] if resolver else []),
        "",
        "upstream polyaxon_server {",
        f"    server {api};",
        "    keepalive 32;",
        "}",
        "",
        "# the service a path names (its prefix, up to the port), and what the service is asked",
        "map $request_uri $polyaxon_service_base {",
        f'    "~^(?<base>(?:{services}|{rewrite}){service})(?:[/?]|$)" $base;',
        '    default "";',
        "}",
        "map $request_uri $polyaxon_service_path {",
        f'    "~^{rewrite}{service}/?(?<rest>.*)$" /$rest;',
        "    default $request_uri;",
        "}",
        "# `.` and `..` segments, plain or encoded, could leave the prefix: the server refuses them",
        "map $request_uri $polyaxon_dot_segments {",
        '    "~*^[^?]*/(?:\\.|%2e){1,2}(?:/|\\?|$)" 1;',
        "    default 0;",
        "}",
        "# where the request goes: the service the server named, else the server itself",
        "map \"$polyaxon_dot_segments|$polyaxon_upstream\" $polyaxon_pass {",
        '    "~^0\\|(?<to>.+)$" "http://$to$polyaxon_service_path";',
        '    default "http://polyaxon_server$request_uri";',
        "}",
        "map $polyaxon_pass $polyaxon_to_service {",
        '    "~^http://polyaxon_server" 0;',
        "    default 1;",
        "}",
        "# a service never sees the caller's token for the server, nor the server's sessions",
        *cookie_maps,
        "map $polyaxon_to_service $polyaxon_authorization {",
        '    1 "";',
        "    default $http_authorization;",
        "}",
        "map $polyaxon_to_service $polyaxon_cookie {",
        f"    1 {source};",
        "    default $http_cookie;",
        "}",
        "# a rewritePath service's redirects to its own paths go back under its prefix",
        "map \"$polyaxon_to_service$request_uri\" $polyaxon_redirect_prefix {",
        f'    "~^1{rewrite}" $polyaxon_service_base;',
        '    default "";',
        "}",
        "map $polyaxon_to_service $polyaxon_cookie_prefix {",
        "    1 $polyaxon_service_base;",
        '    default "";',
        "}",
        "map $http_upgrade $polyaxon_connection {",
        '    "" "";',
        "    default upgrade;",
        "}",
        "",
        "server {",
        f"    listen {listen};",
        f"    server_name {server_name};",
        f"    client_max_body_size {max_body_bytes};",
        "    absolute_redirect off;  # a service's redirects stay relative, as it sent them",
        "    proxy_http_version 1.1;",
        *(f"    {line}" for line in forwarded),
        "    proxy_connect_timeout 10s;",
        "    proxy_read_timeout 300s;",
        "    proxy_send_timeout 300s;",
        "    proxy_request_buffering off;",
        "",
        "    location / {",
        "        proxy_pass http://polyaxon_server;",
        "        proxy_buffering off;  # the logs' and metrics' streams",
        "    }",
        "",
        f"    location ~ ^(?:{services}|{rewrite})/ {{",
        "        auth_request /_polyaxon_service_upstream;",
        f"        auth_request_set $polyaxon_upstream $upstream_http_{upstream_variable};",
        "        proxy_pass $polyaxon_pass;",
        "        # a location's own proxy_set_header replace the server's: all of them again",
        *(f"        {line}" for line in forwarded),
        "        proxy_set_header Authorization $polyaxon_authorization;",
        "        proxy_set_header Cookie $polyaxon_cookie;",
        "        proxy_set_header X-Forwarded-Prefix $polyaxon_service_base;",
        "        proxy_redirect ~^(?<polyaxon_location>/(?!/).*)$ "
        "$polyaxon_redirect_prefix$polyaxon_location;",
        "        # its cookies stay under a service's prefix: none replaces the server's session",
        f'        proxy_cookie_path "~^(?!(?:{services}|{rewrite}){service}(?:/|$))(.*)$" '
        '"$polyaxon_cookie_prefix$1";',
        "        proxy_buffering off;",
        "        # a service gone since its verdict: the server says what became of it",
        "        error_page 502 504 = @polyaxon_server;",
        "    }",
        "",
        "    location @polyaxon_server {",
        "        proxy_pass http://polyaxon_server;",
        "        proxy_buffering off;",
        "    }",
        "",
        "    location = /_polyaxon_service_upstream {",
        "        internal;",
        f"        proxy_pass http://polyaxon_server{UPSTREAM_PATH};",
        "        proxy_method GET;",
        "        proxy_pass_request_body off;",
        "        proxy_set_header Host $http_host;",
        '        proxy_set_header Content-Length "";',
        '        proxy_set_header Connection "";',
        "        proxy_set_header X-Original-URI $request_uri;",
        "        proxy_cache polyaxon_verdicts;",
        f'        proxy_cache_key "{cache_key}|$polyaxon_service_base|$polyaxon_dot_segments";',
        f"        proxy_cache_valid 200 {VERDICT_SECONDS:g}s;",
        "        proxy_ignore_headers Cache-Control Expires Set-Cookie Vary;",
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def standalone_nginx_config(folder: str, **options: Any) -> str:
    """A whole nginx configuration around :func:`nginx_config`, with its process id,
    error log, verdicts and temporary files under ``folder``: for
    ``nginx -p FOLDER -c FOLDER/nginx.conf`` run by a user without an nginx installation
    of their own. nginx's workers (``nobody`` when started by root) write under it."""
    if not folder.startswith("/") or any(char in folder for char in " ;{}'\"\\$"):
        raise GatewayConfigError(f"--standalone {folder!r} is not an absolute path without "
                                 "spaces, quotes, `;`, `{`, `}` or `$`")
    folder = folder.rstrip("/") or "/"
    temporary = "\n".join(f"    {kind}_temp_path {folder}/{kind}_temp;"
                           for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    gateway = nginx_config(cache_dir=f"{folder}/verdicts", **options)
    return (f"# nginx -p {folder} -c {folder}/nginx.conf\n"
            f"pid {folder}/nginx.pid;\n"
            f"error_log {folder}/error.log warn;\n"
            "events { worker_connections 1024; }\n"
            "http {\n"
            f"    access_log {folder}/access.log;\n"
            f"{temporary}\n"
            + "".join(f"    {line}\n" if line else "\n" for line in gateway.splitlines())
            + "}\n")
