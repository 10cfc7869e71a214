from __future__ import annotations

import click

from polyaxon_core.cli.common import (
    console,
    domain_errors,
    humanize_time,
    output_option,
    platform,
    print_json,
)


@click.group("project")
def project_command() -> None:
    """Create, list, inspect and delete projects."""


@project_command.command("create")
@click.argument("name")
@click.option("--description", help="A sentence about the project.")
@click.option("--tags", help="Comma-separated tags.")
@output_option
@domain_errors
def create(name: str, description: str | None, tags: str | None, output: str) -> None:
    """Create a project NAME (lowercase letters, digits, '-', '_', '.')."""
    data = platform().create_project(
        name, description, [t.strip() for t in (tags or "").split(",") if t.strip()])
    if output == "json":
        print_json(data)
    else:
        click.echo(f"Project '{name}' created.")


@project_command.command("ls")
@output_option
@domain_errors
def ls(output: str) -> None:
    """List projects."""
    rows = platform().list_projects()
    if output == "json":
        print_json({"count": len(rows), "results": rows})
        return
    from rich.table import Table

    table = Table(title=f"Projects ({len(rows)})")
    for column in ("name", "description", "tags", "runs", "created"):
        table.add_column(column)
    for row in rows:
        runs = row.get("runs")
        table.add_row(row["name"], row.get("description") or "", ", ".join(row.get("tags") or []),
                      "-" if runs is None else str(runs), humanize_time(row.get("created_at")))
    console().print(table)


@project_command.command("get")
@click.argument("name")
@output_option
@domain_errors
def get(name: str, output: str) -> None:
    """Show a project."""
    data = platform().get_project(name)
    if output == "json":
        print_json(data)
        return
    for key in ("name", "owner", "uuid", "description", "tags", "runs", "created_at"):
        value = data.get(key)
        if key == "created_at":
            value = humanize_time(value)
        elif isinstance(value, list):
            value = ", ".join(value)
        click.echo(f"{key:12} {value if value not in (None, '') else '-'}")


@project_command.command("delete")
@click.argument("name")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@domain_errors
def delete(name: str, yes: bool) -> None:
    """Delete a project with all its runs, logs and artifacts."""
    where = platform()
    where.get_project(name)
    if not yes:
        click.confirm(f"Delete project '{name}' with all its runs and artifacts?", abort=True)
    runs = where.delete_project(name)
    click.echo(f"Project '{name}' deleted" + (f" ({runs} run(s))." if runs is not None else "."))
