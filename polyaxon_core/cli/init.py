from __future__ import annotations

import json

import click

from polyaxon_core.cli.common import PROJECT_FILE, database, domain_errors, settings


@click.command("init")
@click.option("-p", "--project", "project_name", metavar="NAME",
              help="Create this project if needed and make it this folder's default.")
@domain_errors
def init_command(project_name: str | None) -> None:
    """Create (or upgrade) the database and, optionally, set this folder's default project."""
    from polyaxon_core.errors import AlreadyExists
    from polyaxon_core.runs import create_project

    current = settings()
    current.home.mkdir(parents=True, exist_ok=True)
    with database() as session:
        if project_name:
            try:
                create_project(session, project_name)
                created = True
            except AlreadyExists:
                created = False
    click.echo(f"Polyaxon home: {current.home}")
    click.echo(f"Database:      {current.db_url}")
    if project_name:
        PROJECT_FILE.parent.mkdir(exist_ok=True)
        PROJECT_FILE.write_text(json.dumps({"name": project_name}))
        state = "created" if created else "exists"
        click.echo(f"Project:       {project_name} ({state}); default for this folder")
