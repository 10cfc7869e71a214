"""``polyaxon worker``: a Celery worker that executes the runs the Celery scheduler sends.

Its pool processes are forked from a parent that imported everything a run's start
needs (the database layer, the orchestrator's launch building, the runner, the artifact
store), so a task costs the command's own start, not an interpreter's. For each task,
``(run uuid, attempt)``, a pool process:

1. takes the attempt's lease (:func:`polyaxon_core.domain.leases.take`) if the run is
   still on that attempt and waiting to start; a lease already taken means the task was
   delivered before (a redelivery, a resend): it starts nothing and acknowledges it;
2. builds the launch from the database as the orchestrator would (the run's token when a
   server is configured with ``POLYAXON_API_HOST``, its connections' secrets resolved
   here) and starts the local scheduler's runner for it: logs, artifacts and outputs
   reach the store as they do for local runs. A run of the embedded default (no
   ``POLYAXON_API_HOST``) tracks through this pool process
   (:mod:`polyaxon_core.tracking.relay`), on its database connections: a run opens none;
3. waits for the runner, beating the lease's heartbeat every
   ``POLYAXON_HEARTBEAT_INTERVAL`` seconds and passing on a stop asked through the
   lease; when the runner ends it records the final status on the lease and wakes the
   orchestrators (through the database on PostgreSQL, wherever they run).

The runner dies with the worker: it is forked (not detached) and asks the kernel for a
signal when its parent dies, on which it kills its process group, the command's
processes with it; the pool processes likewise die with the worker's main process. A
worker killed outright (SIGKILL, a machine lost) therefore leaves nothing running, and
its attempts fail once their heartbeat is older than ``POLYAXON_HEARTBEAT_TIMEOUT``, to be
retried elsewhere per ``termination.maxRetries``.
"""

from __future__ import annotations

import ctypes
import importlib
import logging
import os
import select
import signal
import socket
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy import select as select_rows
from sqlalchemy.orm import Session

from polyaxon_core.config import Settings, load_settings
from polyaxon_core.db.models import Run, with_pipeline_uuid, with_project
from polyaxon_core.db.session import get_engine, session_scope, transact
from polyaxon_core.domain import leases
from polyaxon_core.domain.metrics import current_attempt
from polyaxon_core.entities import RunEntity, StatusUpdate
from polyaxon_core.interfaces import ArtifactStore
from polyaxon_core.lifecycle import Status, is_final
from polyaxon_core.orchestrator.loop import prepare_launch
from polyaxon_core.tracking import relay
from polyaxon_core.tracking.relay import RelayServer
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


class BoundLocalScheduler(LocalScheduler):
    """The local scheduler whose runners die with the process that started them."""

    def _start_runner(self, control: Path, environment: Mapping[str, str], preload: str,
                      init_environments: Sequence[Mapping[str, str]]) -> int:
        request = {"control_dir": str(control), "environment": dict(environment),
                   "init_environments": [dict(each) for each in init_environments],
                   "process_environment": dict(os.environ), "cwd": os.getcwd()}
        parent = os.getpid()
        pid = os.fork()
        if pid != 0:
            return pid
        code = 1
        try:
            signal.signal(signal.SIGHUP, _kill_own_group)
            _on_parent_death(signal.SIGHUP)
            if os.getppid() != parent:  # the worker died before the kernel was asked
                os._exit(1)
            code = runner.run_detached(request)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)


def _kill_own_group(_signum: int, _frame: FrameType | None) -> None:
    """The runner's parent died: end the runner and the command's processes (its group)."""
    try:
        os.killpg(os.getpid(), signal.SIGKILL)
    finally:
        os._exit(1)


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
                        scheduler=BoundLocalScheduler(settings),
                        store=create("store", settings.store, settings))
        _STATE["worker"] = state
    return state


def execute(run_uuid: str, attempt: int) -> str:
    """The task: run ``attempt`` of run ``run_uuid`` once, whatever the deliveries; what
    became of it (``duplicate``: another delivery had it)."""
    state = _worker()
    url = state.settings.db_url
    holder = f"{state.name} (pid {os.getpid()})"
    with session_scope(url) as session:
        run = session.scalar(select_rows(Run).where(Run.uuid == run_uuid))
        if run is None:
            return "gone"
        if current_attempt(run) != attempt or run.status not in STARTABLE:
            return "not current"
        if leases.take(session, run.id, attempt, holder, pid=os.getpid()) is None:
            return "duplicate"
        run_id = run.id
    served: RelayServer | None = None
    try:
        with session_scope(url) as session:
            row = session.scalar(select_rows(Run).options(with_project(), with_pipeline_uuid())
                                 .where(Run.id == run_id))
            assert row is not None
            launch = prepare_launch(state.settings, state.store, state.scheduler, row)
        if relay.serves(launch.env) and state.scheduler.run_as is None:
            # the run's tracking calls, served here on this process's connections (not
            # for a run as another user, who cannot reach this user's socket)
            served = relay.start(run_uuid, attempt)
            if served is not None:
                launch = replace(launch, env={**launch.env, **served.environment})
        handle = state.scheduler.submit(launch)
    except Exception as exc:  # a bad template, a missing connection: the attempt fails
        if served is not None:
            served.close()
        logger.info("run %s could not be launched: %s", run_uuid, exc)
        _finish(state, run_id, attempt, StatusUpdate(run_uuid, "failed", reason="launch failed",
                                                     message=str(exc)))
        return "failed"
    try:
        return _watch(state, run_id, attempt, launch.run, handle, served)
    finally:
        if served is not None:
            served.close()


def _watch(state: _Worker, run_id: int, attempt: int, run: RunEntity,
           handle: Mapping[str, Any], served: RelayServer | None) -> str:
    """Wait for the attempt's runner, heartbeating and passing stops on; its end (the
    run's relay closed before it is recorded)."""
    pid = int(handle["spawned_pid"])
    runner_exit = os.pidfd_open(pid)
    asked: str | None = None
    try:
        while True:
            ready, _, _ = select.select([runner_exit], [], [], state.options.heartbeat_interval)
            if ready:
                os.waitpid(pid, 0)
            observed = state.scheduler.poll(run, handle)
            if is_final(observed.status):
                if served is not None:
                    served.close()
                _finish(state, run_id, attempt, observed)
                return observed.status
            request = transact(state.settings.db_url,
                               lambda session: leases.beat(session, run_id, attempt), idempotent=True)
            if request is not None and request != asked and asked != "kill":
                # a stop (term, then kill after the grace period), or an attempt given up on
                state.scheduler.stop(run, handle, force=request != "term")
                run = replace(run, status=Status.STOPPING.value)
                asked = "kill" if request == "lost" else request
    finally:
        os.close(runner_exit)


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
    """A pool process dies with the worker, and opens its own database connections."""
    _on_parent_death(signal.SIGKILL)
    state = _worker()
    get_engine(state.settings.db_url).dispose(close=False)


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
