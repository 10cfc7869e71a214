"""Which server to talk to, and with which token.

In order:

1. ``POLYAXON_HOST`` in the environment (what a run receives, what CI sets), with the
   token from ``POLYAXON_AUTH_TOKEN``, else the saved login's token if it was saved for
   the same host;
2. the saved login, ``$POLYAXON_HOME/auth.json`` (written by ``polyaxon login``, mode
   0600), with ``POLYAXON_AUTH_TOKEN`` overriding its token when set;
3. nothing: no server, the CLI and the SDK use the database directly.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from polyaxon_core.client.hosts import normalize_host
from polyaxon_core.config import ConfigurationError, load_settings

AUTH_FILE = "auth.json"


@dataclass(frozen=True)
class Credentials:
    host: str
    token: str | None
    username: str | None = None


def auth_path(home: Path | None = None) -> Path:
    return (home or load_settings().home) / AUTH_FILE


def load_saved(home: Path | None = None) -> Credentials | None:
    """The saved login, or None; a damaged file is a configuration error naming it."""
    path = auth_path(home)
    try:
        data = json.loads(path.read_text())
        return Credentials(normalize_host(str(data["host"]), str(path)), data.get("token"),
                           data.get("username"))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ConfigurationError(
            f"{path} is not a valid login file; delete it and run `polyaxon login` again"
        ) from None


def save(credentials: Credentials, home: Path | None = None) -> Path:
    """Write the login, readable by its owner only (0600), replacing any earlier one."""
    path = auth_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{AUTH_FILE}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)  # whatever the umask or an older file said
        json.dump(asdict(credentials), handle, indent=2)
    temporary.replace(path)
    return path


def forget(home: Path | None = None) -> bool:
    """Delete the saved login; whether there was one."""
    try:
        auth_path(home).unlink()
    except FileNotFoundError:
        return False
    return True


def resolve(environ: Mapping[str, str] | None = None) -> Credentials | None:
    """The server and token to use now (see the module's docstring), or None for none."""
    env = os.environ if environ is None else environ
    saved = load_saved()
    token_override = env.get("POLYAXON_AUTH_TOKEN") or None
    host = env.get("POLYAXON_HOST")
    if host:
        host = normalize_host(host)
        token = token_override or (saved.token if saved is not None and saved.host == host else None)
        username = saved.username if saved is not None and saved.host == host else None
        return Credentials(host, token, username)
    if saved is not None:
        return Credentials(saved.host, token_override or saved.token, saved.username)
    return None
