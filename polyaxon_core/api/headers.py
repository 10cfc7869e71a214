"""Init step: the security headers every answer carries.

* ``X-Content-Type-Options: nosniff``: a browser takes a JSON answer or a downloaded
  artifact for what its Content-Type says, never for a page or a script;
* ``X-Frame-Options: DENY`` and a ``Content-Security-Policy`` with
  ``frame-ancestors 'none'``: no other site can frame the server's pages. HTML pages (the
  API docs) may load scripts, styles, images and data from this server only; every other
  answer may load nothing;
* ``Referrer-Policy: no-referrer``: URLs (with run uuids and queries) stay on the server;
* ``Cache-Control: no-store`` on JSON answers that do not say otherwise: they are one
  user's data, and some carry secrets (a new token), which no cache may keep.

A service's answer passed on by the proxy (:mod:`polyaxon_core.api.proxy`) keeps its
own headers, with ``X-Frame-Options: SAMEORIGIN`` unless it says otherwise.
"""

from __future__ import annotations

from flask import Flask, Response, g

#: what the API docs page may load: this server's files; Swagger UI sets inline styles
PAGE_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
               "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
#: what any other answer may load, should a browser render it: nothing
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox"


def init_security_headers(app: Flask) -> None:
    app.after_request(add_security_headers)


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    if g.get("proxied_service"):
        # a service's answer keeps its own policies; no other site may frame it
        headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        return response
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    policy = PAGE_POLICY if response.mimetype == "text/html" else DATA_POLICY
    headers.setdefault("Content-Security-Policy", policy)
    if response.mimetype == "application/json" and "Cache-Control" not in headers:
        headers["Cache-Control"] = "no-store"
    return response
