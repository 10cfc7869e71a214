"""What can be done to projects and runs, shared by the CLI, the API and the orchestrator.

Every status change goes through :func:`transition`, which consults the lifecycle table,
records the condition in the run's timeline, keeps the timestamps right and queues the
events plugins hear about after the commit.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from polyaxon_core.db.convert import run_to_entity
from polyaxon_core.db.models import (
    ApiToken,
    Metric,
    MetricBatch,
    Project,
    Queue,
    Run,
    RunStatusCondition,
    utcnow,
)
from polyaxon_core.errors import AlreadyExists, Conflict, InvalidRequest, NotFound
from polyaxon_core.events import queue_event
from polyaxon_core.lifecycle import Status, can_transition, is_final
from polyaxon_core.wakeup import wake_after_commit

if TYPE_CHECKING:
    from polyaxon_core.config import Settings
    from polyaxon_core.interfaces import ArtifactStore
    from polyaxon_core.spec import OperationSpec

logger = logging.getLogger(__name__)

DEFAULT_OWNER = "default"
DEFAULT_QUEUE = "default"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,149}$")


# ----------------------------------------------------------------------------- projects


def validate_slug(kind: str, name: str) -> str:
    if not _SLUG.match(name):
        raise InvalidRequest(
            f"{kind} name {name!r} is not valid: use lowercase letters, digits, '-', '_' "
            "or '.', starting with a letter or digit (at most 150 characters)"
        )
    return name


def create_project(
    session: Session,
    name: str,
    owner: str = DEFAULT_OWNER,
    description: str | None = None,
    tags: Sequence[str] = (),
) -> Project:
    validate_slug("project", name)
    if session.scalar(select(Project.id).where(Project.owner == owner, Project.name == name)):
        raise AlreadyExists(f"project '{owner}/{name}' already exists")
    project = Project(owner=owner, name=name, description=description, tags=list(tags))
    session.add(project)
    session.flush()
    return project


def get_project(session: Session, name: str, owner: str = DEFAULT_OWNER) -> Project:
    project = session.scalar(select(Project).where(Project.owner == owner, Project.name == name))
    if project is None:
        raise NotFound(
            f"project '{owner}/{name}' does not exist; create it with "
            f"`polyaxon project create {name}` or list them with `polyaxon project ls`"
        )
    return project


def list_projects(session: Session, owner: str = DEFAULT_OWNER) -> list[Project]:
    return list(session.scalars(select(Project).where(Project.owner == owner).order_by(Project.name)))


def update_project(session: Session, project: Project, *, name: str | None = None,
                   description: str | None = None, tags: Sequence[str] | None = None) -> Project:
    """Rename a project or change its description or tags (None: left as it is).

    Runs and their artifacts follow a renamed project: they are tied to its id and uuids.
    """
    if name is not None and name != project.name:
        validate_slug("project", name)
        taken = select(Project.id).where(Project.owner == project.owner, Project.name == name)
        if session.scalar(taken) is not None:
            raise AlreadyExists(f"project '{project.owner}/{name}' already exists")
        project.name = name
    if description is not None:
        project.description = description
    if tags is not None:
        project.tags = list(dict.fromkeys(tags))
    session.flush()
    return project


def count_runs(session: Session, project: Project) -> int:
    return session.scalar(select(func.count(Run.id)).where(Run.project_id == project.id)) or 0


def delete_project(session: Session, project: Project) -> list[str]:
    """Delete a project and its runs; returns the run uuids whose artifacts to remove."""
    active = session.scalars(
        select(Run.uuid).where(Run.project_id == project.id, Run.status.not_in(_inactive()))
    ).all()
    if active:
        raise Conflict(
            f"project '{project.name}' has {len(active)} unfinished run(s) "
            f"({', '.join(uuid[:8] for uuid in active[:5])}); stop them first with "
            "`polyaxon ops stop UUID`"
        )
    uuids = list(session.scalars(select(Run.uuid).where(Run.project_id == project.id)))
    session.delete(project)
    return uuids


def _inactive() -> list[str]:
    return [status.value for status in Status if is_final(status)]


# --------------------------------------------------------------------------------- queues


def ensure_queue(session: Session, name: str, concurrency: int) -> Queue:
    queue = session.scalar(select(Queue).where(Queue.name == name))
    if queue is None:
        queue = Queue(name=name, concurrency=concurrency)
        session.add(queue)
        session.flush()
    return queue


def set_queue(session: Session, name: str, priority: int | None, concurrency: int | None,
              default_concurrency: int) -> Queue:
    """Create the queue ``name`` or change its priority / concurrency."""
    validate_slug("queue", name)
    if concurrency is not None and concurrency < 1:
        raise InvalidRequest(f"queue concurrency must be at least 1, got {concurrency}")
    queue = ensure_queue(session, name, concurrency or default_concurrency)
    if priority is not None:
        queue.priority = priority
    if concurrency is not None:
        queue.concurrency = concurrency
    return queue


def list_queues(session: Session) -> list[Queue]:
    return list(session.scalars(select(Queue).order_by(Queue.priority.desc(), Queue.name)))


def delete_queue(session: Session, name: str) -> None:
    queue = session.scalar(select(Queue).where(Queue.name == name))
    if queue is None:
        raise NotFound(f"no queue named '{name}'; list them with `polyaxon queues ls`")
    waiting = session.scalar(
        select(func.count(Run.id)).where(Run.queue == name, Run.status.not_in(_inactive()))
    )
    if waiting:
        raise Conflict(f"queue '{name}' still has {waiting} unfinished run(s)")
    session.delete(queue)


# ---------------------------------------------------------------------------- transitions


def transition(
    session: Session,
    run: Run,
    status: str | Status,
    reason: str | None = None,
    message: str | None = None,
) -> bool:
    """Move ``run`` to ``status`` if the lifecycle allows it; return whether it moved.

    An illegal transition is logged and not applied: the caller's view of the run was
    stale (another process got there first), and the row stays the single source of truth.
    """
    status = Status(status)
    previous = run.status
    if previous == status:
        return False
    if not can_transition(previous, status):
        logger.warning(
            "refused illegal transition of run %s: %s -> %s (%s)", run.uuid, previous, status,
            reason or "no reason given",
        )
        return False
    now = utcnow()
    run.status = status.value
    if status == Status.RUNNING and run.started_at is None:
        run.started_at = now
        run.wait_time = (now - run.created_at).total_seconds()
    if status == Status.RESUMING:
        run.finished_at = None
        run.duration = None
        run.stop_requested_at = None
    if is_final(status):
        run.finished_at = now
        if run.started_at is not None:
            run.duration = (now - run.started_at).total_seconds()
        # the tokens issued to the run's attempts: nothing may act as the run once it ended
        session.execute(update(ApiToken)
                        .where(ApiToken.run_id == run.id, ApiToken.revoked_at.is_(None))
                        .values(revoked_at=now))
    session.add(
        RunStatusCondition(run=run, status=status.value, reason=reason, message=message,
                           created_at=now)
    )
    session.flush()
    entity = run_to_entity(run)
    queue_event(session, "polyaxon_on_run_status_changed", run=entity, previous=previous,
                status=status.value)
    if is_final(status):
        queue_event(session, "polyaxon_on_run_done", run=entity)
    return True


# ------------------------------------------------------------------------------------ runs


def get_run(session: Session, identifier: str, project: Project | None = None) -> Run:
    """A run by uuid or by a unique uuid prefix (at least 4 characters)."""
    identifier = identifier.strip().lower().replace("-", "")
    if len(identifier) < 4 or not re.fullmatch(r"[0-9a-f]+", identifier):
        raise InvalidRequest(
            f"{identifier!r} is not a run uuid; give the uuid or at least its first 4 characters"
        )
    statement = select(Run).options(selectinload(Run.project)).where(
        Run.uuid.startswith(identifier, autoescape=True)
    )
    if project is not None:
        statement = statement.where(Run.project_id == project.id)
    matches = list(session.scalars(statement.limit(3)))
    if not matches:
        where = f" in project '{project.name}'" if project is not None else ""
        raise NotFound(f"no run {identifier!r}{where}; list runs with `polyaxon ops ls`")
    if len(matches) > 1:
        raise InvalidRequest(
            f"{identifier!r} matches several runs ({', '.join(m.uuid[:12] for m in matches)}); "
            "give more characters of the uuid"
        )
    return matches[0]


def load_spec(run: Run) -> OperationSpec:
    from polyaxon_core.spec import parse_operation

    if not run.content:
        raise InvalidRequest(f"run {run.uuid} has no compiled content")
    return parse_operation(json.loads(run.content), source=f"run {run.uuid}")


def _new_run(
    session: Session,
    project: Project,
    spec: OperationSpec,
    content: Mapping[str, Any],
    inputs: Mapping[str, Any],
    *,
    name: str | None,
    description: str | None,
    tags: Sequence[str],
    queue: str,
    meta_info: Mapping[str, Any],
    raw_content: str | None = None,
    pipeline: Run | None = None,
    matrix_index: int | None = None,
    original: Run | None = None,
    cloning_kind: str | None = None,
) -> Run:
    run = Run(
        project=project,
        name=name,
        description=description,
        kind="matrix" if content.get("matrix") else spec.run_kind,
        runtime=spec.run_kind,
        status=Status.CREATED.value,
        queue=queue,
        inputs=dict(inputs),
        tags=list(dict.fromkeys(tags)),
        meta_info=dict(meta_info),
        content=json.dumps(content, sort_keys=True),
        raw_content=raw_content,
        pipeline=pipeline,
        matrix_index=matrix_index,
        original=original,
        cloning_kind=cloning_kind,
    )
    session.add(run)
    session.add(RunStatusCondition(run=run, status=Status.CREATED.value, reason="created",
                                   created_at=run.created_at or utcnow()))
    session.flush()
    queue_event(session, "polyaxon_on_run_created", run=run_to_entity(run))
    transition(session, run, Status.COMPILED, reason="compiled")
    transition(session, run, Status.QUEUED, reason="queued")
    wake_after_commit(session)
    return run


def submit_operation(
    session: Session,
    project: Project,
    spec: OperationSpec,
    *,
    default_concurrency: int,
    raw_content: str | None = None,
    name: str | None = None,
    description: str | None = None,
    tags: Sequence[str] = (),
    queue: str | None = None,
    context_path: str | None = None,
) -> Run:
    """Create a run from a validated operation, compile it and queue it."""
    from polyaxon_core.spec import PolyaxonfileError, unsupported_features

    if unsupported := unsupported_features(spec):
        raise InvalidRequest("refused rather than silently ignored: " + "; ".join(unsupported))
    matrix = spec.matrix
    try:
        inputs = spec.resolve_inputs()
    except PolyaxonfileError as exc:
        raise InvalidRequest(str(exc)) from None
    if matrix is not None:
        _check_optimizer(matrix)
    queue_name = validate_slug("queue", queue or spec.queue or DEFAULT_QUEUE)
    ensure_queue(session, queue_name, default_concurrency)
    return _new_run(
        session,
        project,
        spec,
        spec.to_dict(),
        inputs,
        name=name or spec.name or (spec.component.name if spec.component else None),
        description=description or spec.description,
        tags=[*spec.tags, *tags],
        queue=queue_name,
        meta_info={"context_path": context_path} if context_path else {},
        raw_content=raw_content,
    )


def _check_optimizer(matrix: Any) -> None:
    from polyaxon_core.interfaces import PluginConfigError
    from polyaxon_core.plugins import UnknownPluginError, get_plugin_manager

    try:
        get_plugin_manager().get("optimizer", matrix.kind)(matrix)
    except UnknownPluginError as exc:
        raise InvalidRequest(
            f"matrix kind '{matrix.kind}' has no optimizer plugin installed: {exc}"
        ) from None
    except PluginConfigError as exc:
        raise InvalidRequest(str(exc)) from None


def create_trial(
    session: Session, sweep: Run, spec: OperationSpec, params: Mapping[str, Any],
    meta: Mapping[str, Any],
) -> Run:
    """A child run of a sweep evaluating ``params``; ``meta['index']`` is its unique slot."""
    content = spec.to_dict()
    content.pop("matrix", None)
    # the trial's own values become params, so its stored content compiles on its own
    content["params"] = {**content.get("params", {}),
                         **{name: {"value": value} for name, value in params.items()}}
    inputs = spec.resolve_inputs(dict(params))
    index = int(meta["index"])
    return _new_run(
        session,
        sweep.project,
        spec,
        content,
        inputs,
        name=f"{sweep.name or 'sweep'}-{index}",
        description=sweep.description,
        tags=list(sweep.tags or ()),
        queue=sweep.queue or DEFAULT_QUEUE,
        meta_info={
            **{k: v for k, v in (sweep.meta_info or {}).items() if k == "context_path"},
            "matrix": {**meta, "params": dict(params)},
        },
        pipeline=sweep,
        matrix_index=index,
    )


def request_stop(session: Session, run: Run, reason: str = "stopped by user",
                 message: str | None = None) -> Run:
    """Stop a run: at once if it never started, otherwise through ``stopping``.

    ``reason`` and ``message`` go into the run's status timeline."""
    if is_final(run.status):
        raise Conflict(f"run {run.uuid[:12]} is already {run.status}; nothing to stop")
    if run.status in {Status.CREATED, Status.COMPILED, Status.QUEUED, Status.RETRYING}:
        if run.kind == "matrix" and any(not is_final(child.status) for child in run.children):
            run.stop_requested_at = utcnow()
            transition(session, run, Status.STOPPING, reason=reason, message=message)
        else:
            transition(session, run, Status.STOPPED, reason=reason, message=message)
        return run
    if run.stop_requested_at is None:
        run.stop_requested_at = utcnow()
    transition(session, run, Status.STOPPING, reason=reason, message=message)
    wake_after_commit(session)
    return run


def clone_run(session: Session, run: Run, cloning_kind: str) -> Run:
    """A new run with the same content and inputs (``restart``, or ``copy``)."""
    if cloning_kind not in {"restart", "copy"}:
        raise InvalidRequest(f"unknown cloning kind {cloning_kind!r}; use restart or copy")
    if run.pipeline_id is not None:
        raise InvalidRequest(
            f"run {run.uuid[:12]} is a trial of sweep {run.pipeline.uuid[:12] if run.pipeline else ''}; "
            "restart the sweep instead"
        )
    spec = load_spec(run)
    content = json.loads(run.content or "{}")
    return _new_run(
        session,
        run.project,
        spec,
        content,
        dict(run.inputs or {}),
        name=run.name,
        description=run.description,
        tags=list(run.tags or ()),
        queue=run.queue or DEFAULT_QUEUE,
        meta_info={k: v for k, v in (run.meta_info or {}).items() if k == "context_path"},
        raw_content=run.raw_content,
        original=run,
        cloning_kind=cloning_kind,
    )


def resume_run(session: Session, run: Run) -> Run:
    """Run a finished run again in place (same uuid, same artifacts folder)."""
    if not is_final(run.status) or run.status in {Status.SKIPPED, Status.DONE}:
        raise Conflict(
            f"run {run.uuid[:12]} is {run.status}; only succeeded, failed, stopped or "
            "upstream_failed runs can be resumed"
        )
    if run.pipeline_id is not None:
        raise InvalidRequest("a sweep's trial cannot be resumed on its own; resume the sweep")
    transition(session, run, Status.RESUMING, reason="resumed by user")
    run.scheduler_handle = {}
    transition(session, run, Status.QUEUED, reason="queued")
    wake_after_commit(session)
    return run


def delete_run(session: Session, run: Run) -> list[str]:
    """Delete a finished run (and a sweep's trials); returns uuids whose artifacts to remove."""
    unfinished = [r for r in [run, *run.children] if not is_final(r.status)]
    if unfinished:
        what = (
            f"run {run.uuid[:12]} is {run.status}" if unfinished[0] is run
            else f"sweep {run.uuid[:12]} still has {len(unfinished)} unfinished trial(s)"
        )
        raise Conflict(f"{what}; stop it first with `polyaxon ops stop {run.uuid[:12]}`")
    uuids = [run.uuid, *(child.uuid for child in run.children)]
    session.delete(run)
    return uuids


def update_run(session: Session, run: Run, *, name: str | None = None,
               description: str | None = None, tags: Sequence[str] | None = None,
               merge_tags: bool = False, inputs: Mapping[str, Any] | None = None,
               outputs: Mapping[str, Any] | None = None,
               meta_info: Mapping[str, Any] | None = None) -> Run:
    """Change what describes a run (None: left as it is).

    ``inputs``, ``outputs`` and ``meta_info`` are merged into the stored objects (keys
    given replace keys stored); ``tags`` replaces the list, or is added to it with
    ``merge_tags``.
    """
    if name is not None:
        run.name = name
    if description is not None:
        run.description = description
    if tags is not None:
        run.tags = list(dict.fromkeys([*(run.tags or []), *tags] if merge_tags else tags))
    for column, values in (("inputs", inputs), ("outputs", outputs), ("meta_info", meta_info)):
        if values is not None:
            setattr(run, column, {**(getattr(run, column) or {}), **values})
    session.flush()
    return run


def archive_run(session: Session, run: Run) -> Run:
    """Hide a finished run from run lists (``restore_run`` brings it back)."""
    if not is_final(run.status):
        raise Conflict(
            f"run {run.uuid[:12]} is {run.status}; stop it before archiving it "
            f"(`polyaxon ops stop {run.uuid[:12]}`)"
        )
    if run.archived_at is None:
        run.archived_at = utcnow()
    return run


def restore_run(session: Session, run: Run) -> Run:
    """Bring an archived run back into run lists."""
    run.archived_at = None
    return run


def log_metric_batch(session: Session, run: Run, batch_id: str,
                     points: Sequence[Mapping[str, Any]]) -> tuple[int, bool]:
    """Store a client's batch of metric points once; returns ``(points, duplicate)``.

    Each point is ``{"name", "value", "step"?, "timestamp"?}``. A ``batch_id`` the run
    already stored is not stored again (``duplicate``), so a client may retry a batch
    whose answer it never received. The run's last values (``metrics`` in queries and
    leaderboards) are updated in the same transaction, and ``polyaxon_on_run_metrics_logged``
    is queued once per step of the batch.
    """
    if batch_stored(session, run, batch_id):
        return len(points), True  # stored by an earlier request
    # The batch row goes in the same transaction as its points (no savepoint: on SQLite a
    # released savepoint can commit it alone). A concurrent request storing the same batch
    # makes this transaction fail on the unique constraint instead: see batch_stored.
    session.add(MetricBatch(run_id=run.id, batch_id=batch_id, points=len(points)))
    now = utcnow()
    session.add_all(
        Metric(run_id=run.id, name=point["name"], step=point.get("step"),
               value=float(point["value"]), timestamp=point.get("timestamp") or now)
        for point in points
    )
    last: dict[str, float] = dict(run.last_metrics or {})
    by_step: dict[int | None, dict[str, float]] = {}
    for point in _in_logging_order(points):
        last[point["name"]] = float(point["value"])
        by_step.setdefault(point.get("step"), {})[point["name"]] = float(point["value"])
    run.last_metrics = last
    session.flush()
    entity = run_to_entity(run)
    for step, values in by_step.items():
        queue_event(session, "polyaxon_on_run_metrics_logged", run=entity, metrics=values, step=step)
    return len(points), False


def batch_stored(session: Session, run: Run, batch_id: str) -> bool:
    """Whether the run already holds the metric batch ``batch_id``."""
    return session.scalar(
        select(MetricBatch.id).where(MetricBatch.run_id == run.id, MetricBatch.batch_id == batch_id)
    ) is not None


def _in_logging_order(points: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Points by step (points without a step keep their place last), so "last" means the
    highest step, whatever order the client sent them in."""
    def key(point: Mapping[str, Any]) -> tuple[bool, int]:
        step = point.get("step")
        return (step is None, step if step is not None else 0)

    return sorted(points, key=key)


def copy_run_artifacts(store: ArtifactStore, source: str, target: str) -> int:
    """Copy every artifact of run ``source`` into run ``target`` (same paths); return how many.

    Used by ``restart --copy`` and by trials that resume another one's checkpoints.
    """
    copied = 0
    for info in store.walk(source):
        with store.open(source, info.path) as stream:
            store.put_stream(target, stream, info.path)
        copied += 1
    return copied


def discard_run_files(settings: Settings, store: ArtifactStore, uuids: Iterable[str]) -> None:
    """Remove deleted runs' logs and artifacts from the store and their local folders."""
    for uuid in uuids:
        store.delete_run(uuid)
        run_path = settings.runs_path / uuid
        if run_path.exists():
            shutil.rmtree(run_path, ignore_errors=True)


def run_as_dict(run: Run) -> dict[str, Any]:
    """A run in Polyaxon's JSON field names (used by ``-o json`` and the API)."""
    return {
        "uuid": run.uuid,
        "name": run.name,
        "description": run.description,
        "project": run.project.name,
        "owner": run.project.owner,
        "tags": list(run.tags or ()),
        "kind": run.kind,
        "runtime": run.runtime,
        "status": run.status,
        "queue": run.queue,
        "inputs": dict(run.inputs or {}),
        "outputs": dict(run.outputs or {}),
        "metrics": dict(run.last_metrics or {}),
        "meta_info": dict(run.meta_info or {}),
        "pipeline": run.pipeline.uuid if run.pipeline is not None else None,
        "original": run.original.uuid if run.original is not None else None,
        "cloning_kind": run.cloning_kind,
        "retries": run.retries,
        "created_at": run.created_at,
        "updated_at": run.updated_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "wait_time": run.wait_time,
        "duration": run.duration,
    }
