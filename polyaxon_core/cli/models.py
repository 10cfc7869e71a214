"""``polyaxon models``: a project's registry of versions (models by default; ``--kind
artifact`` or ``component`` for the others), on the server when one is configured, else
in the local database."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from polyaxon_core.cli.common import (
    console,
    database,
    default_project_name,
    domain_errors,
    humanize_time,
    output_option,
    print_json,
    project_option,
    to_jsonable,
)
from polyaxon_core.cli.errors import CliError

KIND_OPTION = click.option("--kind", type=click.Choice(["model", "artifact", "component"]),
                           default="model", show_default=True, help="Which versions.")
STAGES = ["testing", "staging", "production", "disabled"]


class _Registry:
    """The registry through the server's API, or in the local database."""

    def __init__(self, project: str) -> None:
        from polyaxon_core.client.credentials import resolve

        self.project = project
        credentials = resolve()
        self.client: Any = None
        if credentials is not None:
            from polyaxon_core.client.api import ApiClient

            self.client = ApiClient(credentials.host, credentials.token)

    def versions(self, kind: str) -> list[dict[str, Any]]:
        if self.client is not None:
            found: list[dict[str, Any]] = self.client.versions(self.project, kind)
            return found
        from polyaxon_core.domain import versions
        from polyaxon_core.domain.projects import get_project

        with database() as session:
            return [to_jsonable(versions.version_document(row))
                    for row in versions.list_versions(session, get_project(session, self.project), kind)]

    def version(self, kind: str, name: str) -> dict[str, Any]:
        if self.client is not None:
            found: dict[str, Any] = self.client.version(self.project, kind, name)
            return found
        from polyaxon_core.domain import versions
        from polyaxon_core.domain.projects import get_project

        with database() as session:
            return to_jsonable(versions.version_document(
                versions.get_version(session, get_project(session, self.project), kind, name)))

    def stage(self, kind: str, name: str, stage: str, message: str | None) -> dict[str, Any]:
        if self.client is not None:
            found: dict[str, Any] = self.client.stage_version(self.project, kind, name, stage, message)
            return found
        from polyaxon_core.domain import versions
        from polyaxon_core.domain.projects import get_project

        with database() as session:
            row = versions.get_version(session, get_project(session, self.project), kind, name)
            return to_jsonable(versions.version_document(
                versions.set_stage(session, row, stage, message=message)))

    def delete(self, kind: str, name: str) -> None:
        if self.client is not None:
            self.client.delete_version(self.project, kind, name)
            return
        from polyaxon_core.domain import versions
        from polyaxon_core.domain.projects import get_project

        with database() as session:
            versions.delete_version(session, versions.get_version(
                session, get_project(session, self.project), kind, name))

    def promote(self, uid: str, kind: str, name: str, description: str | None, tags: Sequence[str],
                artifacts: Sequence[str] | None, force: bool) -> dict[str, Any]:
        chosen = list(artifacts) if artifacts is not None else None
        body = {"kind": kind, "name": name, "description": description, "tags": list(tags),
                "artifacts": chosen, "force": force}
        if self.client is not None:
            found: dict[str, Any] = self.client.promote_run(self.project, uid, body)
            return found
        from polyaxon_core.domain import versions
        from polyaxon_core.domain.listing import get_run
        from polyaxon_core.domain.projects import get_project

        with database() as session:
            run = get_run(session, uid, get_project(session, self.project))
            return to_jsonable(versions.version_document(versions.promote(
                session, run, kind, name, description=description, tags=tags,
                artifacts=chosen, force=force)))


def _when(text: str | None) -> str:
    from datetime import datetime

    return humanize_time(datetime.fromisoformat(text) if text else None)


@click.group("models")
def models_command() -> None:
    """The registry of a project: model versions (and, with --kind, artifact and component
    versions), each pointing at the run it was promoted from, at a stage (testing,
    staging, production, disabled) with its history."""


@models_command.command("ls")
@project_option
@KIND_OPTION
@output_option
@domain_errors
def ls(project_name: str | None, kind: str, output: str) -> None:
    """List a project's versions (-p NAME, or the default), newest first."""
    name = default_project_name(project_name)
    rows = _Registry(name).versions(kind)
    if output == "json":
        print_json({"count": len(rows), "results": rows})
        return
    from rich.table import Table

    table = Table(title=f"{kind.capitalize()} versions of {name} ({len(rows)})")
    for column in ("name", "stage", "run", "artifacts", "tags", "created"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["name"], row["stage"], (row.get("run") or "-")[:12],
                      ", ".join(row.get("artifacts") or []), ", ".join(row.get("tags") or []),
                      _when(row.get("created_at")))
    console().print(table)


@models_command.command("get")
@click.argument("version")
@project_option
@KIND_OPTION
@output_option
@domain_errors
def get(version: str, project_name: str | None, kind: str, output: str) -> None:
    """Show a version: its run, artifacts, stage and stage history."""
    row = _Registry(default_project_name(project_name)).version(kind, version)
    if output == "json":
        print_json(row)
        return
    click.echo(f"{row['kind']} version {row['name']}: {row['stage']}")
    click.echo(f"run: {row.get('run') or '-'}")
    if row.get("artifacts"):
        click.echo(f"artifacts: {', '.join(row['artifacts'])}")
    if row.get("description"):
        click.echo(f"description: {row['description']}")
    if row.get("tags"):
        click.echo(f"tags: {', '.join(row['tags'])}")
    click.echo("stages:")
    for entry in row.get("stage_conditions") or []:
        who = f" by {entry['user']}" if entry.get("user") else ""
        why = f": {entry['message']}" if entry.get("message") else ""
        click.echo(f"  {_when(entry.get('last_transition_time'))}  {entry['stage']} "
                   f"({entry.get('reason') or '-'}{who}){why}")


@models_command.command("stage")
@click.argument("version")
@click.argument("stage", type=click.Choice(STAGES))
@project_option
@KIND_OPTION
@click.option("-m", "--message", help="Why, kept in its stage history.")
@domain_errors
def stage(version: str, stage: str, project_name: str | None, kind: str, message: str | None) -> None:
    """Move a version to a stage: testing, staging, production or disabled."""
    row = _Registry(default_project_name(project_name)).stage(kind, version, stage, message)
    click.echo(f"{row['kind']} version {row['name']} is {row['stage']}.")


@models_command.command("promote")
@click.argument("uid")
@click.option("--name", "version", required=True, help="The version's name, e.g. v1.2.")
@project_option
@click.option("--kind", type=click.Choice(["model", "artifact"]), default="model", show_default=True)
@click.option("--description", help="What it is.")
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
@click.option("--artifact", "artifacts", multiple=True,
              help="An entry of the run's lineage it stands for (repeatable; default: its models).")
@click.option("--force", is_flag=True, help="Point an existing version at this run.")
@domain_errors
def promote(uid: str, version: str, project_name: str | None, kind: str, description: str | None,
            tags: tuple[str, ...], artifacts: tuple[str, ...], force: bool) -> None:
    """Make run UID a model (or artifact) version of its project; nothing is copied."""
    row = _Registry(default_project_name(project_name)).promote(
        uid, kind, version, description, tags, list(artifacts) or None, force)
    if not row.get("run"):
        raise CliError("the version points at no run")
    click.echo(f"{row['kind']} version {row['name']} points at run {row['run'][:12]} "
               f"({', '.join(row['artifacts']) or 'no artifacts'}); stage {row['stage']}.")


@models_command.command("delete")
@click.argument("version")
@project_option
@KIND_OPTION
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@domain_errors
def delete(version: str, project_name: str | None, kind: str, yes: bool) -> None:
    """Delete a version; the run it points at and its artifacts stay."""
    from polyaxon_core.cli.common import confirm_or_refuse

    project = default_project_name(project_name)
    confirm_or_refuse(f"Delete {kind} version {version} of {project}?", yes)
    _Registry(project).delete(kind, version)
    click.echo(f"{kind.capitalize()} version {version} deleted.")
