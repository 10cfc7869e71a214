"""Init step: errors on a page are pages in the app's layout (404, 403, 400, 500), with
the message that names the problem; the API keeps answering its errors in JSON."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException

from polyaxon_core.errors import PolyaxonError
from polyaxon_webapp.headers import wants_page

logger = logging.getLogger(__name__)

TITLES = {400: "Bad request", 401: "Not logged in", 403: "Not allowed", 404: "Not found",
          405: "Not allowed", 409: "Conflict", 429: "Too many requests", 500: "Server error",
          503: "Busy"}


def init_error_pages(app: Flask) -> None:
    api_handlers: dict[type, Callable[[Any], Any]] = dict(app.error_handler_spec[None][None])

    def answer(exc: Exception, status: int, message: str) -> Any:
        if not wants_page():
            for kind in type(exc).__mro__:
                if kind in api_handlers:
                    return api_handlers[kind](exc)
            raise exc
        return error_page(status, message)

    def http_error(exc: HTTPException) -> Any:
        return answer(exc, exc.code or 500, exc.description or TITLES.get(exc.code or 500, ""))

    def domain_error(exc: PolyaxonError) -> Any:
        return answer(exc, exc.http_status, str(exc))

    def unexpected(exc: Exception) -> Any:
        if wants_page():
            logger.exception("a page failed")
        return answer(exc, 500, "the server failed to show this page; the error is in its log")

    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(PolyaxonError, domain_error)
    app.register_error_handler(Exception, unexpected)


def error_page(status: int, message: str) -> Any:
    from flask import current_app

    appbuilder = current_app.extensions["appbuilder"]
    return render_template("polyaxon/error.html", status=status, title=TITLES.get(status, "Error"),
                           message=message, appbuilder=appbuilder,
                           base_template=appbuilder.base_template), status
