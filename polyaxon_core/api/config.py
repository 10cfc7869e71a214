"""What the API server adds to the core settings, read from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass

from polyaxon_core.config import ConfigurationError

DEFAULT_MAX_UPLOAD_BYTES = 1024**3
#: JSON bodies (a polyaxonfile, a metric batch) are small; uploads have their own limit
MAX_JSON_BYTES = 16 * 1024**2


@dataclass(frozen=True)
class ServerConfig:
    """``auth``: whether requests must authenticate (off only for ``--no-auth``);
    ``max_upload_bytes``: the largest artifact one upload may carry;
    ``orchestrator_on_demand``: start the embedded orchestrator when runs are queued."""

    auth: bool = True
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    orchestrator_on_demand: bool = False


def max_upload_bytes_from_environment() -> int:
    """``POLYAXON_MAX_UPLOAD_BYTES``, a whole number of bytes (default 1 GiB)."""
    raw = os.environ.get("POLYAXON_MAX_UPLOAD_BYTES", "").strip()
    if not raw:
        return DEFAULT_MAX_UPLOAD_BYTES
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigurationError(
            f"POLYAXON_MAX_UPLOAD_BYTES={raw!r} is not a positive whole number of bytes; "
            f"unset it to use the default ({DEFAULT_MAX_UPLOAD_BYTES})."
        )
    return int(raw)
