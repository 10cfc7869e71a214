"""The orchestrator's side of the Celery scheduler: dispatch, watch, stop.

:meth:`CeleryScheduler.submit` sends the attempt as a task to the Celery queue of the
run's Polyaxon queue (``gpu`` -> ``polyaxon.gpu``), so a pool of workers started with
``polyaxon worker --queues gpu`` takes the runs of ``gpu``. The task names the run and
the attempt only: the worker rebuilds the launch from the database, issues the run's
token and resolves its connections where it runs, so nothing secret crosses the broker.

Watching is reading leases (:mod:`polyaxon_core.domain.leases`), all the active runs'
in one query per pass: no lease yet means no worker took the task (it is sent again
after ``POLYAXON_CELERY_RESEND_AFTER``, in case the broker lost it); a lease with a
fresh heartbeat is a running attempt; a closed lease says how the attempt ended; a lease
whose heartbeat is older than ``POLYAXON_HEARTBEAT_TIMEOUT`` is closed as failed
(``worker lost``), and the orchestrator retries it per ``termination.maxRetries`` like any
failure. Stopping writes the request on the lease; the worker reads it with its next
heartbeat. An attempt stopped before any worker took it is closed by taking its lease,
so a task delivered later starts nothing. Heartbeats are compared with this machine's
clock: keep the workers' clocks synchronised (NTP).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from sqlalchemy import select

from polyaxon_core.config import Settings
from polyaxon_core.db.models import Run
from polyaxon_core.db.session import reading, session_scope
from polyaxon_core.domain import leases
from polyaxon_core.entities import LaunchRequest, RunEntity, StatusUpdate
from polyaxon_core.hookspecs import hookimpl
from polyaxon_core.interfaces import Scheduler
from polyaxon_core.interfaces.scheduler import ActiveRun, SchedulerUnavailable
from polyaxon_schedulers.celery.options import TASK, CeleryOptions, celery_queue, make_app, redacted
from polyaxon_schedulers.local import LocalScheduler

logger = logging.getLogger(__name__)


class CeleryScheduler(Scheduler):
    name = "celery"
    description = ("Sends each run as a Celery task over Redis or RabbitMQ to the workers of "
                   "its queue (`polyaxon worker`).")
    supports_services: ClassVar[bool] = False
    survives_orchestrator_restart: ClassVar[bool] = True
    launches_on_workers: ClassVar[bool] = True

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        super().__init__(settings, clock)
        self.options = CeleryOptions.from_environment()
        self._app: Any = None
        #: when this object last sent each run's task (a restarted orchestrator starts
        #: from the handle's ``sent_at``)
        self._sent: dict[str, float] = {}

    @classmethod
    def check_run(cls, run: Mapping[str, Any]) -> list[tuple[str, str]]:
        problems = LocalScheduler.check_run(run)
        if str(run.get("kind") or "job") == "service":
            problems.append(("run.kind", "a service runs where the server's proxy reaches it: use "
                                         "POLYAXON_SCHEDULER=local or kubernetes for it"))
        return problems

    @classmethod
    def serve_worker(cls, settings: Settings, queues: Sequence[str], concurrency: int,
                     name: str | None) -> None:
        from polyaxon_schedulers.celery.worker import serve

        serve(settings, CeleryOptions.from_environment(), queues, concurrency, name)

    @property
    def app(self) -> Any:
        if self._app is None:
            self._app = make_app(self.options)
        return self._app

    # ------------------------------------------------------------------------- dispatch
    def submit(self, launch: LaunchRequest) -> Mapping[str, Any]:
        if launch.ports:
            raise ValueError("a service cannot run on a Celery worker; use POLYAXON_SCHEDULER=local "
                             "or kubernetes for it")
        if not [*launch.container.command, *launch.container.args]:
            raise ValueError("the container has neither `command` nor `args`; nothing to run")
        attempt = int(launch.run.meta_info.get("attempts", 1))
        handle = {"task_id": f"{launch.run.uuid}-{attempt}", "attempt": attempt,
                  "queue": celery_queue(launch.run.queue), "sent_at": self.clock()}
        self._send(launch.run.uuid, handle)
        return handle

    def _send(self, run_uuid: str, handle: Mapping[str, Any]) -> None:
        app = self.app
        from kombu.exceptions import OperationalError

        try:
            app.send_task(TASK, args=[run_uuid, int(handle["attempt"])], queue=handle["queue"],
                               task_id=handle["task_id"], retry=True,
                               retry_policy={"max_retries": 1, "interval_start": 0,
                                             "interval_step": 0.5, "interval_max": 0.5})
        except (OperationalError, OSError) as exc:
            raise SchedulerUnavailable(
                f"the Celery broker {redacted(self.options.broker_url)} cannot be reached: {exc}"
            ) from None
        self._sent[run_uuid] = self.clock()

    # ---------------------------------------------------------------------------- watch
    def sync(self, active: Sequence[ActiveRun]) -> list[StatusUpdate]:
        if not active:
            return []
        attempts = {item.run.uuid: int(item.handle.get("attempt", 1)) for item in active}
        # most passes only read: the leases say how each attempt goes, and nothing is
        # asked of a worker; a pass that must write (a stop to pass on, a silent worker's
        # attempt to close) reads them again in a transaction
        with reading(self.settings.db_url) as session:
            found = leases.read(session, attempts)
            if not self._writes(active, found):
                return self._updates(None, active, attempts, found)
        with session_scope(self.settings.db_url) as session:
            return self._updates(session, active, attempts, leases.read(session, attempts))

    def _writes(self, active: Sequence[ActiveRun], found: Mapping[str, tuple[int, Any]]) -> bool:
        """Whether observing ``active`` with the leases ``found`` writes to the database."""
        for item in active:
            lease = found.get(item.run.uuid, (0, None))[1]
            if item.stop_requested_at is not None or (
                    lease is not None and leases.silent(lease, self.options.heartbeat_timeout)):
                return True
        return False

    def _updates(self, session: Any, active: Sequence[ActiveRun], attempts: Mapping[str, int],
                 found: Mapping[str, tuple[int, Any]]) -> list[StatusUpdate]:
        updates: list[StatusUpdate] = []
        for item in active:
            if item.run.uuid not in found:
                continue
            run_id, lease = found[item.run.uuid]
            update = self._observe(session, item, (run_id, attempts[item.run.uuid]), lease)
            if update is not None and update.status != item.run.status:
                updates.append(update)
        return updates

    def _observe(self, session: Any, item: ActiveRun, key: tuple[int, int],
                 lease: Any) -> StatusUpdate | None:
        run = item.run
        if lease is None:
            if item.stop_requested_at is not None:
                cancelled = leases.take(session, *key, worker="orchestrator", outcome="stopped",
                                        reason="stopped",
                                        message="stopped before a worker started it")
                # None: a worker took it meanwhile, and is asked on the next pass
                return leases.observed(cancelled, run.uuid) if cancelled is not None else None
            sent = self._sent.get(run.uuid, float(item.handle.get("sent_at") or 0.0))
            if self.clock() - sent >= self.options.resend_after:
                try:
                    self._send(run.uuid, item.handle)
                    logger.info("run %s: no worker took its task in %gs; sent it again",
                                run.uuid, self.options.resend_after)
                except SchedulerUnavailable as exc:
                    logger.warning("run %s waits for the broker: %s", run.uuid, exc)
            return None
        # (without a session, a pass that only reads: a lease gone silent since is closed
        # by the next one)
        if (session is not None and lease.outcome is None
                and leases.expire(session, lease, self.options.heartbeat_timeout)):
            logger.warning("run %s: %s", run.uuid, lease.message)
        if lease.outcome is not None:
            return leases.observed(lease, run.uuid)
        if item.stop_requested_at is not None:
            force = self.clock() - item.stop_requested_at >= self.settings.stop_grace_period
            if lease.stop != ("kill" if force else "term") and lease.stop != "kill":
                leases.request_stop(session, *key, force=force)
            return None
        return StatusUpdate(run.uuid, "running")

    def poll(self, run: RunEntity, handle: Mapping[str, Any]) -> StatusUpdate:
        updates = self.sync([ActiveRun(run, handle)])
        return updates[0] if updates else StatusUpdate(run.uuid, run.status)

    def stop(self, run: RunEntity, handle: Mapping[str, Any], force: bool) -> None:
        with session_scope(self.settings.db_url) as session:
            run_id = session.scalar(select(Run.id).where(Run.uuid == run.uuid))
            if run_id is not None:
                leases.request_stop(session, run_id, int(handle.get("attempt", 1)), force=force)


@hookimpl
def polyaxon_register_schedulers() -> list[type[Scheduler]]:
    return [CeleryScheduler]
