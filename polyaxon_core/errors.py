"""Domain errors: each carries its message; the CLI and the API map them to exit codes
and HTTP statuses in one place each."""

from __future__ import annotations


class PolyaxonError(Exception):
    """Base class of the errors users are meant to read."""

    http_status = 400


class NotFound(PolyaxonError):
    http_status = 404


class AlreadyExists(PolyaxonError):
    http_status = 409


class InvalidRequest(PolyaxonError):
    http_status = 400


class Unprocessable(InvalidRequest):
    """Well-formed, but naming what does not exist or cannot be used here (a connection
    missing from the catalog, or of the wrong kind)."""

    http_status = 422


class Conflict(PolyaxonError):
    """The request is valid but the resource's state forbids it now (e.g. stop a final run)."""

    http_status = 409
