from __future__ import annotations

import logging
import os
import signal
import sys
from types import FrameType
from typing import TYPE_CHECKING

import click

from polyaxon_core.cli.common import domain_errors, settings

if TYPE_CHECKING:
    from polyaxon_core.config import Settings
    from polyaxon_core.orchestrator import OrchestratorLock
    from polyaxon_core.orchestrator.intake import Intake


@click.command("scheduler")
@click.option("--exit-when-idle", type=float, metavar="SECONDS",
              help="Exit after this long with no unfinished run (the embedded default's mode).")
@click.option("--once", is_flag=True, help="Do a single pass and exit (for cron or debugging).")
@click.option("--quiet-if-running", is_flag=True, hidden=True,
              help="Exit 0 silently when another orchestrator holds the lock.")
@domain_errors
def scheduler_command(exit_when_idle: float | None, once: bool, quiet_if_running: bool) -> None:
    """Run the orchestrator: compile, queue, schedule and reconcile runs.

    On SQLite (the embedded default) one orchestrator serves a POLYAXON_HOME at a time, and
    `polyaxon run` starts one on demand; run this yourself for a long-lived one (and set
    POLYAXON_ORCHESTRATOR=external). On PostgreSQL any number of replicas may run against
    one database: each run, sweep, DAG and schedule is acted on by one replica at a time.
    """
    from polyaxon_core.cli.common import database
    from polyaxon_core.cli.errors import CliError
    from polyaxon_core.db.session import UNPINGED_SECONDS, ping_only_idle_connections
    from polyaxon_core.events import listened_events
    from polyaxon_core.interfaces.base import class_path
    from polyaxon_core.orchestrator import Orchestrator, OrchestratorLock, ensure_orchestrator
    from polyaxon_core.orchestrator.backends import check_backends
    from polyaxon_core.orchestrator.loop import fail_waiting_runs
    from polyaxon_core.plugins import get_plugin_manager
    from polyaxon_core.wakeup import wake, wakeup_path

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    current = settings()
    # an unknown backend is this command's configuration error; the runs are not touched,
    # since an orchestrator configured correctly may serve them
    check_backends(current)
    with database():
        pass  # migrate before the first tick
    # a pass that loses its connection is logged and done again by the next: the many short
    # transactions of a pass do not each pay a ping
    ping_only_idle_connections(UNPINGED_SECONDS)
    lock = OrchestratorLock(current, plugins={
        "scheduler_class": class_path(get_plugin_manager().get("scheduler", current.scheduler)),
        "listeners": listened_events()})
    holder = lock.acquire()
    if not holder:
        if quiet_if_running:
            return
        if not replicas_allowed(current.db_url):
            raise CliError(
                f"an orchestrator is already running for {current.home} (pid {lock.holder_pid()}); "
                "stop it first or let it serve this home (replicas need a PostgreSQL "
                "POLYAXON_DB_URL)"
            )
        # one more replica: the one holding the lock is the one `polyaxon run` finds
        click.echo(f"another orchestrator (pid {lock.holder_pid()}) holds {lock.path}; "
                   "this one runs as a further replica", err=True)
    stopping = False

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        # the loop may be waiting for its next pass: it leaves now, not a poll interval later
        wake(wakeup_path(current))

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with lock:
        try:
            orchestrator = Orchestrator(current)
        except Exception as exc:  # a plugin raising as it is created
            reason = f"the orchestrator could not start: {type(exc).__name__}: {exc}"
            if exit_when_idle is None:
                # run by a supervisor, maybe one replica of several: leave the runs queued
                raise CliError(reason) from None
            # started on demand for the runs just submitted: they must hear of it
            failed = fail_waiting_runs(current.db_url, reason)
            raise CliError(f"{reason} ({len(failed)} queued run(s) marked failed)") from None
        if once:
            orchestrator.tick()
            return
        intake = _intake(current, lock) if holder else None
        click.echo(f"orchestrator started for {current.home} (pid {os.getpid()})", err=True)
        sys.stderr.flush()
        try:
            orchestrator.run_forever(lambda: stopping, idle_exit=exit_when_idle,
                                     report_error=lock.record_error)
        finally:
            if intake is not None:
                intake.close()  # the submissions it took are written first
    if not stopping and orchestrator.has_unfinished_runs():
        # idle no more: a run submitted while this one was leaving (whose command found the
        # lock still held) is served by a successor
        ensure_orchestrator(current)


def _intake(current: Settings, lock: OrchestratorLock) -> Intake | None:
    """The orchestrator holding the lock takes the submissions of commands, and says where."""
    from polyaxon_core.orchestrator.intake import STATUS_KEY, Intake

    try:
        intake = Intake(current)
    except OSError as exc:  # commands then submit in their own processes, as without one
        logging.getLogger(__name__).warning("commands cannot hand their submissions to this "
                                            "orchestrator: %s", exc.strerror or exc)
        return None
    lock.publish(**{STATUS_KEY: intake.address})
    return intake


def replicas_allowed(db_url: str) -> bool:
    """Whether several orchestrators may serve the database at ``db_url``: PostgreSQL's row
    locks keep replicas apart (:mod:`polyaxon_core.db.claims`); SQLite has none."""
    return not db_url.startswith("sqlite")
