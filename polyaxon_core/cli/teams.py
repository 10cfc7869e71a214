"""``polyaxon teams``: named groups of users given a role on projects as one."""

from __future__ import annotations

from typing import Any

import click

from polyaxon_core.cli.common import (
    administration,
    confirm_or_refuse,
    console,
    domain_errors,
    output_option,
    print_json,
)

PROJECT_ROLES = ["owner", "admin", "member", "viewer"]


@click.group("teams")
def teams_command() -> None:
    """Create teams, add users, and give teams a role on projects.

    A member's role on a project is the highest of their own and their teams'.
    """


def _show(team: dict[str, Any]) -> None:
    click.echo(f"name         {team['name']}")
    click.echo(f"description  {team.get('description') or '-'}")
    click.echo(f"members      {', '.join(team['members']) or '-'}")
    projects = ", ".join(f"{name} ({role})" for name, role in team["projects"].items())
    click.echo(f"projects     {projects or '-'}")


@teams_command.command("ls")
@output_option
@domain_errors
def ls(output: str) -> None:
    """List the teams with their members and projects."""
    rows = administration().list_teams()
    if output == "json":
        print_json({"count": len(rows), "results": rows})
        return
    from rich.table import Table

    table = Table(title=f"Teams ({len(rows)})")
    for column in ("name", "members", "projects", "description"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["name"], ", ".join(row["members"]),
                      ", ".join(f"{name} ({role})" for name, role in row["projects"].items()),
                      row.get("description") or "")
    console().print(table)


@teams_command.command("get")
@click.argument("name")
@output_option
@domain_errors
def get(name: str, output: str) -> None:
    """Show the team NAME."""
    team = administration().get_team(name)
    if output == "json":
        print_json(team)
    else:
        _show(team)


@teams_command.command("create")
@click.argument("name")
@click.option("--description", help="What the team is for.")
@domain_errors
def create(name: str, description: str | None) -> None:
    """Create the team NAME (lowercase letters, digits, - _ .)."""
    administration().create_team(name, description)
    click.echo(f"Team '{name}' created.")


@teams_command.command("delete")
@click.argument("name")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@domain_errors
def delete(name: str, yes: bool) -> None:
    """Delete the team NAME: its members lose the roles it gave them."""
    confirm_or_refuse(f"Delete team {name}? Its members lose the roles it gave them.", yes)
    administration().delete_team(name)
    click.echo(f"Team '{name}' deleted.")


@teams_command.command("add-member")
@click.argument("name")
@click.argument("username")
@domain_errors
def add_member(name: str, username: str) -> None:
    """Add USERNAME to the team NAME."""
    administration().set_team_member(name, username, True)
    click.echo(f"{username} is a member of team '{name}'.")


@teams_command.command("remove-member")
@click.argument("name")
@click.argument("username")
@domain_errors
def remove_member(name: str, username: str) -> None:
    """Remove USERNAME from the team NAME."""
    administration().set_team_member(name, username, False)
    click.echo(f"{username} left team '{name}'.")


@teams_command.command("grant")
@click.argument("name")
@click.option("-p", "--project", required=True, help="The project.")
@click.option("--role", type=click.Choice(PROJECT_ROLES), required=True,
              help="The team's role on the project.")
@domain_errors
def grant(name: str, project: str, role: str) -> None:
    """Give the team NAME a role on a project (or change it)."""
    administration().set_team_role(name, project, role)
    click.echo(f"Team '{name}' is {role} on project '{project}'.")


@teams_command.command("revoke")
@click.argument("name")
@click.option("-p", "--project", required=True, help="The project.")
@domain_errors
def revoke(name: str, project: str) -> None:
    """Take the team NAME's role on a project away."""
    administration().set_team_role(name, project, None)
    click.echo(f"Team '{name}' has no role on project '{project}' any more.")
