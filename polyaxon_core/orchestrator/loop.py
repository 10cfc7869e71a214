"""The orchestrator: compile -> queue -> schedule -> reconcile, one tick at a time.

It keeps nothing in memory that it cannot rebuild from the database: killed and started
again, it finds queued runs still queued, launched runs still referenced by their
scheduler handles, and sweeps still able to tell which trials exist. Each step of a tick
is its own short transaction, so a crash between two steps loses nothing committed (the
claim of queued runs and their hand-over to a scheduler that starts them itself are one
step: see :meth:`Orchestrator._submit_claimed`); the
listings a pass begins with (the launched runs, the DAGs, the sweeps, whether a run
waits) are reads alone (:func:`~polyaxon_core.db.session.reading`), which on PostgreSQL
cost their statement's round trip and nothing more.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Select, bindparam, or_, select
from sqlalchemy.orm import Session, object_session

from polyaxon_core.config import Settings
from polyaxon_core.db.claims import claim_rows, critical_section
from polyaxon_core.db.convert import run_to_entity
from polyaxon_core.db.models import ProjectCI, Queue, Run, utcnow, with_pipeline_uuid, with_project
from polyaxon_core.db.session import is_disconnect, reading, session_scope
from polyaxon_core.domain.agents import SCHEDULER_PREFIX as AGENT_SCHEDULER
from polyaxon_core.domain.agents import agent_names, agent_of_queue
from polyaxon_core.domain.artifacts import copy_run_artifacts
from polyaxon_core.domain.commands import load_spec
from polyaxon_core.domain.metrics import current_attempt
from polyaxon_core.domain.notifications import Dispatcher
from polyaxon_core.domain.queues import DEFAULT_QUEUE, ensure_queue
from polyaxon_core.domain.quotas import QuotaGate
from polyaxon_core.domain.state import note, transition
from polyaxon_core.entities import ContainerSpec, InitStep, LaunchRequest, StatusUpdate
from polyaxon_core.interfaces import ArtifactStore, Scheduler
from polyaxon_core.interfaces.builder import BuildRequest, BuildUnavailable
from polyaxon_core.interfaces.scheduler import ActiveRun, SchedulerUnavailable
from polyaxon_core.lifecycle import (
    ACTIVE_STATUSES,
    CONTROLLED_KINDS,
    CONTROLLED_STATUSES,
    FINAL_STATUSES,
    Status,
)
from polyaxon_core.memory import freeze_long_lived
from polyaxon_core.orchestrator.builds import (
    BuildController,
    BuildFailed,
    BuiltImage,
    builder_name,
    plan_build,
)
from polyaxon_core.orchestrator.ci import CIController
from polyaxon_core.orchestrator.culling import CullingController
from polyaxon_core.orchestrator.dags import DagController
from polyaxon_core.orchestrator.schedules import ScheduleController
from polyaxon_core.orchestrator.sweeps import SweepController
from polyaxon_core.services import declared_ports, service_globals
from polyaxon_core.wakeup import WakeupChannel, orchestrator_pass, wakeup_path

logger = logging.getLogger(__name__)

_ACTIVE = [status.value for status in ACTIVE_STATUSES]
_FINAL = [status.value for status in FINAL_STATUSES]


# The statements of every pass, built once (on first use: the mappers are complete only
# once every model is imported); a pass then binds values instead of building them again.
@functools.cache
def _active_runs() -> Select[Run]:
    return (select(Run).options(with_project(), with_pipeline_uuid())
            .where(Run.status.in_(_ACTIVE), Run.kind.not_in(CONTROLLED_KINDS),
                   Run.managed_by == "agent"))


@functools.cache
def _controlled() -> Select[int, str]:
    """The DAGs and sweeps their controllers drive: the id and kind of each."""
    return select(Run.id, Run.kind).where(Run.kind.in_(CONTROLLED_KINDS), Run.status.in_(CONTROLLED_STATUSES))


@functools.cache
def _claim_run(by: str) -> Select[Run]:
    """A run by ``id`` or ``uuid`` (bound as ``key``), locked, with what its launch and its
    events read."""
    column = Run.id if by == "id" else Run.uuid
    return claim_rows(select(Run).options(with_project(), with_pipeline_uuid())
                      .where(column == bindparam("key")), Run)


class _Claiming(NamedTuple):
    """What scheduling reads."""

    #: whether a run waits
    waiting: Any
    #: the queues
    queues: Any
    #: the queue of each run that runs (what it counts against)
    running: Any
    #: the queued runs, by queue priority then age, locked, with what their launch reads
    queued: Any
    #: the runs claimed but never submitted (their orchestrator died in between)
    orphans: Any


@functools.cache
def _claiming() -> _Claiming:
    return _Claiming(
        waiting=select(Run.id).where(Run.status == Status.QUEUED.value,
                                     Run.kind.not_in(CONTROLLED_KINDS)).limit(1),
        queues=select(Queue),
        running=select(Run.queue).where(Run.status.in_(_ACTIVE), Run.kind.not_in(CONTROLLED_KINDS),
                                        Run.managed_by == "agent", _not_an_agents()),
        queued=claim_rows(select(Run).options(with_project(), with_pipeline_uuid())
                          .outerjoin(Queue, Queue.name == Run.queue)
                          .where(Run.status == Status.QUEUED.value, Run.kind.not_in(CONTROLLED_KINDS))
                          .order_by(Queue.priority.desc().nulls_last(), Run.created_at, Run.id), Run),
        # an agent's runs are started by the agent (polyaxon_core.domain.agents)
        orphans=select(Run.id).where(Run.status == Status.SCHEDULED.value,
                                     Run.kind.not_in(CONTROLLED_KINDS), _not_an_agents()),
    )


def run_context_env(settings: Settings, run: Run, artifacts: Path, context_path: str,
                    token: bool = True) -> dict[str, str]:
    """The environment that tells the tracking SDK which run (and attempt) it is in.

    With ``POLYAXON_API_HOST`` set, the run acts on behalf of a server: it gets
    ``POLYAXON_HOST`` and a token issued for this attempt alone
    (:func:`polyaxon_core.client.run_access.run_api_env`), its SDK talks to the API, and
    nothing of the server's own configuration is passed (no ``POLYAXON_DB_URL``, no
    ``POLYAXON_HOME``, no store). Without it (the embedded default), the run writes to
    the database and the store directly, so it also gets where they are. Without
    ``token``, no token is issued (the scheduler's workers build the launch again).
    """
    from polyaxon_core.client.run_access import run_api_env

    context = {
        "POLYAXON_RUN_UUID": run.uuid,
        "POLYAXON_RUN_ATTEMPT": str(current_attempt(run)),
        "POLYAXON_PROJECT": run.project.name,
        "POLYAXON_OWNER": run.project.owner,
        "POLYAXON_RUN_ARTIFACTS_PATH": str(artifacts),
        "POLYAXON_RUN_OUTPUTS_PATH": str(artifacts / "outputs"),
        "POLYAXON_CONTEXT_PATH": context_path,
    }
    # how often the SDK samples the run's resources: the platform's setting reaches every
    # run, isolated ones included
    interval = os.environ.get("POLYAXON_RESOURCES_INTERVAL")
    if interval is not None:
        context["POLYAXON_RESOURCES_INTERVAL"] = interval
    api = run_api_env(run, issue=token)
    if api:
        return {**api, **context}
    from polyaxon_core.events import LISTENERS_VARIABLE, listened_events

    return {
        **context,
        "POLYAXON_HOME": str(settings.home),
        "POLYAXON_DB_URL": settings.db_url,
        "POLYAXON_STORE": settings.store,
        # the run writes to the database itself: which events a plugin hears, so that it
        # need not load them all to know
        LISTENERS_VARIABLE: listened_events(),
    }


class Orchestrator:
    """Drives every run of one database through its life."""

    def __init__(
        self,
        settings: Settings,
        scheduler: Scheduler | None = None,
        store: ArtifactStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from polyaxon_core.plugins import create

        self.settings = settings
        self.clock = clock
        #: which replica this is, in the timeline of the runs it schedules
        self.replica = f"{socket.gethostname()}:{os.getpid()}"
        self.scheduler: Scheduler = scheduler or create("scheduler", settings.scheduler, settings)
        self.store: ArtifactStore = store or create("store", settings.store, settings)
        self.sweeps = SweepController(settings)
        self.dags = DagController(settings, self.store)
        self.schedules = ScheduleController(settings, clock)
        self.ci = CIController(settings, clock)
        self.builds = BuildController(settings, lambda name: create("builder", name, settings))
        self.culling = CullingController(
            settings, type(self.scheduler).run_globals(settings),
            lambda uuid: self.store.local_path(uuid) or settings.runs_path / uuid / "artifacts")
        #: when the controllers that act on time run next (see :meth:`tick`)
        self._timed_due = 0.0

    # ------------------------------------------------------------------------------ tick
    def tick(self) -> None:
        """One pass over everything: reconciliation, culling, CI, schedules, DAGs, sweeps,
        scheduling, in this order so that a run which just ended is seen by its DAG or sweep, and the runs
        they queue in its place are launched, in the same pass.

        Culling, CI and schedules act on time (an idle service, a branch's interval, a
        firing): they run at most once a poll interval, not in every pass a wake-up
        starts (a busy DAG or sweep wakes the orchestrator each time a run ends). So do
        the looks for what no wake-up announces: runs left claimed by an orchestrator
        that died, and images being built (see :meth:`schedule`).

        The DAGs and the sweeps to drive are one read (:meth:`_controlled`); their
        controllers say what they queued, so that scheduling reads whether a run waits
        only when they queued nothing."""
        with orchestrator_pass():  # it acts on what it commits: it wakes nobody
            self.reconcile()
            now = time.monotonic()
            timed = now >= self._timed_due
            if timed:
                self._timed_due = now + self.settings.poll_interval
                self.culling.control_all()
                self.ci.control_all(self.settings.db_url)
                self.schedules.control_all(self.settings.db_url)
            controlled = self._controlled()
            queued = self.dags.control_all(self.settings.db_url, controlled.get("dag", []))
            sweeps = controlled.get("matrix", [])
            if "matrix" in queued:  # a DAG's sweep, queued now: its first trials in this pass
                sweeps = self._controlled().get("matrix", [])
            created = self.sweeps.control_all(self.settings.db_url, sweeps)
            claimable = created or bool(queued - set(CONTROLLED_KINDS))
            # what the controllers queued waits: no need to read whether a run does
            self.schedule(recover=timed, waiting=True if claimable else None)

    def _controlled(self) -> dict[str, list[int]]:
        """The DAGs and sweeps to drive, ids by kind, in one read."""
        controlled: dict[str, list[int]] = {}
        with reading(self.settings.db_url) as session:
            for run_id, kind in session.execute(_controlled()):
                controlled.setdefault(kind, []).append(run_id)
        return controlled

    def has_unfinished_runs(self) -> bool:
        """Whether anything still needs this orchestrator: an unfinished run, or a project
        whose CI it polls."""
        with reading(self.settings.db_url) as session:
            if session.scalar(select(Run.id).where(Run.status.not_in(_FINAL)).limit(1)) is not None:
                return True
            linked = select(ProjectCI.id).where(ProjectCI.enabled.is_(True)).limit(1)
            return session.scalar(linked) is not None

    def run_forever(
        self,
        should_stop: Callable[[], bool],
        idle_exit: float | None = None,
        report_error: Callable[[str | None], None] | None = None,
    ) -> None:
        """Tick until ``should_stop()``; with ``idle_exit``, also once idle that long.

        Between ticks it waits a poll interval, or less when woken (see
        :mod:`polyaxon_core.wakeup`). A tick that fails on storage it cannot write (a full
        disk, a read-only database) is reported through ``report_error`` in one line,
        so that the commands waiting on runs can say why nothing moves; the next tick
        that succeeds reports None. The notifications runs owe are delivered meanwhile, on
        threads of their own (:class:`polyaxon_core.domain.notifications.Dispatcher`).
        The scheduler gets ready first (:meth:`~polyaxon_core.interfaces.Scheduler.prepare`).
        """
        try:
            self.scheduler.prepare()
        except Exception as exc:  # not fatal: what it prepares is made when a run needs it
            logger.warning("the %s scheduler could not get ready ahead of its runs: %s",
                           self.scheduler.name, exc)
        notifications = Dispatcher(self.settings)
        notifications.start()
        try:
            self._loop(should_stop, idle_exit, report_error, notifications)
        finally:
            notifications.stop()

    def _loop(self, should_stop: Callable[[], bool], idle_exit: float | None,
              report_error: Callable[[str | None], None] | None, notifications: Dispatcher) -> None:
        from polyaxon_core.storage_errors import describe_storage_error

        idle_since: float | None = None
        reported: str | None = None
        frozen = False
        # woken through the home's named pipe, and on PostgreSQL by the notifications of
        # every process of the deployment, on whatever machine (polyaxon_core.wakeup)
        with WakeupChannel(wakeup_path(self.settings), self.settings.db_url) as wakeup:
            while not should_stop():
                problem: str | None = None
                try:
                    self.tick()
                except Exception as exc:
                    # a tick that failed half-way has committed only whole steps: log, go on
                    failure = describe_storage_error(exc, self.settings)
                    problem = failure.message if failure is not None else None
                    if problem is None and is_disconnect(exc):
                        # the server restarted or ended the connection: the pool opens a
                        # new one on the next pass
                        logger.warning("lost the database connection (%s); reconnecting",
                                       str(getattr(exc, "orig", exc)).strip().splitlines()[0])
                    elif problem is None:
                        logger.exception("orchestrator tick failed; retrying")
                    elif problem != reported:
                        logger.error("orchestrator tick failed: %s; retrying", problem)
                if report_error is not None and problem != reported:
                    report_error(problem)
                reported = problem
                if not frozen:  # what the first pass loaded is kept for the process's life
                    freeze_long_lived()
                    frozen = True
                if idle_exit is not None:
                    # notifications still owed keep it going too
                    if self.has_unfinished_runs() or notifications.has_pending():
                        idle_since = None
                    else:
                        idle_since = idle_since or self.clock()
                        if self.clock() - idle_since >= idle_exit:
                            return
                wakeup.wait(self.settings.poll_interval)

    # -------------------------------------------------------------------------- schedule
    def schedule(self, recover: bool = True, waiting: bool | None = None) -> None:
        """Move queued runs to the scheduler: by queue priority, then age, within each
        queue's concurrency and the machine-wide ``max_concurrency``.

        ``waiting``: whether a run waits, when the pass knows (None: it is read here).
        With ``recover``, also launch the runs claimed but not started: those of an
        orchestrator that died in between, and those waiting for their image (whose
        builds are polled first) or for their scheduler to answer."""
        if waiting is None:
            with reading(self.settings.db_url) as session:
                waiting = session.scalar(_claiming().waiting) is not None
        to_launch: list[int] = []
        if waiting:  # else nothing is counted and no lock taken (SQLite's is the writers')
            with session_scope(self.settings.db_url) as session:
                claimed = self._claim_queued(session)
                if type(self.scheduler).launches_on_workers:
                    # its workers read the claim back: they get the runs once it is committed
                    to_launch = [run.id for run in claimed]
                else:
                    to_launch = self._submit_claimed(session, claimed)
        orphans: list[int] = []
        if recover:
            with session_scope(self.settings.db_url) as session:
                orphans = list(session.scalars(_claiming().orphans).all())
                self.builds.poll_all(session)
        for run_id in dict.fromkeys([*to_launch, *orphans]):
            self._launch(run_id)

    def _submit_claimed(self, session: Session, claimed: list[Run]) -> list[int]:
        """Hand the runs just ``claimed`` to the scheduler in the transaction that claimed
        them (one commit records both moves); the ids of those that must wait for a pass
        of their own (a trial that first gets a copy of the artifacts it continues).

        A crash between the hand-over and the commit leaves the run queued, at the
        attempt it had: claimed again, it is submitted again at that attempt, which the
        scheduler finds already started (as after a crash between a launch and its
        commit). On PostgreSQL the claiming section is held meanwhile: another replica
        claims nothing until the commit, as during the claim itself."""
        later: list[int] = []
        for run in claimed:
            if _resumes_artifacts(run):
                later.append(run.id)
            else:
                self._submit(session, run)
        return later

    def _claim_queued(self, session: Session) -> list[Run]:
        """Move the queued runs that may start now to ``scheduled``; those runs.

        The counts of what runs are read and the claims are made in one critical section
        (:func:`~polyaxon_core.db.claims.critical_section`), so two orchestrator replicas
        can never both fill a queue's last slot; a replica that finds the section taken
        claims nothing on this pass."""
        statements = _claiming()
        if not critical_section(session, "claim-queued"):
            return []
        queues = {queue.name: queue for queue in session.scalars(statements.queues)}
        if DEFAULT_QUEUE not in queues:
            queues[DEFAULT_QUEUE] = ensure_queue(session, DEFAULT_QUEUE, self.settings.default_concurrency)
        busy = Counter(session.scalars(statements.running).all())
        candidates = session.scalars(statements.queued).all()
        claimed: list[Run] = []
        # queues share the machine-wide limit; higher-priority queues get its slots first
        free = self.settings.max_concurrency - sum(busy.values())
        # read when a candidate needs them: only an agent's queue names one (``agent/queue``),
        # and the quotas matter to a run that fits its queue
        agents = (agent_names(session) if any(agent_of_queue(run.queue) for run in candidates)
                  else set())
        quotas: QuotaGate | None = None
        for run in candidates:
            if free <= 0:
                break
            if agent_of_queue(run.queue) in agents:
                continue  # an agent's: it claims it
            queue_name = run.queue or DEFAULT_QUEUE
            queue = queues.get(queue_name) or ensure_queue(
                session, queue_name, self.settings.default_concurrency
            )
            queues[queue_name] = queue
            if busy[queue_name] >= queue.concurrency:
                continue
            quotas = quotas or QuotaGate(session)
            held = quotas.refusal(run)
            if held is not None:  # waits, saying why; the runs after it may fit
                note(session, run, held.reason, held.message)
                continue
            attempts = int((run.meta_info or {}).get("attempts", 0)) + 1
            claim: dict[str, Any] = {"meta_info": {**(run.meta_info or {}), "attempts": attempts},
                                     "scheduler": self.scheduler.name, "scheduler_handle": {}}
            if attempts > 1:
                # the run's last metric values are those of the attempt in progress
                claim["last_metrics"] = {}
            if transition(session, run, Status.SCHEDULED, reason="scheduled",
                          message=f"queue {queue_name}, attempt {attempts}, by orchestrator {self.replica}",
                          changes=claim):
                busy[queue_name] += 1
                free -= 1
                quotas.admit(run)
                claimed.append(run)
        return claimed

    def _launch(self, run_id: int) -> None:
        with session_scope(self.settings.db_url) as session:
            # locked while it is submitted: another replica that finds it scheduled (an
            # orphan to it) skips it, then sees it started
            run = session.scalar(_claim_run("id"), {"key": run_id})
            if run is None or run.status != Status.SCHEDULED.value:
                return
            if not _resumes_artifacts(run):
                self._submit(session, run)
                return
        # a trial that continues another gets a copy of its artifacts first, outside any
        # transaction; then it is launched as any other
        try:
            self._copy_resumed_artifacts(run_id)
        except Exception as exc:  # an unreadable checkpoint fails the trial, not the loop
            if is_disconnect(exc):
                raise
            with session_scope(self.settings.db_url) as session:
                run = session.get(Run, run_id)
                if run is not None and run.status == Status.SCHEDULED.value:
                    logger.info("run %s could not get the artifacts it resumes: %s", run.uuid, exc)
                    transition(session, run, Status.FAILED, reason="launch failed",
                               message=f"could not copy the artifacts of the run it resumes: {exc}")
            return
        self._launch(run_id)

    def _submit(self, session: Session, run: Run) -> None:
        """Hand the claimed ``run`` to the scheduler and mark it ``starting``."""
        try:
            ready, built = self._built_image(session, run)
            if not ready:
                return
            launch = self.launch_request(run, built)
            handle = self.scheduler.submit(launch)
        except (SchedulerUnavailable, BuildUnavailable) as exc:  # again on the next pass
            logger.warning("run %s waits for its scheduler or builder: %s", run.uuid, exc)
            return
        except BuildFailed as exc:
            logger.info("run %s: its image could not be built: %s", run.uuid, exc)
            transition(session, run, Status.FAILED, reason="build failed", message=str(exc))
            return
        except Exception as exc:  # a bad template or command fails the run, not the loop
            if is_disconnect(exc):  # the database's fault, not the run's: again next pass
                raise
            logger.info("run %s could not be launched: %s", run.uuid, exc)
            transition(session, run, Status.FAILED, reason="launch failed",
                       message=str(exc))
            return
        started: dict[str, Any] = {"scheduler_handle": dict(handle)}
        if launch.service_urls:  # what the API and the CLI show of where it is reached
            started["meta_info"] = {**(run.meta_info or {}), "service": {
                "base_urls": list(launch.service_urls),
                "ports": declared_ports(launch.run_section)}}
        if not transition(session, run, Status.STARTING, reason="starting", changes=started):
            # stopped while it was being submitted: what was started must not stay
            self.scheduler.stop(run_to_entity(run), handle, force=True)
            self.scheduler.cleanup(run_to_entity(run), handle)

    def _built_image(self, session: Session, run: Run) -> tuple[bool, BuiltImage | None]:
        """Whether ``run`` can start, and the image its ``build`` made (None: it has no
        ``build``). Starts the build, or waits for it, on the way (``pending: build``)."""
        if not load_spec(run).build:
            return True, None
        artifacts = _artifacts(self.settings, self.store, run)
        request, builder = plan_run_build(self.settings, run, artifacts,
                                          type(self.scheduler).run_globals(self.settings))
        built = self.builds.image_for(session, run, request, builder)
        if built is None:
            return False, None
        meta_info = dict(run.meta_info or {})
        run.meta_info = {**meta_info, "build": {**meta_info.get("build", {}), "image": built.image}}
        return True, built

    def _copy_resumed_artifacts(self, run_id: int) -> None:
        """Give a trial that continues another one (its optimizer's ``resume_from``) a copy
        of that run's artifacts, checkpoints included, before it first starts.

        The copy is done outside any transaction (it may be large), then recorded on the
        run (``meta_info.resumed_artifacts_of``), so a retry or an orchestrator restarted
        after that never copies over what the trial wrote since. A crash between the two
        only repeats the copy of files the trial has not started using yet.
        """
        with session_scope(self.settings.db_url) as session:
            run = session.get(Run, run_id)
            if run is None or run.status != Status.SCHEDULED.value:
                return
            if not _resumes_artifacts(run):
                return
            source = run.meta_info["matrix"]["resume_from"]
            # meta_info can be changed through the API: only a trial of the same sweep
            # may be continued, never a run of another sweep or project
            sibling = session.scalar(select(Run.id).where(
                Run.uuid == str(source), Run.pipeline_id == run.pipeline_id,
                Run.pipeline_id.is_not(None)))
            if sibling is None:
                raise ValueError(f"{source} is not a trial of the same sweep")
            target = run.uuid
        copied = copy_run_artifacts(self.store, source, target)
        with session_scope(self.settings.db_url) as session:
            run = session.get(Run, run_id)
            if run is not None:
                run.meta_info = {**(run.meta_info or {}), "resumed_artifacts_of": source}
        logger.info("run %s starts with %d artifact(s) of run %s", target, copied, source)

    def launch_request(self, run: Run, built: BuiltImage | None = None) -> LaunchRequest:
        """What the scheduler gets to start ``run`` (with the image its build made), once
        the run's folders exist. A scheduler that launches on workers gets it to check the
        run, and the worker that takes the run builds it again and makes the folders, on
        its own machine: none is made here."""
        if type(self.scheduler).launches_on_workers:
            return plan_launch(self.settings, self.store, self.scheduler, run, built)
        return prepare_launch(self.settings, self.store, self.scheduler, run, built)

    # ------------------------------------------------------------------------- reconcile
    def reconcile(self) -> None:
        """Ask the scheduler about every launched run and apply what changed."""
        now = utcnow()
        with reading(self.settings.db_url) as session:
            rows = session.scalars(_active_runs()).all()
            overdue = [run.id for run in rows if _overdue(run, now)]
            watched = {run.id: self._active(run) for run in rows if self._watches(run)}
        if overdue:  # stopped now, and asked to stop in this pass
            watched.update(self._enforce_timeouts(overdue, now))
        active = list(watched.values())
        if not active:
            return
        try:
            updates = self.scheduler.sync(active)
        except SchedulerUnavailable as exc:  # the runs keep their statuses until it answers
            logger.warning("the scheduler cannot report on its runs now: %s", exc)
            return
        handles = {item.run.uuid: item for item in active}
        for update in updates:
            item = handles[update.run_uuid]
            with session_scope(self.settings.db_url) as session:
                run = session.scalar(_claim_run("uuid"), {"key": update.run_uuid})
                # what was observed applies to the state it was observed in: not when
                # another replica (or a user's stop, or a retry) moved the run meanwhile
                if (run is None or run.status != item.run.status
                        or dict(run.scheduler_handle or {}) != dict(item.handle)):
                    continue
                self._apply(session, run, update)
                if run.status in _FINAL:
                    self.scheduler.cleanup(item.run, item.handle)

    def _watches(self, run: Run) -> bool:
        """Whether ``run`` was handed to this orchestrator's scheduler."""
        return bool(run.scheduler_handle) and run.scheduler in (None, self.scheduler.name)

    @staticmethod
    def _active(run: Run) -> ActiveRun:
        return ActiveRun(run_to_entity(run), dict(run.scheduler_handle),
                         run.stop_requested_at.timestamp() if run.stop_requested_at else None)

    def _enforce_timeouts(self, overdue: list[int], now: datetime) -> dict[int, ActiveRun]:
        """Stop the runs ``overdue`` (ids) that are still past their
        ``termination.timeout``; what the scheduler is to watch of them now."""
        stopped: dict[int, ActiveRun] = {}
        with session_scope(self.settings.db_url) as session:
            for run_id in overdue:
                run = session.scalar(_claim_run("id"), {"key": run_id})
                if run is None or not _overdue(run, now):  # another replica's, or moved
                    continue
                run.stop_requested_at = now
                run.meta_info = {**(run.meta_info or {}), "timed_out": True}
                transition(session, run, Status.STOPPING, reason="timeout",
                           message=f"termination.timeout of {_timeout(run):g}s exceeded")
                if self._watches(run):
                    stopped[run.id] = self._active(run)
        return stopped

    def _apply(self, session: Session, run: Run, update: StatusUpdate) -> None:
        apply_update(session, run, update, retries_itself=self.scheduler.retries_itself)


def apply_update(session: Session, run: Run, update: StatusUpdate, *, retries_itself: bool) -> None:
    """Apply what a scheduler observed about ``run`` (``retries_itself``: whether it
    retries failed attempts on its own, so the orchestrator must not): the one way a
    launched run's status changes, for the orchestrator and for an agent's reports."""
    status = Status(update.status)
    if status in {Status.STARTING, Status.RUNNING}:
        if run.status == Status.SCHEDULED.value and status == Status.RUNNING:
            transition(session, run, Status.STARTING, reason="starting")
        transition(session, run, status, reason=update.reason or status.value)
        return
    if status == Status.STOPPING:
        return
    ran = update.exit_code is not None and update.reason not in {"launch error", "storage error"}
    if ran and run.status in {Status.SCHEDULED.value, Status.STARTING.value}:
        # its process ran and exited between two looks: it was running, so its timeline
        # and its start time (hence its duration) say so
        if run.status == Status.SCHEDULED.value:
            transition(session, run, Status.STARTING, reason="starting")
        transition(session, run, Status.RUNNING, reason="running")
    if status in {Status.STOPPED, Status.FAILED} and (run.meta_info or {}).get("timed_out"):
        transition(session, run, Status.FAILED, reason="timeout",
                   message=f"stopped after exceeding termination.timeout ({_timeout(run):g}s)")
        return
    message = update.message
    if status == Status.FAILED and update.reason == "exit code":
        message = _with_uncaught_exception(run, message)
    retried_here = not retries_itself
    if (status == Status.FAILED and run.status != Status.STOPPING.value and retried_here
            and _retry(session, run, replace(update, message=message))):
        return
    transition(session, run, status, reason=update.reason or status.value, message=message)


def _retry(session: Session, run: Run, update: StatusUpdate) -> bool:
    spec = load_spec(run)
    max_retries = spec.termination.max_retries if spec.termination else None
    if not max_retries or run.retries >= max_retries:
        return False
    run.retries += 1
    detail = f"{update.message or update.reason}; retry {run.retries} of {max_retries}"
    if not transition(session, run, Status.RETRYING, reason="retrying", message=detail):
        return False
    run.scheduler_handle = {}
    transition(session, run, Status.QUEUED, reason="queued", message="retry")
    return True


def _resumes_artifacts(run: Run) -> bool:
    """Whether ``run`` continues another trial (its optimizer's ``resume_from``) whose
    artifacts it has not been given a copy of yet."""
    meta_info = run.meta_info or {}
    source = (meta_info.get("matrix") or {}).get("resume_from")
    return bool(source) and meta_info.get("resumed_artifacts_of") != source


def _overdue(run: Run, now: datetime) -> bool:
    """Whether ``run`` has run past its ``termination.timeout`` and was not asked to stop."""
    if run.started_at is None or run.stop_requested_at is not None:
        return False
    timeout = _timeout(run)
    return timeout is not None and (now - run.started_at).total_seconds() > timeout


def _timeout(run: Run) -> float | None:
    """The run's ``termination.timeout``: every tick asks it of every running run (its spec
    is parsed once, see :func:`~polyaxon_core.domain.commands.load_spec`)."""
    if not run.content:
        return None
    termination = load_spec(run).termination
    return float(termination.timeout) if termination and termination.timeout else None


def _with_uncaught_exception(run: Run, message: str | None) -> str | None:
    """The failure message of a process that exited non-zero, led by the exception the
    tracking SDK recorded for this attempt of the run (``meta_info.meta.error``)."""
    error = ((run.meta_info or {}).get("meta") or {}).get("error")
    if not isinstance(error, dict) or error.get("attempt") != current_attempt(run):
        return message
    return f"{error.get('message')} ({message})" if message else str(error.get("message"))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def fail_waiting_runs(db_url: str, message: str) -> list[str]:
    """Mark every queued run ``failed`` (reason ``orchestrator error``) with ``message``:
    for when the orchestrator that would start them cannot. Returns their uuids."""
    failed: list[str] = []
    with session_scope(db_url) as session:
        for run in session.scalars(select(Run).where(Run.status == Status.QUEUED.value)).all():
            if transition(session, run, Status.FAILED, reason="orchestrator error", message=message):
                failed.append(run.uuid)
    return failed


def template_globals(settings: Settings, run: Run, artifacts: Path,
                     run_globals: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``globals.*`` of ``run``'s templates (its artifacts in ``artifacts``);
    ``run_globals``: those the scheduler gives differently (a pod's paths, the ports a
    service listens on there)."""
    run_path = settings.runs_path / run.uuid
    context_path = str((run.meta_info or {}).get("context_path") or run_path)
    project = run.project
    values = {
        "owner_name": project.owner,
        "project_name": project.name,
        "project_unique_name": f"{project.owner}.{project.name}",
        "project_uuid": project.uuid,
        "uuid": run.uuid,
        "name": run.name,
        "run_info": f"{project.owner}.{project.name}.runs.{run.uuid}",
        "context_path": context_path,
        "artifacts_path": str(settings.artifacts_path),
        "run_artifacts_path": str(artifacts),
        "run_outputs_path": str(artifacts / "outputs"),
        "store_path": str(settings.artifacts_path),
        "namespace": "local",
        "iteration": run.matrix_index,
        "created_at": _iso(run.created_at),
        "compiled_at": _iso(run.created_at),
        "started_at": _iso(run.started_at),
        # a schedule's firing: the moment it was due
        "schedule_at": ((run.meta_info or {}).get("schedule") or {}).get("at"),
        "cloning_kind": run.cloning_kind,
        "original_uuid": run.original.uuid if run.original is not None else None,
        "is_independent": run.pipeline_id is None,
        # where a service listens: this machine's loopback (the server's proxy is the
        # way in); a scheduler of pods gives every address of the pod
        "bind_address": "127.0.0.1",
        **(run_globals or {}),
    }
    if run.kind == "service":  # read for services only: every launch builds these globals
        values.update(service_globals(values["namespace"], project.owner, project.name, run.uuid,
                                      load_spec(run).run, (run_globals or {}).get("ports")))
    return values


def prepare_launch(settings: Settings, store: ArtifactStore, scheduler: Scheduler, run: Run,
                   built: BuiltImage | None = None) -> LaunchRequest:
    """The launch request ``scheduler`` gets to start ``run`` on this machine (with the
    image its build made, and a token of its own: see :func:`build_launch`), once the
    run's folders exist here: the orchestrator's, or a worker's that executes the runs it
    is handed."""
    run_path = settings.runs_path / run.uuid
    # a run's folder, and the folder of them all, are its owner's only
    settings.runs_path.mkdir(mode=0o700, parents=True, exist_ok=True)
    run_path.mkdir(mode=0o700, exist_ok=True)
    artifacts = _artifacts(settings, store, run)
    (artifacts / "outputs").mkdir(parents=True, exist_ok=True)
    return _launch_at(settings, scheduler, run, artifacts, built, token=True)


def plan_launch(settings: Settings, store: ArtifactStore, scheduler: Scheduler, run: Run,
                built: BuiltImage | None = None) -> LaunchRequest:
    """The launch request :func:`prepare_launch` makes, without making the run's folders
    nor issuing it a token: what checks a run that a worker launches, building its launch
    again where it runs."""
    return _launch_at(settings, scheduler, run, _artifacts(settings, store, run), built, token=False)


def _launch_at(settings: Settings, scheduler: Scheduler, run: Run, artifacts: Path,
               built: BuiltImage | None, token: bool) -> LaunchRequest:
    """The launch request of ``run`` with its artifacts in ``artifacts``, with the
    ``globals.*`` ``scheduler`` gives."""
    run_globals = type(scheduler).run_globals(settings)
    if run.kind == "service":  # where this scheduler lets it listen
        run_globals = {**run_globals,
                       "ports": scheduler.service_ports(declared_ports(load_spec(run).run))}
    return build_launch(settings, run, artifacts, run_globals, built, token=token)


def _artifacts(settings: Settings, store: ArtifactStore, run: Run) -> Path:
    """Where ``run``'s artifacts are on this machine."""
    return store.local_path(run.uuid) or settings.runs_path / run.uuid / "artifacts"


def build_launch(settings: Settings, run: Run, artifacts: Path,
                 run_globals: Mapping[str, Any] | None = None,
                 built: BuiltImage | None = None, token: bool = True) -> LaunchRequest:
    """The launch request of ``run`` (its artifacts in ``artifacts``), from the database
    alone: nothing is written, so ``polyaxon run --dry-run`` shows the same request.
    ``run_globals``: the ``globals.*`` the scheduler gives differently (a pod's paths);
    ``built``: the image its ``build`` made, for the containers that name none or name
    the build's destination; without ``token``, the run's API token is not issued (see
    :attr:`~polyaxon_core.interfaces.Scheduler.launches_on_workers`)."""
    spec = load_spec(run)
    run_path = settings.runs_path / run.uuid
    context_path = str((run.meta_info or {}).get("context_path") or run_path)
    globals_context = template_globals(settings, run, artifacts, run_globals)
    container = (spec.render_container(dict(run.inputs or {}), globals_context)
                 if "container" in spec.run else ContainerSpec(image=None))
    if built is not None and built.replaces(container.image):
        container = replace(container, image=built.image)
    termination = spec.termination
    env = run_context_env(settings, run, artifacts, context_path, token=token)
    names = spec.render_connections(dict(run.inputs or {}), globals_context)
    init = spec.render_init(dict(run.inputs or {}), globals_context)

    @functools.cache
    def catalog() -> Any:  # read only when the run names a connection
        return _catalog(settings)

    connections = tuple(catalog().get(name) for name in names)
    steps: tuple[InitStep, ...] = ()
    if init:
        from polyaxon_core.orchestrator import initializers

        session = object_session(run)
        assert session is not None
        steps = initializers.plan(init, run_path, artifacts, lambda name: catalog().get(name),
                                  _project_runs(session, run), _runs_of(session, run))
    return LaunchRequest(
        run=run_to_entity(run),
        container=container,
        env=env,
        isolated="POLYAXON_AUTH_TOKEN" in env,
        run_path=str(run_path),
        context_path=context_path,
        timeout=float(termination.timeout) if termination and termination.timeout else None,
        connections=connections,
        init=steps,
        run_section=spec.render_run(dict(run.inputs or {}), globals_context),
        ports=tuple(globals_context["ports"]) if spec.run_kind == "service" else (),
        service_urls=tuple(globals_context["base_urls"]) if spec.run_kind == "service" else (),
        termination={key: int(value) for key, value in (
            ("max_retries", termination.max_retries if termination else None),
            ("timeout", termination.timeout if termination else None),
            ("ttl", termination.ttl if termination else None)) if value is not None},
    )


def plan_run_build(settings: Settings, run: Run, artifacts: Path,
                   run_globals: Mapping[str, Any] | None = None) -> tuple[BuildRequest, str]:
    """The build ``run``'s ``build`` section asks for, its templates rendered as the run's
    are, and the name of its builder."""
    build = load_spec(run).render_build(dict(run.inputs or {}), template_globals(
        settings, run, artifacts, run_globals))
    session = object_session(run)
    assert session is not None
    request = plan_build(settings, run, build, _catalog(settings).get, _project_runs(session, run))
    return request, builder_name(build)


def _not_an_agents() -> Any:
    """The runs this machine's scheduler starts: not those of an agent, which count on
    the agent's cluster, not here."""
    return or_(Run.scheduler.is_(None), Run.scheduler.not_like(f"{AGENT_SCHEDULER}%"))


def _catalog(settings: Settings) -> Any:
    from polyaxon_core.connections import load_catalog

    return load_catalog(settings.home)


def _runs_of(session: Session, run: Run) -> Callable[[str], list[tuple[str, str | None]]]:
    """The runs a uuid of ``run``'s project stands for, with their names: a sweep's or a
    DAG's runs (theirs too, a level deeper), else the run itself; none for a uuid of
    another project."""

    def runs_of(uuid: str) -> list[tuple[str, str | None]]:
        found = session.scalar(select(Run).where(Run.uuid == uuid, Run.project_id == run.project_id))
        if found is None:
            return []
        if found.kind not in CONTROLLED_KINDS:
            return [(found.uuid, found.name)]
        children = session.scalars(select(Run).where(Run.pipeline_id == found.id).order_by(Run.id)).all()
        return [pair for child in children for pair in runs_of(child.uuid)]

    return runs_of


def _project_runs(session: Session, run: Run) -> Callable[[str], bool]:
    """Whether a uuid is a run of ``run``'s project (what its initializers may copy)."""
    return lambda uuid: session.scalar(select(Run.id).where(
        Run.uuid == uuid, Run.project_id == run.project_id)) is not None
