"""``polyaxon dashboards``: a project's saved views, made and opened in the web UI."""

from __future__ import annotations

import click

from polyaxon_core.cli.common import (
    administration,
    console,
    default_project_name,
    domain_errors,
    output_option,
    print_json,
    project_option,
)


@click.group("dashboards")
def dashboards_command() -> None:
    """List a project's dashboards: saved views of its runs (query, sort, columns and
    chart widgets), made in the web UI or through the API. Logged in to a server, you
    see the shared ones and your own; on the local database, all of them."""


@dashboards_command.command("ls")
@project_option
@output_option
@domain_errors
def ls(project_name: str | None, output: str) -> None:
    """List the dashboards of a project (-p NAME, or the default), by name."""
    name = default_project_name(project_name)
    rows = administration().dashboards(name)
    if output == "json":
        print_json({"count": len(rows), "results": rows})
        return
    from rich.table import Table

    table = Table(title=f"Dashboards of {name} ({len(rows)})")
    for column in ("uuid", "name", "by", "shared", "query", "widgets"):
        table.add_column(column)
    for row in rows:
        spec = row["spec"]
        table.add_row(row["uuid"][:12], row["name"], row.get("user") or "-",
                      "yes" if row["shared"] else "no", spec.get("query") or "",
                      ", ".join(f"{w['kind']}({w['metric']})" for w in spec.get("widgets") or []))
    console().print(table)
