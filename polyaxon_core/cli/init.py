from __future__ import annotations

import json

import click

from polyaxon_core.cli.common import (
    PROJECT_FILE,
    database,
    domain_errors,
    platform,
    project_name_from,
    settings,
)


@click.command("init")
@click.option("-p", "--project", "project_name", metavar="NAME",
              help="Create this project if needed and make it this folder's default "
                   "(NAME or OWNER/NAME).")
@click.option("-y", "--yes", is_flag=True,
              help="Accepted for the official client's scripts: init never asks anything.")
@domain_errors
def init_command(project_name: str | None, yes: bool) -> None:
    """Create (or upgrade) the database and, optionally, set this folder's default project.

    With a server configured (POLYAXON_HOST or `polyaxon login`) the project is created
    on the server, and no local database is touched.
    """
    from polyaxon_core.client.local import LocalPlatform
    from polyaxon_core.errors import AlreadyExists, Conflict

    current = settings()
    where = platform()
    if isinstance(where, LocalPlatform):
        current.home.mkdir(parents=True, exist_ok=True)
        with database():
            pass  # create or migrate it now, with or without a project
        click.echo(f"Polyaxon home: {current.home}")
        click.echo(f"Database:      {current.db_url}")
    else:
        click.echo(f"Using the {where.where}")
    if project_name:
        project_name = project_name_from(project_name, "-p")
        try:
            where.create_project(project_name, None, [])
            state = "created"
        except (AlreadyExists, Conflict):
            state = "exists"
        PROJECT_FILE.parent.mkdir(exist_ok=True)
        PROJECT_FILE.write_text(json.dumps({"name": project_name}))
        click.echo(f"Project:       {project_name} ({state}); default for this folder, "
                   f"saved in {PROJECT_FILE.resolve()}")
