"""``polyaxon project``: create, list, show, update and delete projects.

Besides ``NAME`` arguments, the commands take the official client's spellings: ``create
--name/-n``, and ``-p/--project`` (``NAME`` or ``OWNER/NAME``) for the others.
"""

from __future__ import annotations

from typing import Any

import click

from polyaxon_core.cli.common import (
    administration,
    check_owner,
    confirm_or_refuse,
    console,
    default_project_name,
    domain_errors,
    humanize_time,
    output_option,
    platform,
    print_json,
    project_name_from,
)
from polyaxon_core.cli.errors import CliError


def _parse_tags(tags: str | None) -> list[str]:
    return [tag.strip() for tag in (tags or "").split(",") if tag.strip()]


def _one_name(argument: str | None, option: str | None, option_flag: str) -> str | None:
    if argument and option and project_name_from(argument, "NAME") != project_name_from(
            option, option_flag):
        raise CliError(f"two projects given, {argument} and {option_flag} {option}; give one")
    return argument or option


def _named_project(argument: str | None, option: str | None) -> str:
    """The project of get/update/delete: NAME, or -p, or the configured default."""
    given = _one_name(argument, option, "-p")
    return default_project_name(given)


def _project_argument_and_option(function: click.decorators.FC) -> click.decorators.FC:
    function = click.option(
        "-p", "--project", "project_option", metavar="NAME",
        help="The project, as the official client spells it (NAME or OWNER/NAME); default: "
        "POLYAXON_PROJECT, then the folder's `polyaxon init -p`.")(function)
    return click.argument("name", required=False)(function)


@click.group("project")
def project_command() -> None:
    """Create, list, inspect, update and delete projects."""


@project_command.command("create")
@click.argument("name", required=False)
@click.option("-n", "--name", "name_option", metavar="NAME",
              help="The name, as the official client spells it (NAME or OWNER/NAME).")
@click.option("--description", help="A sentence about the project.")
@click.option("--tags", help="Comma-separated tags.")
@output_option
@domain_errors
def create(name: str | None, name_option: str | None, description: str | None,
           tags: str | None, output: str) -> None:
    """Create a project NAME (lowercase letters, digits, '-', '_', '.')."""
    given = _one_name(name, name_option, "--name")
    if not given:
        raise CliError("which project? `polyaxon project create NAME` (or --name NAME)")
    project = project_name_from(given, "NAME" if name else "--name")
    data = platform().create_project(project, description, _parse_tags(tags))
    if output == "json":
        print_json(data)
    else:
        click.echo(f"Project '{project}' created.")


@project_command.command("ls")
@click.option("--owner", metavar="OWNER",
              help="Accepted for the official client's scripts: the only owner is 'default'.")
@click.option("-l", "--limit", type=click.IntRange(1), help="List at most this many projects.")
@click.option("--offset", "-off", type=click.IntRange(0), default=0, show_default=True,
              help="Skip this many projects first (by name).")
@output_option
@domain_errors
def ls(owner: str | None, limit: int | None, offset: int, output: str) -> None:
    """List projects, by name."""
    if owner is not None:
        check_owner(owner, "--owner")
    everything = platform().list_projects()
    rows = everything[offset:offset + limit if limit else None]
    if output == "json":
        print_json({"count": len(everything), "results": rows})
        return
    from rich.table import Table

    table = Table(title=f"Projects ({len(everything)})")
    for column in ("name", "description", "tags", "runs", "created"):
        table.add_column(column)
    for row in rows:
        runs = row.get("runs")
        table.add_row(row["name"], row.get("description") or "", ", ".join(row.get("tags") or []),
                      "-" if runs is None else str(runs), humanize_time(row.get("created_at")))
    console().print(table)


@project_command.command("get")
@_project_argument_and_option
@output_option
@domain_errors
def get(name: str | None, project_option: str | None, output: str) -> None:
    """Show a project (NAME, -p NAME, or the configured default)."""
    data = platform().get_project(_named_project(name, project_option))
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


@project_command.command("update")
@_project_argument_and_option
@click.option("-n", "--name", "new_name", metavar="NEW_NAME",
              help="Rename the project (its runs and artifacts follow).")
@click.option("--description", help="A new description.")
@click.option("--tags", help="Comma-separated tags, replacing the project's.")
@click.option("--queue", help="The queue of its runs whose polyaxonfile names none "
                              "(\"\": back to `default`).")
@click.option("--notify", "notify", multiple=True, metavar="CONNECTION[:TRIGGER]",
              help="What every run of the project notifies: a notifier connection of the "
                   "catalog and the status it waits for (default `done`); repeatable, "
                   "replaces the project's list.")
@click.option("--no-notify", is_flag=True, help="Remove the project's notifications.")
@output_option
@domain_errors
def update(name: str | None, project_option: str | None, new_name: str | None,
           description: str | None, tags: str | None, queue: str | None,
           notify: tuple[str, ...], no_notify: bool, output: str) -> None:
    """Rename a project or change its description, tags, queue or notifications.

    \b
    polyaxon project update mnist --description "Digits" --tags "cnn,baseline"
    polyaxon project update -p mnist --name digits
    polyaxon project update mnist --queue gpu
    polyaxon project update mnist --notify team-slack:failed --notify ci-hook:done
    """
    project = _named_project(name, project_option)
    if notify and no_notify:
        raise CliError("--notify and --no-notify contradict each other; give one of them")
    notifications = [] if no_notify else [
        {"connection": connection, "trigger": trigger or "done"}
        for connection, _, trigger in (entry.partition(":") for entry in notify)] or None
    if (new_name is None and description is None and tags is None and queue is None
            and notifications is None):
        raise CliError("nothing to update: give --name, --description, --tags, --queue, "
                       "--notify or --no-notify")
    data = platform().update_project(project, new_name=new_name, description=description,
                                     tags=None if tags is None else _parse_tags(tags),
                                     queue=queue, notifications=notifications)
    if output == "json":
        print_json(data)
    else:
        click.echo(f"Project '{data['name']}' updated.")


@project_command.command("delete")
@_project_argument_and_option
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@domain_errors
def delete(name: str | None, project_option: str | None, yes: bool) -> None:
    """Delete a project with all its runs, logs and artifacts."""
    project = _named_project(name, project_option)
    where = platform()
    where.get_project(project)
    confirm_or_refuse(f"Delete project '{project}' with all its runs and artifacts?", yes)
    runs = where.delete_project(project)
    click.echo(f"Project '{project}' deleted" + (f" ({runs} run(s))." if runs is not None else "."))


@project_command.group("members")
def members_command() -> None:
    """List the users added to a project, add them with a role, change it, remove them.

    Through the configured server's API as the logged-in user (the roles' hierarchy
    applies), else on the local database as its administrator.
    """


@members_command.command("ls")
@_project_argument_and_option
@output_option
@domain_errors
def members_ls(name: str | None, project_option: str | None, output: str) -> None:
    """List the members of a project (NAME, -p NAME, or the default) with their roles."""
    rows = administration().project_members(_named_project(name, project_option))
    if output == "json":
        print_json({"count": len(rows), "results": rows})
        return
    from rich.table import Table

    table = Table(title=f"Members ({len(rows)})")
    for column in ("user", "role", "added"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["user"], row["role"], humanize_time(row.get("created_at")))
    console().print(table)


@members_command.command("add")
@click.argument("username")
@click.option("-p", "--project", "project_option", metavar="NAME",
              help="The project (default: POLYAXON_PROJECT, then the folder's `polyaxon init -p`).")
@click.option("--role", type=click.Choice(["owner", "admin", "member", "viewer"]), required=True,
              help="The user's role on the project.")
@domain_errors
def members_add(username: str, project_option: str | None, role: str) -> None:
    """Add USERNAME to a project with a role, or change their role."""
    project = _named_project(None, project_option)
    administration().set_project_member(project, username, role)
    click.echo(f"{username} is {role} on project '{project}'.")


@members_command.command("rm")
@click.argument("username")
@click.option("-p", "--project", "project_option", metavar="NAME",
              help="The project (default: POLYAXON_PROJECT, then the folder's `polyaxon init -p`).")
@domain_errors
def members_rm(username: str, project_option: str | None) -> None:
    """Remove USERNAME from a project (not its last owner)."""
    project = _named_project(None, project_option)
    administration().set_project_member(project, username, None)
    click.echo(f"{username} is no longer a member of project '{project}'.")


@project_command.group("ci")
def ci_command() -> None:
    """Run a project's polyaxonfile at each new commit of a git repository's branch."""


def _print_ci(data: dict[str, Any], output: str) -> None:
    if output == "json":
        print_json(data)
        return
    if not data["connection"]:
        click.echo(f"Project '{data['project']}' has no CI; link it with "
                   "`polyaxon project ci enable --connection GIT_CONNECTION`.")
        return
    state = "enabled" if data["enabled"] else "disabled"
    click.echo(f"CI of '{data['project']}' {state}: {data['polyaxonfile']} of branch "
               f"{data['branch']} of connection {data['connection']}")
    click.echo(f"  last commit run: {data['last_commit'] or 'none yet'}; last check: "
               f"{data['checked_at'] or 'not yet'}")
    if data.get("last_error"):
        click.echo(f"  last check failed: {data['last_error']}")


@ci_command.command("enable")
@_project_argument_and_option
@click.option("--connection", required=True, metavar="NAME",
              help="The catalog's git connection: its url (a URL git reaches, or a local "
                   "path), and in its secret the webhook_secret that signs webhook calls.")
@click.option("--branch", default="main", show_default=True, help="The branch whose commits run.")
@click.option("-f", "--file", "polyaxonfile", default="polyaxonfile.yaml", show_default=True,
              help="The polyaxonfile's path in the repository.")
@output_option
@domain_errors
def ci_enable(name: str | None, project_option: str | None, connection: str, branch: str,
              polyaxonfile: str, output: str) -> None:
    """Link the project to a branch: each new commit runs its polyaxonfile, tagged `ci`.

    \b
    polyaxon project ci enable mnist --connection code --branch main -f ci/train.yaml
    """
    data = platform().project_ci(_named_project(name, project_option), enable={
        "connection": connection, "branch": branch, "polyaxonfile": polyaxonfile})
    _print_ci(data, output)


@ci_command.command("disable")
@_project_argument_and_option
@output_option
@domain_errors
def ci_disable(name: str | None, project_option: str | None, output: str) -> None:
    """Stop running the project's new commits (`enable` links it again)."""
    _print_ci(platform().project_ci(_named_project(name, project_option), disable=True), output)


@ci_command.command("status")
@_project_argument_and_option
@output_option
@domain_errors
def ci_status(name: str | None, project_option: str | None, output: str) -> None:
    """The project's CI: its branch, the last commit run, and why the last check failed."""
    _print_ci(platform().project_ci(_named_project(name, project_option)), output)
