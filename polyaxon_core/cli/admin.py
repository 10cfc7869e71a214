"""``polyaxon admin``: tasks done on the server's machine, directly in its database."""

from __future__ import annotations

import click

from polyaxon_core.cli.common import database, domain_errors


@click.group("admin")
def admin_command() -> None:
    """Administer the local database directly (e.g. create the first user)."""


@admin_command.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice(["owner", "manager", "admin", "member", "viewer"]),
              default="member", show_default=True, help="The user's organization role.")
@click.option("--email", help="The user's e-mail address.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input instead of prompting.")
@domain_errors
def create_user(username: str, role: str, email: str | None, password_stdin: bool) -> None:
    """Create USERNAME in the database of POLYAXON_DB_URL (the first admin included).

    This writes to the database directly, whatever server is configured; run it where
    the server's database is reachable.
    """
    from polyaxon_core.accounts import create_user as create
    from polyaxon_core.cli.auth import read_password

    password = read_password(password_stdin, confirm=True)
    with database() as session:
        create(session, username, password, email=email, organization_role=role)
    click.echo(f"User '{username}' created ({role}).")
