from __future__ import annotations

import logging
import os

import click

from polyaxon_core.cli.common import domain_errors, settings


@click.command("worker")
@click.option("--queues", "-Q", default="default", show_default=True, metavar="QUEUE[,QUEUE...]",
              help="The Polyaxon queues whose runs it takes (a GPU pool: --queues gpu).")
@click.option("--concurrency", "-c", type=click.IntRange(min=1), default=os.cpu_count() or 1,
              show_default="the machine's CPUs", help="How many runs it executes at once.")
@click.option("--name", help="Its name in the runs' leases (default: worker-<pid>@<host>).")
@domain_errors
def worker_command(queues: str, concurrency: int, name: str | None) -> None:
    """Execute the runs the scheduler dispatches to workers (POLYAXON_SCHEDULER=celery).

    The worker takes the runs of its queues from the broker (POLYAXON_BROKER_URL), starts
    each as the local scheduler would, reports them through the database
    (POLYAXON_DB_URL, the server's) and sends their logs and artifacts to the store. Run
    as many as you need, on as many machines; SIGTERM lets the runs under way finish.
    """
    from polyaxon_core.cli.common import database
    from polyaxon_core.cli.errors import CliError
    from polyaxon_core.interfaces import Scheduler
    from polyaxon_core.orchestrator.backends import check_backends
    from polyaxon_core.plugins import get_plugin_manager

    current = settings()
    names = [queue.strip() for queue in queues.split(",") if queue.strip()]
    if not names:
        raise CliError("--queues names no queue; give one or more, separated by commas")
    check_backends(current)
    with database():
        pass  # the leases table exists before the first task
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    scheduler_class = get_plugin_manager().get("scheduler", current.scheduler)
    assert issubclass(scheduler_class, Scheduler)
    scheduler_class.serve_worker(current, names, concurrency, name)
