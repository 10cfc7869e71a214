"""Agents: processes next to a cluster that start the runs of their queues there.

A run whose queue is ``<agent>/<queue>`` (Polyaxon's naming: ``agent-1/gpu``) belongs to
the registered agent ``<agent>``: the server's own orchestrator leaves it queued, and the
agent (``polyaxon agent``) claims it through the API, starts it with its scheduler in its
namespace and reports what the scheduler observes. The server stays the single writer of
run state: an agent only *reports*, and its reports go through the same
:func:`~polyaxon_core.orchestrator.loop.apply_update` as the orchestrator's observations.

What crosses the wire is the launch request the server builds, as the orchestrator builds
it (the run's own token in its environment, the catalog's connections without any secret
value: the cluster's secrets are referenced by name). An agent's token acts as that agent
only: it claims and reports on that agent's runs, and nothing else.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from polyaxon_core.accounts import issue_token
from polyaxon_core.config import Settings
from polyaxon_core.db.convert import run_to_entity
from polyaxon_core.db.models import Agent, Queue, Run, User, utcnow
from polyaxon_core.domain.commands import load_spec
from polyaxon_core.domain.queues import ensure_queue
from polyaxon_core.domain.state import transition
from polyaxon_core.entities import (
    ConnectionEntity,
    ContainerSpec,
    InitStep,
    LaunchRequest,
    ResourceReference,
    RunEntity,
    StatusUpdate,
)
from polyaxon_core.errors import Conflict, InvalidRequest, NotFound
from polyaxon_core.lifecycle import ACTIVE_STATUSES, Status, is_final
from polyaxon_core.wakeup import wake_after_commit

#: what a run's ``scheduler`` column holds for the runs of an agent
SCHEDULER_PREFIX = "agent/"
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def agent_of_queue(queue: str | None) -> str | None:
    """The agent a queue name designates (``agent-1/gpu`` -> ``agent-1``), if any."""
    return queue.split("/", 1)[0] if queue and "/" in queue else None


def scheduler_of(agent: str) -> str:
    return SCHEDULER_PREFIX + agent


def create_agent(session: Session, name: str, namespace: str, user: User | None,
                 description: str | None = None) -> tuple[Agent, str | None]:
    """Register the agent ``name`` for ``namespace``; returns it and its token's key
    (shown once; issued for ``user``, acting as the agent only, without expiry; none on
    a server without authentication, where ``user`` is None)."""
    for what, value in (("agent name", name), ("namespace", namespace)):
        if not _NAME.match(value):
            raise InvalidRequest(f"{what} {value!r} is not valid: use lowercase letters, digits "
                                 "and '-', starting and ending with a letter or digit (at most 63)")
    if session.scalar(select(Agent.id).where(Agent.name == name)) is not None:
        raise Conflict(f"an agent is already called {name!r}; choose another name")
    agent = Agent(name=name, namespace=namespace, description=description)
    session.add(agent)
    session.flush()
    if user is None:
        return agent, None
    _, key = issue_token(session, user, name=f"agent {name}", expires_in=None, agent_id=agent.id)
    return agent, key


def delete_agent(session: Session, agent: Agent) -> None:
    """Forget ``agent`` and revoke its tokens; refused while a run of it is unfinished."""
    unfinished = session.scalar(select(Run.id).where(
        Run.scheduler == scheduler_of(agent.name),
        Run.status.in_([status.value for status in ACTIVE_STATUSES])).limit(1))
    if unfinished is not None:
        raise Conflict(f"agent {agent.name} still has unfinished runs; stop them or wait for "
                       "them to end, then delete it")
    session.delete(agent)


def get_agent(session: Session, name: str) -> Agent:
    agent = session.scalar(select(Agent).where(Agent.name == name))
    if agent is None:
        raise NotFound(f"no agent is called {name!r}; register it with `polyaxon agent create "
                       f"{name} --namespace NAMESPACE`")
    return agent


#: read by every claiming pass: built once
_AGENT_NAMES = select(Agent.name)


def agent_names(session: Session) -> set[str]:
    return set(session.scalars(_AGENT_NAMES).all())


def agent_document(session: Session, agent: Agent) -> dict[str, Any]:
    scheduler = scheduler_of(agent.name)
    running = session.scalars(select(Run.id).where(
        Run.scheduler == scheduler, Run.status.in_([s.value for s in ACTIVE_STATUSES]))).all()
    waiting = session.scalars(select(Run.id).where(
        Run.queue.like(f"{agent.name}/%"), Run.status == Status.QUEUED.value)).all()
    return {"name": agent.name, "namespace": agent.namespace, "description": agent.description,
            "created_at": agent.created_at, "last_seen_at": agent.last_seen_at,
            "running": len(running), "waiting": len(waiting)}


# -- claiming ------------------------------------------------------------------------


def claim(session: Session, settings: Settings, agent: Agent, limit: int,
          run_globals: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Up to ``limit`` runs of ``agent``'s queues, moved to ``scheduled`` for it (by
    queue priority, then age, within each queue's concurrency), and the runs it claimed
    before and never reported started; each as the launch request its scheduler starts.

    ``run_globals``: the ``globals.*`` its scheduler gives (a pod's paths), with the
    agent's namespace."""
    from polyaxon_core.orchestrator.loop import build_launch

    agent.last_seen_at = utcnow()
    if not os.environ.get("POLYAXON_API_HOST"):
        raise Conflict("the runs of an agent reach the server through its API: set "
                       "POLYAXON_API_HOST for the server (the address the cluster's pods reach "
                       "it at) so that each run gets a token of its own")
    scheduler = scheduler_of(agent.name)
    unsubmitted = [run for run in session.scalars(
        select(Run).options(selectinload(Run.project))
        .where(Run.scheduler == scheduler, Run.status == Status.SCHEDULED.value)).all()
        if not run.scheduler_handle]
    claimed = [*unsubmitted, *_claim_queued(session, agent, max(0, limit - len(unsubmitted)))]
    launches = []
    for run in claimed:
        if load_spec(run).build:
            transition(session, run, Status.FAILED, reason="launch failed", message=(
                "`build` does not act for the runs of an agent yet; build the image beforehand "
                "and name it in the container"))
            continue
        if run.kind == "service":
            transition(session, run, Status.FAILED, reason="launch failed", message=(
                "a service on an agent's cluster cannot be reached through this server's "
                "proxy; run it with the server's own scheduler"))
            continue
        artifacts = settings.runs_path / run.uuid / "artifacts"
        try:
            launch = build_launch(settings, run, artifacts, {**run_globals, "namespace": agent.namespace})
        except Exception as exc:  # a bad template fails the run, as in the orchestrator
            transition(session, run, Status.FAILED, reason="launch failed", message=str(exc))
            continue
        launches.append(launch_document(launch))
    return launches


def _claim_queued(session: Session, agent: Agent, limit: int) -> list[Run]:
    from polyaxon_core.db.claims import claim_rows, critical_section
    from polyaxon_core.domain.quotas import QuotaGate
    from polyaxon_core.domain.state import note

    # the orchestrators' critical section: quotas span the runs of every scheduler
    if limit <= 0 or not critical_section(session, "claim-queued"):
        return []
    active = [status.value for status in ACTIVE_STATUSES]
    busy = Counter(session.scalars(select(Run.queue).where(
        Run.queue.like(f"{agent.name}/%"), Run.status.in_(active))).all())
    queues = {queue.name: queue for queue in session.scalars(
        select(Queue).where(Queue.name.like(f"{agent.name}/%")))}
    candidates = session.scalars(claim_rows(
        select(Run).options(selectinload(Run.project))
        .outerjoin(Queue, Queue.name == Run.queue)
        .where(Run.queue.like(f"{agent.name}/%"), Run.status == Status.QUEUED.value)
        .order_by(Queue.priority.desc().nulls_last(), Run.created_at, Run.id), Run)).all()
    quotas = QuotaGate(session)
    claimed: list[Run] = []
    for run in candidates:
        if len(claimed) >= limit:
            break
        name = str(run.queue)
        queue = queues.get(name) or ensure_queue(session, name, 2)
        queues[name] = queue
        if busy[name] >= queue.concurrency:
            continue
        held = quotas.refusal(run)
        if held is not None:
            note(session, run, held.reason, held.message)
            continue
        attempts = int((run.meta_info or {}).get("attempts", 0)) + 1
        claim: dict[str, Any] = {
            "meta_info": {**(run.meta_info or {}), "attempts": attempts, "agent": agent.name},
            "scheduler": scheduler_of(agent.name), "scheduler_handle": {}}
        if attempts > 1:
            claim["last_metrics"] = {}
        if transition(session, run, Status.SCHEDULED, reason="scheduled",
                      message=f"agent {agent.name}, queue {name}, attempt {attempts}", changes=claim):
            busy[name] += 1
            quotas.admit(run)
            claimed.append(run)
    return claimed


# -- what the agent watches and reports -------------------------------------------------


def active_runs(session: Session, agent: Agent) -> list[dict[str, Any]]:
    """The agent's started runs, with their handles and stop requests: what it syncs."""
    agent.last_seen_at = utcnow()
    rows = session.scalars(
        select(Run).options(selectinload(Run.project))
        .where(Run.scheduler == scheduler_of(agent.name),
               Run.status.in_([status.value for status in ACTIVE_STATUSES]))).all()
    return [{"run": _plain(run_to_entity(run)), "handle": dict(run.scheduler_handle),
             "stop_requested_at": run.stop_requested_at.timestamp() if run.stop_requested_at else None}
            for run in rows if run.scheduler_handle]


def report(session: Session, agent: Agent, uuid: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """Record what ``agent`` did or saw for its run ``uuid``: ``handle`` (it started the
    run: ``starting``, unless the run was stopped meanwhile, then ``accepted`` is false
    and the agent undoes the start) and / or a status observed (applied as the
    orchestrator applies its scheduler's; ``failed`` without a handle: it could not start
    it). Returns the run's ``status`` and ``final``."""
    from polyaxon_core.orchestrator.loop import apply_update

    agent.last_seen_at = utcnow()
    run = session.scalar(select(Run).options(selectinload(Run.project)).where(
        Run.uuid == uuid, Run.scheduler == scheduler_of(agent.name)))
    if run is None:
        raise NotFound(f"run {uuid} is not a run of agent {agent.name}")
    accepted = True
    if body.get("handle") is not None:
        if run.status == Status.SCHEDULED.value and not run.scheduler_handle:
            accepted = transition(session, run, Status.STARTING, reason="starting",
                                  changes={"scheduler_handle": dict(body["handle"])})
        else:
            accepted = False
    if (body.get("status") == Status.FAILED.value and body.get("handle") is None
            and run.status == Status.SCHEDULED.value and not run.scheduler_handle):
        # the agent could not start it (a manifest its cluster refused)
        transition(session, run, Status.FAILED, reason=body.get("reason") or "launch failed",
                   message=body.get("message"))
    elif body.get("status") and accepted and run.scheduler_handle:
        apply_update(session, run, StatusUpdate(
            run_uuid=uuid, status=str(body["status"]), reason=body.get("reason"),
            message=body.get("message"), exit_code=body.get("exit_code")),
            retries_itself=bool(body.get("retries_itself", True)))
    final = is_final(run.status)
    if final or run.status == Status.QUEUED.value:
        # its sweep or DAG goes on, or its retry starts, in the orchestrator's next pass
        wake_after_commit(session)
    return {"uuid": uuid, "status": run.status, "final": final, "accepted": accepted}


# -- the launch request on the wire -----------------------------------------------------


def _plain(value: Any) -> Any:
    """A dataclass as JSON-ready data: times as ISO 8601 text."""
    def convert(item: Any) -> Any:
        if isinstance(item, datetime):
            return item.isoformat()
        if isinstance(item, dict):
            return {key: convert(child) for key, child in item.items()}
        if isinstance(item, list | tuple):
            return [convert(child) for child in item]
        return item

    return convert(dataclasses.asdict(value))


def launch_document(launch: LaunchRequest) -> dict[str, Any]:
    """``launch`` as JSON-ready data (what :func:`launch_from_document` reads back)."""
    return dict(_plain(launch))


def _reference(data: Mapping[str, Any] | None) -> ResourceReference | None:
    if data is None:
        return None
    return ResourceReference(str(data["name"]), tuple(data.get("items") or ()), data.get("mount_path"))


def _connection(data: Mapping[str, Any] | None) -> ConnectionEntity | None:
    if data is None:
        return None
    return ConnectionEntity(
        name=str(data["name"]), kind=str(data["kind"]), schema=dict(data.get("schema") or {}),
        secret=_reference(data.get("secret")), config_map=_reference(data.get("config_map")),
        description=data.get("description"), tags=tuple(data.get("tags") or ()),
        env=dict(data.get("env") or {}), annotations=dict(data.get("annotations") or {}))


def _container(data: Mapping[str, Any] | None) -> ContainerSpec | None:
    if data is None:
        return None
    return ContainerSpec(image=data.get("image"), command=tuple(data.get("command") or ()),
                         args=tuple(data.get("args") or ()), env=dict(data.get("env") or {}),
                         working_dir=data.get("working_dir"), resources=dict(data.get("resources") or {}))


def run_from_document(data: Mapping[str, Any]) -> RunEntity:
    fields = {field.name for field in dataclasses.fields(RunEntity)}
    values = {key: value for key, value in data.items() if key in fields}
    values["tags"] = tuple(values.get("tags") or ())
    for moment in ("created_at", "started_at", "finished_at"):
        if values.get(moment):
            values[moment] = datetime.fromisoformat(str(values[moment]))
    return RunEntity(**values)


def launch_from_document(data: Mapping[str, Any]) -> LaunchRequest:
    """The launch request :func:`launch_document` wrote."""
    container = _container(data["container"])
    assert container is not None
    return LaunchRequest(
        run=run_from_document(data["run"]), container=container, env=dict(data["env"]),
        run_path=str(data["run_path"]), context_path=data.get("context_path"),
        timeout=data.get("timeout"), isolated=bool(data.get("isolated")),
        connections=tuple(c for c in (_connection(item) for item in data.get("connections") or ())
                          if c is not None),
        init=tuple(InitStep(kind=str(step["kind"]), destination=str(step["destination"]),
                            value=dict(step.get("value") or {}),
                            sources=tuple((str(a), str(b)) for a, b in step.get("sources") or ()),
                            connection=_connection(step.get("connection")),
                            container=_container(step.get("container")))
                   for step in data.get("init") or ()),
        run_section=dict(data.get("run_section") or {}),
        ports=tuple(int(port) for port in data.get("ports") or ()),
        service_urls=tuple(str(url) for url in data.get("service_urls") or ()),
        termination={key: int(value) for key, value in (data.get("termination") or {}).items()})
