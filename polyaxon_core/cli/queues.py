from __future__ import annotations

import click

from polyaxon_core.cli.common import console, database, domain_errors, output_option, print_json, settings


@click.group("queues")
def queues_command() -> None:
    """Create, list and change the queues runs wait in.

    A run goes to the queue its polyaxonfile names (`queue:`) or `--queue`, else
    `default`. Each queue starts at most `concurrency` runs at once; when the machine-wide
    limit (POLYAXON_MAX_CONCURRENCY) is reached, higher-priority queues start first.
    """


@queues_command.command("ls")
@output_option
@domain_errors
def ls(output: str) -> None:
    """List queues, highest priority first."""
    from polyaxon_core.domain.queues import list_queues

    with database() as session:
        rows = [{"name": q.name, "priority": q.priority, "concurrency": q.concurrency}
                for q in list_queues(session)]
    if output == "json":
        print_json({"count": len(rows), "results": rows})
        return
    from rich.table import Table

    table = Table(title="Queues")
    for column in ("name", "priority", "concurrency"):
        table.add_column(column)
    for row in rows:
        table.add_row(str(row["name"]), str(row["priority"]), str(row["concurrency"]))
    console().print(table)


@queues_command.command("set")
@click.argument("name")
@click.option("--priority", type=int, help="Higher starts first when the machine is full.")
@click.option("--concurrency", type=int, help="At most this many runs of the queue at once.")
@domain_errors
def set_(name: str, priority: int | None, concurrency: int | None) -> None:
    """Create queue NAME or change its priority and concurrency."""
    from polyaxon_core.domain.queues import set_queue

    with database() as session:
        queue = set_queue(session, name, priority, concurrency, settings().default_concurrency)
        click.echo(f"Queue '{queue.name}': priority {queue.priority}, concurrency {queue.concurrency}.")


@queues_command.command("delete")
@click.argument("name")
@domain_errors
def delete(name: str) -> None:
    """Delete an empty queue."""
    from polyaxon_core.domain.queues import delete_queue

    with database() as session:
        delete_queue(session, name)
    click.echo(f"Queue '{name}' deleted.")
