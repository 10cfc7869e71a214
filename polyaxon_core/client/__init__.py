"""Talking to polyaxon: over HTTP to a server, or directly to the database.

* :class:`~polyaxon_core.client.api.ApiClient` — a typed client of the REST API;
* :mod:`~polyaxon_core.client.credentials` — which server and token to use
  (``POLYAXON_HOST`` / ``POLYAXON_AUTH_TOKEN``, or the saved ``polyaxon login``);
* :class:`~polyaxon_core.client.platform.Platform` — what the CLI commands use, with a
  local implementation over the database (:mod:`~polyaxon_core.client.local`) and a
  remote one over the API (:mod:`~polyaxon_core.client.remote`).

Importing this package loads the standard library only; the local implementation
imports SQLAlchemy and the domain modules when it is used.
"""

from polyaxon_core.client.api import ApiClient, ArtifactEntry, BatchResult, LogChunk
from polyaxon_core.client.errors import (
    ApiError,
    BadRequest,
    PayloadTooLarge,
    PermissionDenied,
    ResourceNotFound,
    ServerError,
    ServerUnreachable,
    StateConflict,
    Unauthenticated,
)
from polyaxon_core.client.transport import RetryPolicy

__all__ = [
    "ApiClient",
    "ApiError",
    "ArtifactEntry",
    "BadRequest",
    "BatchResult",
    "LogChunk",
    "PayloadTooLarge",
    "PermissionDenied",
    "ResourceNotFound",
    "RetryPolicy",
    "ServerError",
    "ServerUnreachable",
    "StateConflict",
    "Unauthenticated",
]
