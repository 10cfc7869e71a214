from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from polyaxon_core.cli.common import (
    console,
    database,
    domain_errors,
    humanize_time,
    output_option,
    print_json,
)

if TYPE_CHECKING:
    from polyaxon_core.db.models import Project


def _project_dict(project: Project, runs: int) -> dict[str, Any]:
    return {
        "uuid": project.uuid,
        "owner": project.owner,
        "name": project.name,
        "description": project.description,
        "tags": list(project.tags or []),
        "created_at": project.created_at,
        "runs": runs,
    }


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
    from polyaxon_core.runs import create_project

    with database() as session:
        project = create_project(session, name, description=description,
                                 tags=[t.strip() for t in (tags or "").split(",") if t.strip()])
        data = _project_dict(project, 0)
    if output == "json":
        print_json(data)
    else:
        click.echo(f"Project '{name}' created.")


@project_command.command("ls")
@output_option
@domain_errors
def ls(output: str) -> None:
    """List projects."""
    from polyaxon_core.runs import count_runs, list_projects

    with database() as session:
        rows = [_project_dict(p, count_runs(session, p)) for p in list_projects(session)]
    if output == "json":
        print_json({"count": len(rows), "results": rows})
        return
    from rich.table import Table

    table = Table(title=f"Projects ({len(rows)})")
    for column in ("name", "description", "tags", "runs", "created"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["name"], row["description"] or "", ", ".join(row["tags"]),
                      str(row["runs"]), humanize_time(row["created_at"]))
    console().print(table)


@project_command.command("get")
@click.argument("name")
@output_option
@domain_errors
def get(name: str, output: str) -> None:
    """Show a project."""
    from polyaxon_core.runs import count_runs, get_project

    with database() as session:
        project = get_project(session, name)
        data = _project_dict(project, count_runs(session, project))
    if output == "json":
        print_json(data)
        return
    for key in ("name", "owner", "uuid", "description", "tags", "runs", "created_at"):
        value = data[key]
        if key == "created_at":
            value = humanize_time(value)
        elif isinstance(value, list):
            value = ", ".join(value)
        shown = value
        click.echo(f"{key:12} {shown if shown not in (None, '') else '-'}")


@project_command.command("delete")
@click.argument("name")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@domain_errors
def delete(name: str, yes: bool) -> None:
    """Delete a project with all its runs, logs and artifacts."""
    from polyaxon_core.cli.common import settings
    from polyaxon_core.plugins import create as create_plugin
    from polyaxon_core.runs import delete_project, get_project

    with database() as session:
        get_project(session, name)
    if not yes:
        click.confirm(f"Delete project '{name}' with all its runs and artifacts?", abort=True)
    with database() as session:
        uuids = delete_project(session, get_project(session, name))
    current = settings()
    store = create_plugin("store", current.store, current)
    for uuid in uuids:
        store.delete_run(uuid)
    click.echo(f"Project '{name}' deleted ({len(uuids)} run(s)).")
