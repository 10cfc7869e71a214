from __future__ import annotations

from typing import Any

import click

from polyaxon_core.cli.common import administration, console, domain_errors, output_option, print_json


@click.group("quotas")
def quotas_command() -> None:
    """Cap what a project, a team or a user has running at once.

    A quota caps the number of runs and the CPU, memory and GPUs they request
    (`container.resources`). A team's quota covers the projects it has a role on, a
    user's the runs they created. A run that would exceed a quota waits in `queued`,
    its timeline naming the quota, and starts as soon as the quota allows.
    Logged in to a server, this goes through its API (changing a quota needs the
    organization role owner, manager or admin); else it works on the local database.
    """


def _caps(max_runs: int | None, cpu: str | None, memory: str | None, gpu: int | None,
          removed: tuple[str, ...] = ()) -> dict[str, Any]:
    caps: dict[str, Any] = {key: value for key, value in (
        ("max_runs", max_runs), ("cpu", cpu), ("memory", memory), ("gpu", gpu)) if value is not None}
    caps.update({key.replace("-", "_"): None for key in removed})
    return caps


def _caps_options(command: Any) -> Any:
    for option in reversed([
        click.option("--max-runs", type=click.IntRange(min=1), help="At most this many runs at once."),
        click.option("--cpu", help="At most this much CPU requested at once (4, 0.5, 500m)."),
        click.option("--memory", help="At most this much memory requested at once (8Gi, 512Mi)."),
        click.option("--gpu", type=click.IntRange(min=0), help="At most this many GPUs at once."),
    ]):
        command = option(command)
    return command


def _describe(quota: dict[str, Any]) -> str:
    caps = [f"{quota['max_runs']} run(s)" if quota["max_runs"] is not None else None,
            f"{quota['cpu']:g} CPU" if quota["cpu"] is not None else None,
            f"{quota['memory']} bytes of memory" if quota["memory"] is not None else None,
            f"{quota['gpu']} GPU(s)" if quota["gpu"] is not None else None]
    subject = quota["subject"]
    return (f"Quota '{quota['name']}' on {subject['kind']} {subject['name']}: at most "
            f"{', '.join(cap for cap in caps if cap)} at once.")


@quotas_command.command("ls")
@output_option
@domain_errors
def ls(output: str) -> None:
    """List quotas with what their runs hold now and how many runs they hold back."""
    rows = administration().list_quotas()
    if output == "json":
        print_json({"count": len(rows), "results": rows})
        return
    from rich.table import Table

    def cap(used: float, limit: float | None) -> str:
        return f"{used:g} / {limit:g}" if limit is not None else f"{used:g}"

    table = Table(title="Quotas")
    for column in ("name", "subject", "runs", "cpu", "memory (bytes)", "gpu", "waiting"):
        table.add_column(column)
    for row in rows:
        used = row["used"]
        table.add_row(row["name"], f"{row['subject']['kind']} {row['subject']['name']}",
                      cap(used["runs"], row["max_runs"]), cap(used["cpu"], row["cpu"]),
                      cap(used["memory"], row["memory"]), cap(used["gpu"], row["gpu"]),
                      str(row["waiting"]))
    console().print(table)


@quotas_command.command("create")
@click.argument("name")
@click.option("--project", help="The project it caps (NAME or OWNER/NAME).")
@click.option("--team", help="The team whose projects it caps.")
@click.option("--user", help="The user whose runs it caps.")
@_caps_options
@domain_errors
def create(name: str, project: str | None, team: str | None, user: str | None,
           max_runs: int | None, cpu: str | None, memory: str | None, gpu: int | None) -> None:
    """Create quota NAME on one project, team or user."""
    subject = {key: value for key, value in (("project", project), ("team", team), ("user", user))
               if value}
    click.echo(_describe(administration().create_quota(name, subject, _caps(max_runs, cpu, memory, gpu))))


@quotas_command.command("update")
@click.argument("name")
@_caps_options
@click.option("--remove", multiple=True, type=click.Choice(["max-runs", "cpu", "memory", "gpu"]),
              help="Remove this cap (repeatable).")
@domain_errors
def update(name: str, max_runs: int | None, cpu: str | None, memory: str | None, gpu: int | None,
           remove: tuple[str, ...]) -> None:
    """Change the caps of quota NAME; the next runs start by the new ones."""
    click.echo(_describe(administration().update_quota(name, _caps(max_runs, cpu, memory, gpu, remove))))


@quotas_command.command("delete")
@click.argument("name")
@domain_errors
def delete(name: str) -> None:
    """Delete quota NAME; the runs it held start as their queues allow."""
    administration().delete_quota(name)
    click.echo(f"Quota '{name}' deleted.")
