"""``polyaxon connections``: list and check this machine's connections catalog."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from polyaxon_core.cli.common import console, output_option, print_json

if TYPE_CHECKING:
    from polyaxon_core.entities import ConnectionEntity, ResourceReference


@click.group("connections")
def connections_command() -> None:
    """List and check the connections catalog.

    The catalog is $POLYAXON_HOME/connections.yaml, or the file (or YAML) given by
    POLYAXON_CONNECTIONS. Operations name its connections (`connections:`, an init's or a
    hook's `connection:`, `build.connection`, notifications); secrets are shown by name only.
    """


@connections_command.command("ls")
@output_option
def ls(output: str) -> None:
    """List the connections; secrets and config maps by name only.

    Shows each connection's name, kind and schema, and the names (and keys) of its secret
    and config map, never their values.
    """
    from polyaxon_core.connections import load_catalog

    catalog = load_catalog()
    rows = [_as_dict(connection) for connection in catalog.connections]
    if output == "json":
        print_json({"source": catalog.source, "count": len(rows), "results": rows})
        return
    if catalog.source is None:
        click.echo(_no_catalog())
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"Connections ({catalog.source})")
    for column in ("name", "kind", "schema", "secret", "configMap"):
        table.add_column(column)
    for connection in catalog.connections:
        schema = ", ".join(f"{key}={value}" for key, value in connection.schema.items())
        table.add_row(
            Text(connection.name), Text(connection.kind), Text(schema or "-"),
            Text(_describe(connection.secret)), Text(_describe(connection.config_map)),
        )
    console().print(table)


@connections_command.command("check")
@output_option
def check(output: str) -> None:
    """Validate the catalog and resolve its secrets; exit 1 listing every problem.

    Every secret and config map the catalog names must be found (environment or
    $POLYAXON_HOME/secrets/); their values are never printed.
    """
    from polyaxon_core.connections import (
        CatalogError,
        SecretError,
        load_catalog,
        resolve_config_map,
        resolve_secret,
    )

    problems: list[str] = []
    source: str | None = None
    try:
        catalog = load_catalog()
        source = catalog.source
    except CatalogError as exc:
        source = exc.source
        problems = [str(problem) for problem in exc.problems]
    else:
        for connection in catalog.connections:
            for resolve in (resolve_secret, resolve_config_map):
                try:
                    resolve(connection)
                except SecretError as exc:
                    problems.append(str(exc))
    if output == "json":
        print_json({"source": source, "valid": not problems, "problems": problems})
    elif problems:
        count = len(problems)
        click.echo(f"{source}: {count} problem{'s' if count != 1 else ''}.")
        for problem in problems:
            click.echo(f"  {problem}")
    elif source is None:
        click.echo(_no_catalog())
    else:
        count = len(catalog.connections)
        plural = "s" if count != 1 else ""
        click.echo(f"{source} is valid: {count} connection{plural}, every secret resolved.")
    if problems:
        raise SystemExit(1)


def _as_dict(connection: ConnectionEntity) -> dict[str, Any]:
    def reference(resource: ResourceReference | None) -> dict[str, Any] | None:
        if resource is None:
            return None
        return {"name": resource.name, "items": list(resource.items), "mountPath": resource.mount_path}

    return {
        "name": connection.name,
        "kind": connection.kind,
        "description": connection.description,
        "tags": list(connection.tags),
        "schema": dict(connection.schema),
        "secret": reference(connection.secret),
        "configMap": reference(connection.config_map),
    }


def _describe(resource: ResourceReference | None) -> str:
    if resource is None:
        return "-"
    return f"{resource.name} ({', '.join(resource.items)})" if resource.items else resource.name


def _no_catalog() -> str:
    return (
        "No connections catalog is configured: write $POLYAXON_HOME/connections.yaml or set "
        "POLYAXON_CONNECTIONS (see docs/connections.md)."
    )
