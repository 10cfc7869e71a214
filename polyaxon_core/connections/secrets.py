"""Resolve the secrets and config maps connections name, at the moment they are used.

A secret named ``my-slack`` is read from, in this order:

1. the environment: every ``POLYAXON_SECRET_MY_SLACK__<KEY>`` variable is one key
   (the name upper-cased, other characters than letters and digits as ``_``; ``__``
   separates the name from the key, which is taken as written);
2. the folder ``$POLYAXON_HOME/secrets/my-slack/``: one file per key (the layout of a
   Kubernetes secret mounted as a volume). The folder, ``secrets/`` above it and every
   file must be private to their owner (``chmod 700`` / ``chmod 600``), else it is
   refused.

Config maps follow the same rules with ``POLYAXON_CONFIG_MAP_`` and ``config-maps/``,
without the privacy requirement. Secret values come back wrapped in :class:`SecretValue`,
which never shows its value in ``str``, ``repr``, logs or JSON.
"""

from __future__ import annotations

import hmac
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

from polyaxon_core.config import ConfigurationError
from polyaxon_core.entities import ConnectionEntity, ResourceReference

SECRET_ENV_PREFIX = "POLYAXON_SECRET_"
CONFIG_MAP_ENV_PREFIX = "POLYAXON_CONFIG_MAP_"
SECRETS_FOLDER = "secrets"
CONFIG_MAPS_FOLDER = "config-maps"
_HIDDEN = "********"


class SecretError(ConfigurationError):
    """A secret or config map a connection names cannot be read; the message says how to provide it."""


class SecretValue:
    """A secret's value that does not show itself: ``str``/``repr`` print asterisks.

    Call :meth:`reveal` at the one place the value is sent (a header, a client's
    constructor), never earlier.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The value itself."""
        return self._value

    def __str__(self) -> str:
        return _HIDDEN

    def __repr__(self) -> str:
        return f"SecretValue('{_HIDDEN}')"

    def __format__(self, format_spec: str) -> str:
        return format(_HIDDEN, format_spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretValue):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> NoReturn:
        # Pickling would carry the value to wherever the bytes go (a queue, a file).
        raise TypeError("a SecretValue is not pickled; resolve the secret where it is used")


def is_connection_variable(name: str) -> bool:
    """True for a variable that holds a secret's or a config map's key: a process that
    starts runs leaves these out of the run's environment."""
    return name.startswith((SECRET_ENV_PREFIX, CONFIG_MAP_ENV_PREFIX))


def env_name(name: str) -> str:
    """The part of a variable name that stands for the secret or config map ``name``."""
    return re.sub(r"[^A-Z0-9]", "_", name.upper())


def resolve_secret(connection: ConnectionEntity, home: Path | None = None) -> Mapping[str, SecretValue]:
    """The keys of the secret ``connection`` names, values wrapped; raises SecretError.

    Returns an empty mapping for a connection without a secret. ``home`` defaults to
    ``POLYAXON_HOME``.
    """
    if connection.secret is None:
        return {}
    values = _resolve(connection.name, connection.secret, "secret", home)
    return {key: SecretValue(value) for key, value in values.items()}


def resolve_config_map(connection: ConnectionEntity, home: Path | None = None) -> Mapping[str, str]:
    """The keys and values of the config map ``connection`` names; raises SecretError."""
    if connection.config_map is None:
        return {}
    return _resolve(connection.name, connection.config_map, "config map", home)


def _resolve(connection: str, reference: ResourceReference, what: str, home: Path | None) -> dict[str, str]:
    from polyaxon_core.config import load_settings

    is_secret = what == "secret"
    prefix = (SECRET_ENV_PREFIX if is_secret else CONFIG_MAP_ENV_PREFIX) + env_name(reference.name) + "__"
    folder = (home or load_settings().home) / (SECRETS_FOLDER if is_secret else CONFIG_MAPS_FOLDER)
    values = {
        variable[len(prefix):]: value
        for variable, value in os.environ.items()
        if variable.startswith(prefix) and len(variable) > len(prefix)
    }
    origin = f"the variables {prefix}<KEY>"
    if not values and (folder / reference.name).is_dir():
        values = _read_folder(folder, reference.name, is_secret)
        origin = str(folder / reference.name)
    if not values:
        raise SecretError(
            f"connection `{connection}`: the {what} `{reference.name}` is not provided here; "
            f"set {prefix}<KEY> for each of its keys, or write one file per key in "
            f"{folder / reference.name}/" + (" (chmod 700 the folder, 600 the files)" if is_secret else "")
        )
    missing = [item for item in reference.items if item not in values]
    if missing:
        raise SecretError(
            f"connection `{connection}`: the {what} `{reference.name}` has no key "
            f"{', '.join(f'`{item}`' for item in missing)} in {origin}; keys found: "
            f"{', '.join(sorted(values))}"
        )
    if reference.items:
        values = {item: values[item] for item in reference.items}
    return values


def _read_folder(folder: Path, name: str, private: bool) -> dict[str, str]:
    if private:
        _require_private(folder)
        _require_private(folder / name)
    values: dict[str, str] = {}
    for entry in sorted((folder / name).iterdir()):
        # Hidden entries are the bookkeeping of a mounted Kubernetes volume (`..data`).
        if entry.name.startswith(".") or not entry.is_file():
            continue
        if private:
            _require_private(entry)
        try:
            values[entry.name] = entry.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretError(f"{entry} cannot be read ({exc}); make it a readable UTF-8 file") from None
    return values


def _require_private(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & 0o077:
        fix = "chmod 700" if stat.S_ISDIR(mode) else "chmod 600"
        raise SecretError(
            f"{path} is accessible by other users (mode {stat.S_IMODE(mode):o}); secrets are "
            f"read only from private files: {fix} {path}"
        )
