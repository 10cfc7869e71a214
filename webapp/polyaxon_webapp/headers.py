"""Init step: the pages' Content-Security-Policy, with a nonce per response.

Pages load scripts, styles, fonts and images from this server only (plotly.js
included: no CDN, nothing from the network), and run no inline script but the ones the
templates mark with the response's nonce. The API's answers keep the core's headers.

One exception: plotly's parallel coordinates draw with WebGL through regl, which builds
its drawing functions with ``new Function``; a page that shows them (a sweep's) sets
:func:`allow_shader_compilation` and its policy adds ``'unsafe-eval'`` (still only for
the scripts this server sent with the nonce).
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, g, request

from polyaxon_core.api.extensions import server


def page_policy(nonce: str, evaluates: bool = False) -> str:
    scripts = f"'self' 'nonce-{nonce}'" + (" 'unsafe-eval'" if evaluates else "")
    return (f"default-src 'self'; script-src {scripts}; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'none'")


def csp_nonce() -> str:
    """The nonce of this response's inline scripts (Flask-AppBuilder's templates ask for it
    by this name)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    nonce: str = g.csp_nonce
    return nonce


def allow_shader_compilation() -> None:
    """This page draws WebGL charts (see the module's docstring)."""
    g.page_compiles_shaders = True


def is_page_request() -> bool:
    """Whether this request is for a page of the UI rather than for the API."""
    if request.endpoint is not None:
        return request.endpoint in server.state.page_endpoints
    # no route: a 404 or 405
    return not request.path.startswith(("/api/", "/streams/", "/services/", "/rewrite-services/"))


def wants_page() -> bool:
    """Whether an error on this request is answered with a page: a request for a page by
    a browser (which asks for HTML first); any other client gets the API's JSON."""
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return is_page_request() and best == "text/html"


def init_page_headers(app: Flask) -> None:
    app.context_processor(lambda: {"csp_nonce": csp_nonce})
    app.after_request(add_page_policy)


def add_page_policy(response: Response) -> Response:
    if response.mimetype == "text/html" and is_page_request():
        policy = page_policy(csp_nonce(), evaluates=bool(g.get("page_compiles_shaders")))
        response.headers["Content-Security-Policy"] = policy
        # the pages' own forms and scripts must send their origin, which the server checks
        # (with `no-referrer` a browser sends `Origin: null`); other sites get nothing
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers.setdefault("Cache-Control", "no-store")
    return response
