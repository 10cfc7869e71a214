"""``polyaxon worker``: a Celery worker that executes the runs the Celery scheduler sends.

Its pool processes are forked from a parent that imported everything a run's start
needs (the database layer, the orchestrator's launch building, the runner, the artifact
store), so a task costs the command's own start, not an interpreter's, nor a process of
its own for the runner. For each task, ``(run uuid, attempt)``, a pool process:

1. takes the attempt's lease (:func:`polyaxon_core.domain.leases.take`) if the run is
   still on that attempt and waiting to start; a lease already taken means the task was
   delivered before (a redelivery, a resend): it starts nothing and acknowledges it;
2. builds the launch from the database as the orchestrator would (the run's token when a
   server is configured with ``POLYAXON_API_HOST``, its connections' secrets resolved
   here) and runs the local scheduler's runner for it in a thread
   (:func:`polyaxon_schedulers.runner.supervise`): logs, artifacts and outputs reach the
   store as they do for local runs. A run of the embedded default (no
   ``POLYAXON_API_HOST``) tracks through this pool process
   (:mod:`polyaxon_core.tracking.relay`), on its database connections: a run opens none;
3. waits for the runner, beating the lease's heartbeat every
   ``POLYAXON_HEARTBEAT_INTERVAL`` seconds and passing on a stop asked through the
   lease; when the runner ends it records the final status on the lease and wakes the
   orchestrators (through the database on PostgreSQL, wherever they run).

What an attempt starts dies with the worker: the pool processes ask the kernel for a
signal when the worker's main process dies, and each has a keeper (:class:`Keeper`), a
small process forked once when the pool process starts, told of every process group its
attempts start (each initializer and command runs in a session of its own); when the
pool process dies, whichever way, the keeper's pipe closes and it kills the groups still
running. A worker killed outright (SIGKILL, a machine lost) therefore leaves nothing
running, and its attempts fail once their heartbeat is older than
``POLYAXON_HEARTBEAT_TIMEOUT``, to be retried elsewhere per ``termination.maxRetries``.
(A process started in the instant between its fork and the keeper being told, while its
pool process is killed, is the one that could outlive it.)
"""

from __future__ import annotations

import ctypes
import importlib
import logging
import os
import signal
import socket
import threading
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NoReturn

from sqlalchemy import select as select_rows
from sqlalchemy.orm import Session

from polyaxon_core.config import Settings, load_settings
from polyaxon_core.db.models import Run, with_pipeline_uuid, with_project
from polyaxon_core.db.session import (
    UNPINGED_SECONDS,
    get_engine,
    is_disconnect,
    ping_only_idle_connections,
    transact,
)
from polyaxon_core.domain import leases
from polyaxon_core.domain.metrics import current_attempt
from polyaxon_core.entities import LaunchRequest, RunEntity, StatusUpdate
from polyaxon_core.interfaces import ArtifactStore
from polyaxon_core.lifecycle import Status, is_final
from polyaxon_core.orchestrator.loop import prepare_launch
from polyaxon_core.tracking import relay
from polyaxon_core.wakeup import notify, wake, wakeup_path
from polyaxon_schedulers import runner
from polyaxon_schedulers.celery.options import TASK, CeleryOptions, celery_queue, make_app
from polyaxon_schedulers.local import LocalScheduler

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
#: what an attempt may be in when its task arrives (scheduled: the orchestrator has not
#: committed its dispatch yet)
STARTABLE = (Status.SCHEDULED.value, Status.STARTING.value)


def _on_parent_death(signum: int) -> None:
    """Have the kernel send ``signum`` to this process when its parent dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


class Keeper:
    """Kills the process groups of this process's attempts when it dies, whichever way.

    A process forked once, holding the read end of a pipe: told ``+<group>`` when an
    attempt starts a process in a group of its own and ``-<group>`` when that process has
    ended; when the pipe closes (this process ended, or was killed: the kernel closes its
    end) it kills the groups it was not told had ended, then leaves. It ignores the
    terminal's signals, so an interrupted worker's attempts end as its pool processes let
    them, not because their keeper died first."""

    def __init__(self) -> None:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(write)
            _keep(read)
        os.close(read)
        self.pid, self._write = pid, write

    def watch(self, group: int) -> None:
        self._say(f"+{group}\n")

    def forget(self, group: int) -> None:
        self._say(f"-{group}\n")

    def _say(self, line: str) -> None:
        try:  # one write of a few bytes to a pipe: whole, whichever thread writes
            os.write(self._write, line.encode())
        except OSError as exc:  # the keeper was killed: the attempts run on, unguarded
            logger.warning("the keeper of this pool process's runs is gone (%s): a run "
                           "started now would outlive the worker if it were killed", exc)


def _keep(read: int) -> NoReturn:
    """The keeper's life (see :class:`Keeper`), in the forked process."""
    try:
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(number, signal.SIG_IGN)
        # nothing of the pool process's (its broker and database connections, the
        # worker's pipes) stays open here
        os.closerange(3, read)
        os.closerange(read + 1, os.sysconf("SC_OPEN_MAX"))
        groups: set[int] = set()
        pending = b""
        while chunk := os.read(read, 4096):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                (groups.add if line[:1] == b"+" else groups.discard)(int(line[1:]))
        for group in groups:
            with suppress(OSError):
                os.killpg(group, signal.SIGKILL)
    finally:
        os._exit(0)


class BoundLocalScheduler(LocalScheduler):
    """The local scheduler whose runners are threads of this pool process, what they start
    in the care of its :class:`Keeper`."""

    def __init__(self, settings: Settings, keeper: Keeper) -> None:
        super().__init__(settings)
        self.keeper = keeper
        #: the runner of each attempt started here and not yet watched, by control folder
        self.runners: dict[str, threading.Thread] = {}

    def _start_runner(self, control: Path, environment: Mapping[str, str], preload: str,
                      init_environments: Sequence[Mapping[str, str]]) -> int:
        thread = threading.Thread(target=runner.supervise,
                                  args=(control, environment, init_environments, self.keeper),
                                  name=f"run {control.parent.parent.name}")
        thread.start()
        self.runners[str(control)] = thread
        return os.getpid()


@dataclass
class _Worker:
    """What a pool process keeps between tasks."""

    settings: Settings
    options: CeleryOptions
    name: str
    scheduler: BoundLocalScheduler
    store: ArtifactStore


_STATE: dict[str, _Worker] = {}


def _worker() -> _Worker:
    state = _STATE.get("worker")
    if state is None:
        from polyaxon_core.plugins import create

        settings = load_settings()
        state = _Worker(settings=settings, options=CeleryOptions.from_environment(),
                        name=os.environ.get("POLYAXON_WORKER_NAME") or socket.gethostname(),
                        scheduler=BoundLocalScheduler(settings, Keeper()),
                        store=create("store", settings.store, settings))
        _STATE["worker"] = state
    return state


def execute(run_uuid: str, attempt: int) -> str:
    """The task: run ``attempt`` of run ``run_uuid`` once, whatever the deliveries; what
    became of it (``duplicate``: another delivery had it)."""
    state = _worker()
    holder = f"{state.name} (pid {os.getpid()})"
    tries = 0

    def start(session: Session) -> str | tuple[int, LaunchRequest | Exception]:
        """The lease and what the launch reads, in one transaction: the lease is committed
        before anything starts, and stays taken when the launch cannot be built."""
        nonlocal tries
        tries += 1
        run = session.scalar(select_rows(Run).options(with_project(), with_pipeline_uuid())
                             .where(Run.uuid == run_uuid))
        if run is None:
            return "gone"
        if current_attempt(run) != attempt:
            return "not current"
        # begun again after its connection was lost in the commit: the lease may be this
        # process's already (and the run seen running by the orchestrator since)
        if not (tries > 1 and leases.held(session, run.id, attempt, holder)):
            if run.status not in STARTABLE:
                return "not current"
            if leases.take(session, run.id, attempt, holder, pid=os.getpid()) is None:
                return "duplicate"
        try:
            return run.id, prepare_launch(state.settings, state.store, state.scheduler, run)
        except Exception as exc:  # a bad template, a missing connection: the attempt fails
            if is_disconnect(exc):
                raise
            return run.id, exc

    # begun again on a new connection when the one it had was lost, in the commit too: a
    # lease taken then is found to be this process's
    started = transact(state.settings.db_url, start, idempotent=True)
    if isinstance(started, str):
        return started
    run_id, launch = started
    if isinstance(launch, Exception):
        refused = launch
    else:
        try:
            handle = state.scheduler.submit(launch)
        except Exception as exc:  # a command it cannot start, a folder it cannot write
            refused = exc
        else:
            return _watch(state, run_id, attempt, launch.run, handle)
    logger.info("run %s could not be launched: %s", run_uuid, refused)
    _finish(state, run_id, attempt, StatusUpdate(run_uuid, "failed", reason="launch failed",
                                                 message=str(refused)))
    return "failed"


def _watch(state: _Worker, run_id: int, attempt: int, run: RunEntity,
           handle: Mapping[str, Any]) -> str:
    """Wait for the attempt's runner, heartbeating and passing stops on; its end (the
    run's relay closed by the runner before it is recorded)."""
    # none when the attempt's files say it was started already: its end is read from them
    runner_thread = state.scheduler.runners.pop(str(handle["control_dir"]), None)
    idle = threading.Event()
    asked: str | None = None
    while True:
        if runner_thread is not None:
            runner_thread.join(state.options.heartbeat_interval)
        observed = state.scheduler.poll(run, handle)
        if is_final(observed.status):
            _finish(state, run_id, attempt, observed)
            return observed.status
        request = transact(state.settings.db_url,
                           lambda session: leases.beat(session, run_id, attempt), idempotent=True)
        if request is not None and request != asked and asked != "kill":
            # a stop (term, then kill after the grace period), or an attempt given up on
            state.scheduler.stop(run, handle, force=request != "term")
            run = replace(run, status=Status.STOPPING.value)
            asked = "kill" if request == "lost" else request
        if runner_thread is None:
            idle.wait(state.options.heartbeat_interval)


def _finish(state: _Worker, run_id: int, attempt: int, observed: StatusUpdate) -> None:
    """Record the attempt's end on its lease, and wake the orchestrators: through the
    database on PostgreSQL (they may be on other machines), else through this home's
    named pipe."""

    def record(session: Session) -> bool:
        leases.finish(session, run_id, attempt, observed)
        return notify(session)

    if not transact(state.settings.db_url, record, idempotent=True):
        wake(wakeup_path(state.settings))


def _in_pool_process(**_: Any) -> None:
    """A pool process dies with the worker, and opens its own database connections; its
    transactions each do again what a lost connection interrupts (a task's start, a
    heartbeat, an attempt's end, a run's tracking call), so a connection is pinged as it
    leaves the pool only after it sat unused a while, not before each of them."""
    _on_parent_death(signal.SIGKILL)
    state = _worker()
    get_engine(state.settings.db_url).dispose(close=False)
    ping_only_idle_connections(UNPINGED_SECONDS)


def serve(settings: Settings, options: CeleryOptions, queues: Sequence[str], concurrency: int,
          name: str | None) -> None:
    """Run the worker until it is stopped (SIGTERM: the tasks under way end first)."""
    from celery import signals

    from polyaxon_core.plugins import get_plugin_manager

    node = name or f"worker-{os.getpid()}@{socket.gethostname()}"
    os.environ["POLYAXON_WORKER_NAME"] = node
    # what every task needs, imported once here and inherited by the pool processes
    store_class = get_plugin_manager().get("store", settings.store)
    importlib.import_module(store_class.__module__)
    importlib.import_module("polyaxon_schedulers.runner")
    relay.warm()
    app = make_app(options)
    app.task(name=TASK, ignore_result=True)(execute)
    signals.worker_process_init.connect(_in_pool_process, weak=False)
    worker = app.Worker(hostname=node, queues=[celery_queue(queue) for queue in queues],
                        concurrency=concurrency, pool="prefork", loglevel="INFO",
                        without_gossip=True, without_mingle=True, without_heartbeat=True,
                        optimization="fair")
    worker.start()
    if worker.exitcode:
        raise SystemExit(worker.exitcode)
