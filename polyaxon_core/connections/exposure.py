"""What a run gets of the connections it names (``run.connections``), on a scheduler that
starts processes on this machine (on Kubernetes the same entries become volumes and
``secretKeyRef`` variables).

For each connection, and only for those the run names:

* ``POLYAXON_CONNECTIONS``: the run's own catalog, the entries it names (names, kinds,
  schemas, the names of their secrets; never a secret's value), so
  ``polyaxon_core.connections.get_connection`` works inside the run;
* ``POLYAXON_CONNECTION_<NAME>_PATH``: a ``host_path``'s ``hostPath``, a
  ``volume_claim``'s ``mountPath`` (where the claim is mounted on this machine), a
  process here cannot mount at another place; ``..._BUCKET`` for ``s3``, ``gcs`` and
  ``wasb``; ``..._URL`` for ``git``, ``registry`` and other kinds with a URL;
* the secret's keys (the ``items`` listed, else all of them): as variables named by the
  keys (``AWS_ACCESS_KEY_ID``...), or, when the secret has a ``mountPath``, as files
  ``<run folder>/.connections/<secret>/<key>`` (private to the run) whose folder is
  ``POLYAXON_CONNECTION_<NAME>_SECRET_PATH``; config maps the same way
  (``..._CONFIG_MAP_PATH``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polyaxon_core.config import ConfigurationError
from polyaxon_core.connections.secrets import env_name, resolve_config_map, resolve_secret
from polyaxon_core.entities import ConnectionEntity, ResourceReference

_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BUCKET_KINDS = frozenset({"s3", "gcs", "wasb"})
_PATH_KEYS = {"host_path": "hostPath", "volume_claim": "mountPath"}


def _reference(reference: ResourceReference | None) -> dict[str, Any] | None:
    if reference is None:
        return None
    entry: dict[str, Any] = {"name": reference.name}
    if reference.items:
        entry["items"] = list(reference.items)
    if reference.mount_path:
        entry["mountPath"] = reference.mount_path
    return entry


def catalog_entry(connection: ConnectionEntity) -> dict[str, Any]:
    """The connection as a catalog entry, without any secret value."""
    entry: dict[str, Any] = {"name": connection.name, "kind": connection.kind,
                             "schema": dict(connection.schema)}
    for key, reference in (("secret", connection.secret), ("configMap", connection.config_map)):
        if reference is not None:
            entry[key] = _reference(reference)
    return entry


def _write_private(folder: Path, values: dict[str, str]) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for key, value in values.items():
        if "/" in key or key in {"", ".", ".."}:
            raise ConfigurationError(f"the key {key!r} cannot be a file name")
        path = folder / key
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as stream:
            stream.write(value)


def _as_variables(connection: str, what: str, values: dict[str, str]) -> dict[str, str]:
    bad = sorted(key for key in values if not _VARIABLE.match(key))
    if bad:
        raise ConfigurationError(
            f"the {what} of the connection {connection!r} holds {', '.join(bad)}, which cannot "
            f"be an environment variable's name: give the {what} a mountPath (its keys become "
            "files), or list the keys to use in its items")
    return values


def _deliver(connection: str, what: str, reference: ResourceReference, values: dict[str, str],
             run_folder: Path, path_variable: str) -> dict[str, str]:
    """A secret's or config map's keys as files (it has a mountPath) or as variables."""
    if reference.mount_path:
        folder = run_folder / ".connections" / env_name(reference.name).lower()
        _write_private(folder, values)
        return {path_variable: str(folder)}
    return _as_variables(connection, what, values)


def expose(connections: Sequence[ConnectionEntity], run_folder: Path) -> dict[str, str]:
    """The variables that give a run its connections (see the module docstring); the
    secrets' files are written under ``run_folder`` on the way."""
    env: dict[str, str] = {}
    if not connections:
        return env
    env["POLYAXON_CONNECTIONS"] = json.dumps([catalog_entry(c) for c in connections])
    for connection in connections:
        prefix = f"POLYAXON_CONNECTION_{env_name(connection.name)}"
        schema = connection.schema
        if connection.kind in _PATH_KEYS:
            env[f"{prefix}_PATH"] = str(schema[_PATH_KEYS[connection.kind]])
        elif connection.kind in _BUCKET_KINDS:
            env[f"{prefix}_BUCKET"] = str(schema["bucket"])
        elif "url" in schema:
            env[f"{prefix}_URL"] = str(schema["url"])
        if connection.secret is not None:
            secret = {key: value.reveal() for key, value in resolve_secret(connection).items()}
            env.update(_deliver(connection.name, "secret", connection.secret, secret, run_folder,
                                f"{prefix}_SECRET_PATH"))
        if connection.config_map is not None:
            env.update(_deliver(connection.name, "config map", connection.config_map,
                                dict(resolve_config_map(connection)), run_folder,
                                f"{prefix}_CONFIG_MAP_PATH"))
    return env
