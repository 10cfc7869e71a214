"""What the API server adds to the core settings, read from the environment."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from polyaxon_core.accounts import DEFAULT_HASHING_CONCURRENCY
from polyaxon_core.config import ConfigurationError
from polyaxon_core.domain.logins import (
    DEFAULT_ATTEMPTS_PER_ADDRESS,
    DEFAULT_FAILURES_PER_ACCOUNT,
    DEFAULT_WINDOW_SECONDS,
    LoginLimits,
)

DEFAULT_MAX_UPLOAD_BYTES = 1024**3
#: JSON bodies (a polyaxonfile, a metric batch) are small; uploads have their own limit
MAX_JSON_BYTES = 16 * 1024**2


#: how long one log-follow answer lasts at most, and how many a server process (one
#: user) holds at once: a follow answer holds a thread of the server while it lasts
DEFAULT_LOG_STREAM_SECONDS = 30.0
DEFAULT_MAX_LOG_STREAMS = 6
DEFAULT_MAX_LOG_STREAMS_PER_USER = 3
#: how many WebSockets to services a server process passes on at once (in all, for one
#: user): each holds a thread of the server while it is open
DEFAULT_MAX_SERVICE_SOCKETS = 64
DEFAULT_MAX_SERVICE_SOCKETS_PER_USER = 16

#: the names of this machine, always answered: no other site can make a browser send them
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class ServerConfig:
    """``auth``: whether requests must authenticate (off only for ``--no-auth``);
    ``max_upload_bytes``: the largest artifact one upload may carry;
    ``orchestrator_on_demand``: start the embedded orchestrator when runs are queued;
    ``allowed_hosts``: the ``Host`` names served besides :data:`LOOPBACK_HOSTS`
    (``.example.com`` also matches its subdomains, ``*`` any name);
    ``allowed_origins``: the origins of web applications on other sites that may call
    the API from a browser (the server's own origin always may);
    ``log_stream_seconds``: how long one log-follow answer lasts at most;
    ``max_log_streams`` / ``max_log_streams_per_user``: how many follow answers this
    process serves at once, in all and to one user;
    ``max_service_sockets`` / ``max_service_sockets_per_user``: how many WebSockets to
    services this process passes on at once, in all and for one user;
    ``login_limits``: the rate limits of password logins
    (:mod:`polyaxon_core.domain.logins`);
    ``password_hashing_concurrency``: how many passwords this process hashes at once."""

    auth: bool = True
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    orchestrator_on_demand: bool = False
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    log_stream_seconds: float = DEFAULT_LOG_STREAM_SECONDS
    max_log_streams: int = DEFAULT_MAX_LOG_STREAMS
    max_log_streams_per_user: int = DEFAULT_MAX_LOG_STREAMS_PER_USER
    max_service_sockets: int = DEFAULT_MAX_SERVICE_SOCKETS
    max_service_sockets_per_user: int = DEFAULT_MAX_SERVICE_SOCKETS_PER_USER
    login_limits: LoginLimits = field(default_factory=LoginLimits)
    password_hashing_concurrency: int = DEFAULT_HASHING_CONCURRENCY


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


def _names(variable: str) -> list[str]:
    return [name.strip() for name in os.environ.get(variable, "").split(",") if name.strip()]


def allowed_hosts_from_environment() -> list[str]:
    """``POLYAXON_ALLOWED_HOSTS``: comma-separated host names (no port)."""
    return _names("POLYAXON_ALLOWED_HOSTS")


def allowed_origins_from_environment() -> list[str]:
    """``POLYAXON_ALLOWED_ORIGINS``: comma-separated origins (``https://ui.example.com``)."""
    return _names("POLYAXON_ALLOWED_ORIGINS")


def normalize_host_names(names: Iterable[str], source: str) -> tuple[str, ...]:
    """Host names as the Host check compares them: lower case, without a final dot.

    A name with a scheme, a port or a path is a mistake that would never match: refused.
    """
    normalized = []
    for name in names:
        value = name.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")
        bare = value[1:] if value.startswith(".") else value
        if is_ip_address(value):
            normalized.append(str(ipaddress.ip_address(value)))
            continue
        if value != "*" and (not bare or any(mark in bare for mark in "/:@ ") or "*" in bare):
            raise ConfigurationError(
                f"{source}: {name!r} is not a host name; give names such as "
                "`polyaxon.example.com`, `.example.com` (with its subdomains) or `*` (any)"
            )
        normalized.append(value)
    return tuple(normalized)


def normalize_origins(origins: Iterable[str], source: str) -> tuple[str, ...]:
    """Origins as browsers send them: ``scheme://host[:port]``, lower case."""
    normalized = []
    for origin in origins:
        parts = urlsplit(origin.strip().lower())
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path.strip("/") \
                or parts.query or parts.fragment:
            raise ConfigurationError(
                f"{source}: {origin!r} is not an origin; give `scheme://host[:port]`, "
                "e.g. https://ui.example.com"
            )
        normalized.append(f"{parts.scheme}://{parts.netloc}")
    return tuple(normalized)


def is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def positive_from_environment(variable: str, default: float) -> float:
    """A positive number from ``variable`` (``default`` when unset)."""
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise ConfigurationError(f"{variable}={raw!r} is not a positive number; unset it to "
                                 f"use the default ({default:g}).")
    return value


def log_stream_limits_from_environment() -> dict[str, float | int]:
    """``POLYAXON_LOG_STREAM_SECONDS``, ``POLYAXON_MAX_LOG_STREAMS``,
    ``POLYAXON_MAX_LOG_STREAMS_PER_USER`` and ``POLYAXON_MAX_SERVICE_SOCKETS[_PER_USER]``
    as :class:`ServerConfig` fields."""
    return {
        "log_stream_seconds": positive_from_environment(
            "POLYAXON_LOG_STREAM_SECONDS", DEFAULT_LOG_STREAM_SECONDS),
        "max_log_streams": int(positive_from_environment(
            "POLYAXON_MAX_LOG_STREAMS", DEFAULT_MAX_LOG_STREAMS)),
        "max_log_streams_per_user": int(positive_from_environment(
            "POLYAXON_MAX_LOG_STREAMS_PER_USER", DEFAULT_MAX_LOG_STREAMS_PER_USER)),
        "max_service_sockets": int(positive_from_environment(
            "POLYAXON_MAX_SERVICE_SOCKETS", DEFAULT_MAX_SERVICE_SOCKETS)),
        "max_service_sockets_per_user": int(positive_from_environment(
            "POLYAXON_MAX_SERVICE_SOCKETS_PER_USER", DEFAULT_MAX_SERVICE_SOCKETS_PER_USER)),
    }


def login_limits_from_environment() -> dict[str, LoginLimits | int]:
    """``POLYAXON_LOGIN_WINDOW_SECONDS``, ``POLYAXON_LOGIN_FAILURES_PER_ACCOUNT``,
    ``POLYAXON_LOGIN_ATTEMPTS_PER_ADDRESS`` and ``POLYAXON_PASSWORD_HASHING_CONCURRENCY``
    as :class:`ServerConfig` fields."""
    limits = LoginLimits(
        window_seconds=positive_from_environment("POLYAXON_LOGIN_WINDOW_SECONDS",
                                                 DEFAULT_WINDOW_SECONDS),
        failures_per_account=int(positive_from_environment(
            "POLYAXON_LOGIN_FAILURES_PER_ACCOUNT", DEFAULT_FAILURES_PER_ACCOUNT)),
        attempts_per_address=int(positive_from_environment(
            "POLYAXON_LOGIN_ATTEMPTS_PER_ADDRESS", DEFAULT_ATTEMPTS_PER_ADDRESS)),
    )
    concurrency = int(positive_from_environment("POLYAXON_PASSWORD_HASHING_CONCURRENCY",
                                                DEFAULT_HASHING_CONCURRENCY))
    return {"login_limits": limits, "password_hashing_concurrency": concurrency}
