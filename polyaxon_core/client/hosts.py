"""A server's address as every client spells it: ``scheme://host[:port][/prefix]``.

Apart from the HTTP transport so that reading which server is configured (every command
of the CLI does, even one that talks to the database directly) loads no HTTP module.
"""

from __future__ import annotations

import urllib.parse

from polyaxon_core.config import ConfigurationError


def normalize_host(host: str, setting: str = "POLYAXON_HOST") -> str:
    """``host`` as ``scheme://host[:port][/prefix]``; ``http://`` when no scheme is given."""
    text = host.strip().rstrip("/")
    if "://" not in text:
        text = f"http://{text}"
    parsed = urllib.parse.urlsplit(text)
    if parsed.scheme not in {"http", "https"} or not parsed.hostname:
        raise ConfigurationError(
            f"{setting}={host!r} is not a server address; use e.g. http://127.0.0.1:8000"
        )
    try:
        parsed.port  # noqa: B018 - validates the port
    except ValueError:
        raise ConfigurationError(f"{setting}={host!r} has an invalid port") from None
    return urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, parsed.path, "", ""))
