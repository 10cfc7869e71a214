"""Talking to polyaxon: over HTTP to a server, or directly to the database.

* :class:`~polyaxon_core.client.api.ApiClient` — a typed client of the REST API;
* :mod:`~polyaxon_core.client.credentials` — which server and token to use
  (``POLYAXON_HOST`` / ``POLYAXON_AUTH_TOKEN``, or the saved ``polyaxon login``);
* :class:`~polyaxon_core.client.platform.Platform` — what the CLI commands use, with a
  local implementation over the database (:mod:`~polyaxon_core.client.local`) and a
  remote one over the API (:mod:`~polyaxon_core.client.remote`).

Importing this package loads nothing else: each name above is imported on first use, and
the local implementation imports SQLAlchemy and the domain modules when it is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# loaded on first use: a command of the CLI that talks to the database reads which server
# is configured (polyaxon_core.client.credentials) without loading the HTTP client
_EXPORTS = {
    **dict.fromkeys(("ApiClient", "ArtifactEntry", "BatchResult", "LogChunk"), "polyaxon_core.client.api"),
    **dict.fromkeys(("ApiError", "BadRequest", "PayloadTooLarge", "PermissionDenied",
                     "ResourceNotFound", "ServerError", "ServerUnreachable", "StateConflict",
                     "Unauthenticated"), "polyaxon_core.client.errors"),
    "RetryPolicy": "polyaxon_core.client.transport",
}

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


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
