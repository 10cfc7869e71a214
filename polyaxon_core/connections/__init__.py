"""Connections: Polyaxon's catalog of the external systems runs and plugins reach.

A plugin (a store, a notifier, a builder) looks a connection up by name and resolves its
secret at the moment it connects::

    from polyaxon_core.connections import get_connection, resolve_secret

    connection = get_connection("my-slack")          # a frozen ConnectionEntity
    url = resolve_secret(connection)["url"].reveal()  # only here, never stored or logged

Secrets are never written to the database, a run's folder, its logs or an API answer.
"""

from __future__ import annotations

from polyaxon_core.connections.catalog import (
    CATALOG_FILE,
    CATALOG_VARIABLE,
    Catalog,
    CatalogError,
    UnknownConnection,
    load_catalog,
    parse_catalog,
)
from polyaxon_core.connections.references import (
    CatalogUnavailable,
    InvalidConnectionReference,
    check_problems,
    check_summary,
    require_known_connections,
)
from polyaxon_core.connections.secrets import (
    SecretError,
    SecretValue,
    resolve_config_map,
    resolve_secret,
)
from polyaxon_core.entities import ConnectionEntity

__all__ = [
    "CATALOG_FILE",
    "CATALOG_VARIABLE",
    "Catalog",
    "CatalogError",
    "CatalogUnavailable",
    "ConnectionEntity",
    "InvalidConnectionReference",
    "SecretError",
    "SecretValue",
    "UnknownConnection",
    "check_problems",
    "check_summary",
    "get_connection",
    "load_catalog",
    "parse_catalog",
    "require_known_connections",
    "resolve_config_map",
    "resolve_secret",
]


def get_connection(name: str) -> ConnectionEntity:
    """The connection ``name`` of this machine's catalog (read now, so edits apply at once).

    Raises UnknownConnection (listing the known names) or CatalogError.
    """
    return load_catalog().get(name)
