"""``polyaxon admin``: users, organization roles, tokens and the audit log.

With a server configured (POLYAXON_HOST or `polyaxon login`), commands go through its API
as the logged-in user, who needs the roles for them. Otherwise they work on the database
of POLYAXON_DB_URL directly, as the local administrator: that is how the first owner is
created, on the server's machine.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from polyaxon_core.cli.common import (
    administration,
    confirm_or_refuse,
    console,
    domain_errors,
    humanize_time,
    output_option,
    print_json,
)

ROLES = ["owner", "manager", "admin", "member", "viewer"]


@click.group("admin")
def admin_command() -> None:
    """Administer users, organization roles, tokens; read the audit log.

    Through the configured server's API as the logged-in user, else directly on the
    local database (POLYAXON_DB_URL) as the local administrator.
    """


def _user_line(user: dict[str, Any]) -> str:
    state = "" if user.get("is_active", True) else ", deactivated"
    return f"User '{user['username']}' ({user.get('role') or 'outsider'}{state})."


@admin_command.command("users")
@output_option
@domain_errors
def users(output: str) -> None:
    """List the users with their organization roles."""
    rows = administration().list_users()
    if output == "json":
        print_json({"count": len(rows), "results": rows})
        return
    from rich.table import Table

    table = Table(title=f"Users ({len(rows)})")
    for column in ("username", "role", "active", "email", "created"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["username"], row.get("role") or "-",
                      "yes" if row["is_active"] else "no", row.get("email") or "",
                      humanize_time(row.get("created_at")))
    console().print(table)


@admin_command.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default="member", show_default=True,
              help="The user's organization role.")
@click.option("--email", help="The user's e-mail address.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input instead of prompting.")
@domain_errors
def create_user(username: str, role: str, email: str | None, password_stdin: bool) -> None:
    """Create USERNAME (the first owner included, on the server's machine).

    Passwords have 8 to 1024 characters, are not among the most common ones and are not
    close to the username or the e-mail address.
    """
    from polyaxon_core.cli.auth import read_password

    password = read_password(password_stdin, confirm=True)
    administration().create_user(username, password, email, role)
    click.echo(f"User '{username}' created ({role}).")


@admin_command.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice([*ROLES, "none"]))
@domain_errors
def set_role(username: str, role: str) -> None:
    """Give USERNAME an organization ROLE (`none` makes them an outsider, who sees only
    the projects they or their teams were added to)."""
    user = administration().update_user(username, role=None if role == "none" else role)
    click.echo(_user_line(user))


@admin_command.command("deactivate")
@click.argument("username")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@domain_errors
def deactivate(username: str, yes: bool) -> None:
    """Deactivate USERNAME: they cannot log in, and every token of theirs is revoked."""
    confirm_or_refuse(f"Deactivate {username} and revoke their tokens?", yes)
    click.echo(_user_line(administration().update_user(username, is_active=False)))


@admin_command.command("reactivate")
@click.argument("username")
@domain_errors
def reactivate(username: str) -> None:
    """Reactivate USERNAME (they log in again to get a token)."""
    click.echo(_user_line(administration().update_user(username, is_active=True)))


@admin_command.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True,
              help="Read the new password from standard input instead of prompting.")
@domain_errors
def set_password(username: str, password_stdin: bool) -> None:
    """Give USERNAME a new password; their tokens are revoked."""
    from polyaxon_core.cli.auth import read_password

    administration().update_user(username, password=read_password(password_stdin, confirm=True))
    click.echo(f"Password of '{username}' changed; their tokens were revoked.")


@admin_command.command("tokens")
@click.option("--user", "username", help="This user's tokens only.")
@click.option("--all", "include_inactive", is_flag=True, help="Include revoked and expired tokens.")
@click.option("-l", "--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@output_option
@domain_errors
def tokens(username: str | None, include_inactive: bool, limit: int, output: str) -> None:
    """List tokens, newest first (their first characters, never the keys)."""
    count, rows = administration().list_tokens(username, include_inactive, limit)
    if output == "json":
        print_json({"count": count, "results": rows})
        return
    from rich.table import Table

    table = Table(title=f"Tokens ({count})" + (f", the newest {len(rows)}" if count > len(rows) else ""))
    for column in ("id", "user", "name", "prefix", "state", "run", "last used", "expires"):
        table.add_column(column)
    for row in rows:
        table.add_row(str(row["id"]), row["user"], row["name"], row["prefix"], row["state"],
                      (row.get("run") or "")[:12], humanize_time(row.get("last_used_at")),
                      humanize_time(row.get("expires_at")))
    console().print(table)


@admin_command.command("revoke-token")
@click.argument("token_id", metavar="ID", type=click.IntRange(1))
@domain_errors
def revoke_token(token_id: int) -> None:
    """Revoke the token ID (see `polyaxon admin tokens`)."""
    administration().revoke_token(token_id)
    click.echo(f"Token {token_id} revoked.")


@admin_command.command("audit")
@click.option("--event", "events", multiple=True, metavar="NAME",
              help="Only this event (repeatable), e.g. login.failed, token.revoked.")
@click.option("--actor", help="Only what this username did.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
              help="Only events at or after this time (UTC).")
@click.option("-l", "--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@output_option
@domain_errors
def audit(events: tuple[str, ...], actor: str | None, since: datetime | None, limit: int,
          output: str) -> None:
    """Read the audit log, newest first: logins, tokens, users, roles, memberships, teams
    and deletions."""
    from datetime import UTC

    from polyaxon_core.domain.audit import EVENTS

    unknown = [event for event in events if event not in EVENTS]
    if unknown:
        raise click.BadParameter(f"unknown event {', '.join(unknown)}; known: "
                                 f"{', '.join(EVENTS)}", param_hint="--event")
    count, rows = administration().audit(list(events), actor,
                                         since.replace(tzinfo=UTC) if since else None, limit)
    if output == "json":
        print_json({"count": count, "results": rows})
        return
    from rich.table import Table

    table = Table(title=f"Audit log ({count})" + (f", the newest {len(rows)}" if count > len(rows) else ""))
    for column in ("when", "event", "actor", "target", "address"):
        table.add_column(column)
    for row in rows:
        table.add_row(humanize_time(row.get("created_at")), row["event"],
                      row.get("actor") or "(local)", row.get("target") or "",
                      row.get("address") or "")
    console().print(table)
