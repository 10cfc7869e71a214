from __future__ import annotations

import click

from polyaxon_core.cli.common import administration, console, domain_errors, output_option, print_json


@click.group("queues")
def queues_command() -> None:
    """Create, list and change the queues runs wait in.

    A run goes to the queue `--queue` names, else its polyaxonfile's (`queue:`), else its
    project's (`polyaxon project update NAME --queue Q`), else `default`. Each queue
    starts at most `concurrency` runs at once; when the machine-wide limit
    (POLYAXON_MAX_CONCURRENCY) is reached, higher-priority queues start first.
    Logged in to a server, this goes through its API (changing a queue needs the
    organization role owner, manager or admin); else it works on the local database.
    """


@queues_command.command("ls")
@output_option
@domain_errors
def ls(output: str) -> None:
    """List queues, highest priority first, with their running and waiting runs."""
    rows = administration().list_queues()
    if output == "json":
        print_json({"count": len(rows), "results": rows})
        return
    from rich.table import Table

    table = Table(title="Queues")
    for column in ("name", "priority", "concurrency", "running", "waiting", "next to start"):
        table.add_column(column)
    for row in rows:
        upcoming = ", ".join(f"{run['project']}/{run['uuid'][:8]}" for run in row["next"][:3])
        table.add_row(str(row["name"]), str(row["priority"]), str(row["concurrency"]),
                      str(row["running"]), str(row["waiting"]), upcoming)
    console().print(table)


@queues_command.command("set")
@click.argument("name")
@click.option("--priority", type=int, help="Higher starts first when the machine is full.")
@click.option("--concurrency", type=int, help="At most this many runs of the queue at once.")
@domain_errors
def set_(name: str, priority: int | None, concurrency: int | None) -> None:
    """Create queue NAME or change its priority and concurrency."""
    queue = administration().set_queue(name, priority, concurrency)
    click.echo(f"Queue '{queue['name']}': priority {queue['priority']}, "
               f"concurrency {queue['concurrency']}.")


@queues_command.command("delete")
@click.argument("name")
@domain_errors
def delete(name: str) -> None:
    """Delete a queue none of whose runs is unfinished."""
    administration().delete_queue(name)
    click.echo(f"Queue '{name}' deleted.")
