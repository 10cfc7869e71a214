"""Errors of the HTTP client, mapped onto the domain errors of :mod:`polyaxon_core.errors`.

The API answers every failure with ``{"code", "message", "errors"}``; :func:`error_for`
turns that into an exception that is both an :class:`ApiError` (status, field errors,
URL) and, where one exists, the domain error the same failure raises locally, so code
that catches ``NotFound`` or ``Conflict`` works the same on both sides.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from polyaxon_core.errors import Conflict, InvalidRequest, NotFound, PolyaxonError


class ServerUnreachable(PolyaxonError):
    """No answer from the server: connection refused or reset, a timeout, an unknown host."""


class ApiError(PolyaxonError):
    """The server answered with an error status."""

    def __init__(self, message: str, status: int, field_errors: Mapping[str, Any] | None = None,
                 url: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field_errors: dict[str, Any] = dict(field_errors or {})
        self.url = url


class BadRequest(ApiError, InvalidRequest):
    """400 (malformed) or 422 (well-formed but invalid, e.g. a polyaxonfile)."""


class Unauthenticated(ApiError):
    """401: no token, or one that is unknown, expired or revoked."""


class PermissionDenied(ApiError):
    """403: authenticated, but the user's roles do not allow the action."""


class ResourceNotFound(ApiError, NotFound):
    """404."""


class StateConflict(ApiError, Conflict):
    """409: a duplicate, or the resource's state forbids the action now."""


class PayloadTooLarge(ApiError, InvalidRequest):
    """413: more than the server accepts in one request."""


class ServerError(ApiError):
    """5xx: the server failed; the request may succeed when retried."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthenticated,
    403: PermissionDenied,
    404: ResourceNotFound,
    409: StateConflict,
    413: PayloadTooLarge,
    422: BadRequest,
}


def error_for(status: int, body: Any, url: str, host: str) -> ApiError:
    """The exception for an error response; ``body`` is the decoded JSON, if any."""
    message = ""
    field_errors: Mapping[str, Any] = {}
    if isinstance(body, Mapping):
        message = str(body.get("message") or "")
        raw_errors = body.get("errors")
        if isinstance(raw_errors, Mapping):
            field_errors = raw_errors
    if not message:
        message = f"the server at {host} answered HTTP {status}"
    details = [
        f"  {field}: {'; '.join(map(str, problems)) if isinstance(problems, list) else problems}"
        for field, problems in field_errors.items()
    ]
    if status == 401:
        message += (f" (not logged in to {host}, or the token expired or was revoked: "
                    "run `polyaxon login`, or set POLYAXON_AUTH_TOKEN)")
    if status >= 500:
        kind: type[ApiError] = ServerError
    else:
        kind = _BY_STATUS.get(status, BadRequest if 400 <= status < 500 else ServerError)
    return kind("\n".join([message, *details]), status, field_errors, url)
