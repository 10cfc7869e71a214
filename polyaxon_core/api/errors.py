"""The one place where failures become HTTP answers.

Every error is JSON ``{"code": <status>, "message": "...", "errors": {"field": ["..."]}}``:
domain errors carry their own status (``polyaxon_core.errors``), an invalid polyaxonfile
is 422 with each problem under its field path, a query the language cannot read is 400
with the caret under the offending token, invalid input is 400 by field, a path leaving
its run is 400, and Werkzeug's HTTP errors (404, 405, 413, ...) keep their status and
headers. Anything unexpected is logged with its traceback and answered with a generic
500: never HTML, never a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from polyaxon_core.errors import PolyaxonError
from polyaxon_core.interfaces import AuthenticationFailed, UnsafePathError
from polyaxon_core.query import QueryError
from polyaxon_core.spec import PolyaxonfileError

logger = logging.getLogger(__name__)

FieldErrors = Mapping[str, list[str]]


class ParameterError(PolyaxonError):
    """A request parameter that cannot be used; ``errors`` names it."""

    http_status = 400

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.errors = {parameter: [message]}


class UnprocessableParameter(ParameterError):
    """A well-formed parameter the request cannot be carried out with, for a rule JSON
    Schema cannot state (a path that leaves the run)."""

    http_status = 422


class Unauthenticated(PolyaxonError):
    """No credentials, or credentials that no authentication plugin accepts."""

    http_status = 401


class PermissionDenied(PolyaxonError):
    """Authenticated, but the user's roles do not allow the action."""

    http_status = 403


class PayloadTooLarge(PolyaxonError):
    http_status = 413


class TooManyRequests(PolyaxonError):
    """More of something at once than the server allows; ``retry_after`` is in seconds."""

    http_status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnsupportedMediaType(PolyaxonError):
    """A body whose Content-Type is not the one the endpoint reads."""

    http_status = 415


def error_response(status: int, message: str, errors: FieldErrors | None = None,
                   headers: Mapping[str, str] | None = None) -> Response:
    response = jsonify({"code": status, "message": message, "errors": dict(errors or {})})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def init_error_handlers(app: Flask) -> None:
    """Answer every failure with the JSON error object."""
    app.register_error_handler(PolyaxonError, _domain_error)
    app.register_error_handler(AuthenticationFailed, _authentication_failed)
    app.register_error_handler(PolyaxonfileError, _invalid_polyaxonfile)
    app.register_error_handler(QueryError, _invalid_query)
    app.register_error_handler(ValidationError, _invalid_input)
    app.register_error_handler(UnsafePathError, _unsafe_path)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def _domain_error(exc: PolyaxonError) -> Response:
    headers = {"WWW-Authenticate": 'Token realm="polyaxon"'} if exc.http_status == 401 else None
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers = {"Retry-After": str(retry_after)}
    return error_response(exc.http_status, str(exc), getattr(exc, "errors", None), headers)


def _authentication_failed(exc: AuthenticationFailed) -> Response:
    return _domain_error(Unauthenticated(str(exc) or "the credentials were refused"))


def _invalid_polyaxonfile(exc: PolyaxonfileError) -> Response:
    errors: dict[str, list[str]] = {}
    for problem in exc.problems:
        text = problem.message if problem.line is None else f"line {problem.line}: {problem.message}"
        if problem.valid:
            text = f"{text}; valid: {problem.valid}"
        errors.setdefault(problem.path or "content", []).append(text)
    return error_response(422, str(exc), errors)


def _invalid_query(exc: QueryError) -> Response:
    # The runs list reads both `query` and `sort` with the query language; the error
    # belongs to whichever parameter holds the text that failed.
    parameter = "sort" if request.args.get("sort") == exc.text else "query"
    detail = f"{exc.message} (at character {exc.position + 1}"
    detail += f": {exc.token!r})" if exc.token else ")"
    return error_response(400, f"invalid {parameter}: {exc}", {parameter: [detail]})


def _invalid_input(exc: ValidationError) -> Response:
    errors = _flatten(exc.messages)
    fields = ", ".join(sorted(errors)) or "the request"
    return error_response(400, f"invalid input: {fields}", errors)


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Marshmallow's nested messages as ``{"metrics.3.value": ["..."]}``."""
    if isinstance(messages, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            name = str(key) if key != "_schema" else "body"
            flat.update(_flatten(value, f"{prefix}.{name}" if prefix else name))
        return flat
    if isinstance(messages, list) and all(isinstance(item, str) for item in messages):
        return {prefix or "body": list(messages)}
    return {prefix or "body": [str(messages)]}


def _unsafe_path(exc: UnsafePathError) -> Response:
    return error_response(400, str(exc), {"path": [str(exc)]})


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    message = exc.description or exc.name
    if isinstance(exc, RequestEntityTooLarge):
        limit = request.max_content_length
        message = (f"the request body is larger than this endpoint accepts ({limit} bytes)"
                   if limit else message)
    # keep what Werkzeug says in headers (Allow on a 405), not its HTML body
    headers = {name: value for name, value in exc.get_headers()
               if name.lower() not in {"content-type", "content-length"}}
    return error_response(status, message, None, headers)


def _unexpected(exc: Exception) -> Response:
    from polyaxon_core.api.extensions import server
    from polyaxon_core.storage_errors import describe_storage_error

    failure = describe_storage_error(exc, server.settings)
    if failure is not None:
        # the path is the server's business (the log has it); the client learns the cause
        logger.error("%s %s failed: %s", request.method, request.path, failure.message)
        return error_response(
            failure.http_status,
            f"the server cannot write its storage ({failure.cause}); nothing was changed, "
            "ask its administrator",
        )
    logger.exception("unexpected error while serving %s %s", request.method, request.path)
    return error_response(
        500, "internal server error: the request failed unexpectedly; the server log has the details"
    )
