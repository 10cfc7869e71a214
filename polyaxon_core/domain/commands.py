"""Creating runs and acting on them: submit, trial, stop, clone, resume, update,
archive, restore and delete. Status changes go through :func:`.state.transition`."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from polyaxon_core.db.convert import run_to_entity
from polyaxon_core.db.models import Project, Run, utcnow
from polyaxon_core.domain.queues import DEFAULT_QUEUE, ensure_queue, validate_queue
from polyaxon_core.domain.state import born, born_in_bulk, transition
from polyaxon_core.errors import Conflict, InvalidRequest, Unprocessable
from polyaxon_core.events import queue_event
from polyaxon_core.lifecycle import Status, is_final
from polyaxon_core.wakeup import wake_after_commit

if TYPE_CHECKING:
    from polyaxon_core.interfaces import ArtifactStore, Scheduler
    from polyaxon_core.spec import OperationSpec


def load_spec(run: Run) -> OperationSpec:
    if not run.content:
        raise InvalidRequest(f"run {run.uuid} has no compiled content")
    return _parsed(run.uuid, run.content)


@functools.lru_cache(maxsize=2048)
def _parsed(uuid: str, content: str) -> OperationSpec:
    """A run's compiled content, parsed once while it is in use: the orchestrator reads
    it when it launches, follows and retries the run (the spec is never changed in place)."""
    from polyaxon_core.spec import parse_operation

    return parse_operation(json.loads(content), source=f"run {uuid}")


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
    then: Status | None = Status.QUEUED,
    user_id: int | None = None,
) -> Run:
    """A new run, compiled, then ``queued``; or ``on_schedule`` (a schedule's run, which
    fires runs of its own), or left ``compiled`` with ``then=None`` (a DAG's operation
    waiting for its trigger)."""
    run = _unborn_run(project, spec, content, inputs, name=name, description=description,
                      tags=tags, queue=queue, meta_info=meta_info, raw_content=raw_content,
                      pipeline=pipeline, matrix_index=matrix_index, original=original,
                      cloning_kind=cloning_kind, user_id=user_id)
    born(session, [run], _birth(then))
    if then is not None:
        wake_after_commit(session)
    return run


def _unborn_run(project: Project, spec: OperationSpec, content: Mapping[str, Any],
                inputs: Mapping[str, Any], *, name: str | None, description: str | None,
                tags: Sequence[str], queue: str, meta_info: Mapping[str, Any],
                raw_content: str | None = None, pipeline: Run | None = None,
                matrix_index: int | None = None, original: Run | None = None,
                cloning_kind: str | None = None, user_id: int | None = None) -> Run:
    """The row of a new run, not yet in any session (see :func:`~polyaxon_core.domain.state.born`)."""
    return Run(
        **_run_columns(spec, content, name=name, description=description, tags=tags, queue=queue,
                       meta_info=meta_info),
        project=project,
        inputs=dict(inputs),
        raw_content=raw_content,
        pipeline=pipeline,
        matrix_index=matrix_index,
        original=original,
        cloning_kind=cloning_kind,
        user_id=user_id,
    )


def _run_columns(spec: OperationSpec, content: Mapping[str, Any], *, name: str | None,
                 description: str | None, tags: Sequence[str], queue: str,
                 meta_info: Mapping[str, Any]) -> dict[str, Any]:
    """What a new run's row holds of its operation."""
    return {
        "name": name,
        "description": description,
        "kind": "matrix" if content.get("matrix") else spec.run_kind,
        "runtime": spec.run_kind,
        "queue": queue,
        "tags": list(dict.fromkeys(tags)),
        "meta_info": dict(meta_info),
        "content": json.dumps(content, sort_keys=True),
    }


def _birth(then: Status | None) -> list[tuple[Status, str]]:
    """The statuses a new run goes through as it is created: compiled, then ``then``."""
    path = [(Status.CREATED, "created"), (Status.COMPILED, "compiled")]
    if then is not None:
        path.append((then, then.value))
    return path


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
    store: ArtifactStore | None = None,
    scheduler: str | type[Scheduler] | None = None,
) -> Run:
    """Create a run from a validated operation, compile it and queue it.

    ``scheduler`` names the scheduler that will start it (or is its class): what that one
    cannot start is refused now, rather than failing the run at launch.

    Its ``joins`` are resolved now, over the project's runs as they are (``store`` gives
    the paths of ``artifacts.*`` values); the values collected replace them in the run's
    content, so it stands on its own and a restart runs with the same values.
    """
    from polyaxon_core.connections import require_known_connections
    from polyaxon_core.domain.references import ReferenceProblem, resolve_joins
    from polyaxon_core.spec import PolyaxonfileError, unsupported_features

    if unsupported := unsupported_features(spec):
        raise InvalidRequest("refused rather than silently ignored: " + "; ".join(unsupported))
    from polyaxon_core.domain.notifications import hook_problems

    if problems := hook_problems(spec):
        raise InvalidRequest("; ".join(problems))
    if scheduler is not None:
        from polyaxon_core.orchestrator.backends import scheduler_problems

        if refused := scheduler_problems(scheduler, spec):
            raise InvalidRequest("; ".join(f"{path}: {message}" for path, message in refused))
    matrix = spec.matrix
    content = spec.to_dict()
    try:
        joined = resolve_joins(session, project, store, spec.joins) if spec.joins else {}
        inputs = spec.resolve_inputs(joined)
    except (PolyaxonfileError, ReferenceProblem) as exc:
        raise InvalidRequest(str(exc)) from None
    if joined:
        content.pop("joins", None)
        content["params"] = {**(content.get("params") or {}),
                             **{name: {"value": value} for name, value in joined.items()}}
    if matrix is not None:
        _check_optimizer(matrix)
    require_known_connections(spec)
    queue_name = validate_queue(queue or spec.queue or project.queue or DEFAULT_QUEUE)
    ensure_queue(session, queue_name, default_concurrency)
    return _new_run(
        session,
        project,
        spec,
        content,
        inputs,
        name=name or spec.name or (spec.component.name if spec.component else None),
        description=description or spec.description,
        tags=[*spec.tags, *tags],
        queue=queue_name,
        meta_info={"context_path": context_path} if context_path else {},
        raw_content=raw_content,
        then=Status.ON_SCHEDULE if spec.schedule else Status.QUEUED,
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
        user_id=sweep.user_id,
    )


#: what an operation of a DAG says only to its DAG: stored on its own, it is a plain operation
_DAG_ONLY_KEYS = ("dependencies", "trigger", "conditions", "skipOnUpstreamSkip",
                  "dagRef", "pathRef", "hubRef", "urlRef")


def operation_content(operation: OperationSpec) -> dict[str, Any]:
    """A DAG operation as it is stored on its run: its component inline, without what only
    the DAG reads (its dependencies, trigger, conditions)."""
    content = operation.to_dict()
    for key in _DAG_ONLY_KEYS:
        content.pop(key, None)
    content.setdefault("params", {})
    return content


def create_operations(session: Session, dag: Run, operations: Sequence[OperationSpec]) -> list[int]:
    """The runs of ``dag``'s ``operations``, each waiting (``compiled``) for its trigger,
    inserted together (:func:`~polyaxon_core.domain.state.born_in_bulk`); their ids. Their
    ``ref`` params are resolved when they are queued (see
    :mod:`polyaxon_core.orchestrator.dags`). Each acts as the DAG's creator, as does
    everything it starts (a nested DAG's operations, a sweep's trials)."""
    context = {k: v for k, v in (dag.meta_info or {}).items() if k == "context_path"}
    rows = [
        {
            **_run_columns(operation, operation_content(operation), name=operation.name,
                           description=operation.description, tags=operation.tags,
                           queue=validate_queue(operation.queue or dag.queue or DEFAULT_QUEUE),
                           meta_info={**context, "operation": operation.name}),
            "project_id": dag.project_id,
            "inputs": {},
            "pipeline_id": dag.id,
            "user_id": dag.user_id,
        }
        for operation in operations
    ]
    return born_in_bulk(session, rows, _birth(None))


def create_firing(session: Session, schedule: Run, index: int, at: datetime, missed: int = 0) -> Run:
    """The ``index``-th run of ``schedule``, for the moment ``at``: its content without the
    schedule, queued now; ``missed`` moments before ``at`` were skipped (caught up once)."""
    content = json.loads(schedule.content or "{}")
    content.pop("schedule", None)
    from polyaxon_core.spec import parse_operation

    spec = parse_operation(content, source=f"schedule {schedule.uuid}")
    return _new_run(
        session,
        schedule.project,
        spec,
        content,
        dict(schedule.inputs or {}),
        name=schedule.name,
        description=schedule.description,
        tags=list(schedule.tags or ()),
        queue=schedule.queue or DEFAULT_QUEUE,
        meta_info={
            **{k: v for k, v in (schedule.meta_info or {}).items() if k == "context_path"},
            "schedule": {"index": index, "at": at.isoformat(), "missed": missed},
        },
        raw_content=schedule.raw_content,
        pipeline=schedule,
        matrix_index=index,
        user_id=schedule.user_id,
    )


def request_stop(session: Session, run: Run, reason: str = "stopped by user",
                 message: str | None = None) -> Run:
    """Stop a run: at once if it never started, otherwise through ``stopping``.

    ``reason`` and ``message`` go into the run's status timeline."""
    if is_final(run.status):
        raise Conflict(f"run {run.uuid[:12]} is already {run.status}; nothing to stop")
    if run.managed_by == "user":  # no process of ours to stop: the tracking code is told
        transition(session, run, Status.STOPPED, reason=reason, message=message)
        return run
    if run.status in {Status.CREATED, Status.COMPILED, Status.QUEUED, Status.RETRYING,
                      Status.ON_SCHEDULE}:
        if run.kind in {"matrix", "dag"} and any(not is_final(child.status) for child in run.children):
            run.stop_requested_at = utcnow()
            transition(session, run, Status.STOPPING, reason=reason, message=message)
        else:
            transition(session, run, Status.STOPPED, reason=reason, message=message)
        return run
    if run.status == Status.SCHEDULED and not run.scheduler_handle:
        # nothing started yet (it waits for its image, or for its scheduler to answer); an
        # orchestrator submitting it meanwhile finds it stopped and undoes what it started
        transition(session, run, Status.STOPPED, reason=reason, message=message)
        return run
    if run.stop_requested_at is None:
        run.stop_requested_at = utcnow()
    transition(session, run, Status.STOPPING, reason=reason, message=message)
    wake_after_commit(session)
    return run


def create_tracked_run(session: Session, project: Project, *, name: str | None = None,
                       description: str | None = None, tags: Sequence[str] = (),
                       inputs: Mapping[str, Any] | None = None, uuid: str | None = None,
                       created_at: datetime | None = None) -> Run:
    """A run tracked from a process of the user's (``managed_by: user``): the orchestrator
    never launches it; it is running from its creation until its code reports how it
    ended (:func:`report_tracked_status`).

    ``uuid`` keeps the one an offline run was given (32 lowercase hex digits);
    AlreadyExists if a run has it. ``created_at``: when an offline run was created (and
    started), not in the future."""
    from sqlalchemy import select

    from polyaxon_core.errors import AlreadyExists

    if uuid is not None:
        if len(uuid) != 32 or any(c not in "0123456789abcdef" for c in uuid):
            raise InvalidRequest(f"a run's uuid is 32 lowercase hexadecimal digits, not {uuid!r}")
        if session.scalar(select(Run.id).where(Run.uuid == uuid)) is not None:
            raise AlreadyExists(f"run {uuid} already exists")
    if created_at is not None:
        _check_past("created_at", created_at, None)
    run = Run(project=project, kind="job", runtime="job", managed_by="user", name=name,
              description=description, tags=list(dict.fromkeys(tags)), inputs=dict(inputs or {}))
    if uuid is not None:
        run.uuid = uuid
    if created_at is not None:
        run.created_at = created_at
    session.add(run)
    session.flush()
    # heard as every run's creation is (its timeline starts at running: it was started
    # where it was created)
    queue_event(session, "polyaxon_on_run_created",
                run=replace(run_to_entity(run), status=Status.CREATED.value))
    transition(session, run, Status.RUNNING, reason="tracked",
               message="tracked by the SDK from a process of the user's", at=created_at)
    return run


#: how far in the future a reported moment may be (clocks of two machines disagree)
CLOCK_SKEW = timedelta(minutes=5)


def _check_past(name: str, moment: datetime, not_before: datetime | None) -> None:
    """A moment a client reports: Unprocessable if it is in the future or before
    ``not_before`` (the run's last status)."""
    if moment.tzinfo is None:
        raise Unprocessable(f"`{name}` needs a time zone, such as 2026-05-31T12:00:00+00:00")
    if moment > utcnow() + CLOCK_SKEW:
        raise Unprocessable(f"`{name}` {moment.isoformat()} is in the future; send when it "
                             "happened")
    if not_before is not None and moment < not_before:
        raise Unprocessable(f"`{name}` {moment.isoformat()} is before the run's last status "
                             f"({not_before.isoformat()}); statuses are reported in order")


#: what the code tracking a run may report of it
TRACKED_STATUSES = (Status.RUNNING, Status.WARNING, Status.SUCCEEDED, Status.FAILED,
                    Status.STOPPED)


def report_tracked_status(session: Session, run: Run, status: str, reason: str | None = None,
                          message: str | None = None, at: datetime | None = None) -> Run:
    """Apply the status the code tracking a user-managed run reports: Conflict for a run
    the orchestrator manages (its status comes from its process), for a run already
    ended, and for a move the lifecycle does not allow. ``at``: when it happened (an
    offline run's end), not in the future nor before the run's last status."""
    if run.managed_by != "user":
        raise Conflict(f"run {run.uuid[:12]} is managed by the orchestrator: its status comes "
                       "from its process, not from a client")
    wanted = Status(status)
    if wanted not in TRACKED_STATUSES:
        raise InvalidRequest(f"a tracked run reports one of "
                             f"{', '.join(s.value for s in TRACKED_STATUSES)}, not {status!r}")
    if run.status == wanted.value:
        return run
    if at is not None and not is_final(run.status):
        _check_past("last_transition_time", at, run.started_at or run.created_at)
    if is_final(run.status) or not transition(session, run, wanted, reason=reason or wanted.value,
                                              message=message, at=at):
        raise Conflict(f"run {run.uuid[:12]} is {run.status}; it cannot become {wanted.value}")
    return run


def _check_managed(run: Run, what: str) -> None:
    if run.managed_by == "user":
        raise InvalidRequest(f"run {run.uuid[:12]} was tracked from a process of the user's: "
                             f"there is no polyaxonfile to {what}; run the code again with "
                             "tracking.init(is_new=True)")


def clone_run(session: Session, run: Run, cloning_kind: str, *, from_failed: bool = False) -> Run:
    """A new run with the same content and inputs (``restart``, or ``copy``).

    ``from_failed`` restarts a finished DAG with only the operations that did not succeed:
    the new DAG reads the succeeded ones (their outputs included) from this one.
    """
    if cloning_kind not in {"restart", "copy"}:
        raise InvalidRequest(f"unknown cloning kind {cloning_kind!r}; use restart or copy")
    _check_managed(run, cloning_kind)
    if run.pipeline_id is not None:
        parent = run.pipeline
        what = "DAG" if parent is not None and parent.kind == "dag" else "sweep"
        raise InvalidRequest(
            f"run {run.uuid[:12]} is part of {what} {parent.uuid[:12] if parent else ''}; "
            f"restart the {what} instead"
        )
    reused: dict[str, str] = {}
    if from_failed:
        if run.kind != "dag":
            raise InvalidRequest(f"run {run.uuid[:12]} is a {run.kind}; only a DAG restarts "
                                 "from its failed operations")
        if not is_final(run.status):
            raise Conflict(f"DAG {run.uuid[:12]} is {run.status}; wait for it to end or stop it")
        reused = dict((run.meta_info or {}).get("reused") or {})
        for child in run.children:
            name = (child.meta_info or {}).get("operation")
            if name and child.status == Status.SUCCEEDED.value:
                reused[str(name)] = child.uuid
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
        meta_info={**{k: v for k, v in (run.meta_info or {}).items() if k == "context_path"},
                   **({"reused": reused} if reused else {})},
        raw_content=run.raw_content,
        original=run,
        cloning_kind=cloning_kind,
    )


def resume_run(session: Session, run: Run) -> Run:
    """Run a finished run again in place (same uuid, same artifacts folder)."""
    _check_managed(run, "resume")
    if not is_final(run.status) or run.status in {Status.SKIPPED, Status.DONE}:
        raise Conflict(
            f"run {run.uuid[:12]} is {run.status}; only succeeded, failed, stopped or "
            "upstream_failed runs can be resumed"
        )
    if run.pipeline_id is not None:
        raise InvalidRequest("a sweep's trial or a DAG's operation cannot be resumed on its own; "
                             "restart the sweep or the DAG")
    if run.kind == "dag":
        raise InvalidRequest(f"a DAG is not resumed in place; restart it, with only its failed "
                             f"operations: `polyaxon ops restart {run.uuid[:12]} --from-failed`")
    transition(session, run, Status.RESUMING, reason="resumed by user")
    run.scheduler_handle = {}
    transition(session, run, Status.QUEUED, reason="queued")
    wake_after_commit(session)
    return run


def delete_run(session: Session, run: Run) -> list[str]:
    """Delete a finished run (and a sweep's trials); returns uuids whose artifacts to remove."""
    descendants = _descendants(run)
    unfinished = [r for r in [run, *descendants] if not is_final(r.status)]
    if unfinished:
        what = (
            f"run {run.uuid[:12]} is {run.status}" if unfinished[0] is run
            else f"{run.kind} {run.uuid[:12]} still has {len(unfinished)} unfinished run(s)"
        )
        raise Conflict(f"{what}; stop it first with `polyaxon ops stop {run.uuid[:12]}`")
    from sqlalchemy import select

    from polyaxon_core.db.models import ProjectVersion

    pointing = session.execute(select(ProjectVersion.kind, ProjectVersion.name).where(
        ProjectVersion.run_id.in_([run.id, *(child.id for child in descendants)]))).first()
    if pointing is not None:
        kind, name = pointing
        raise Conflict(f"the {kind} version {name!r} points at run {run.uuid[:12]} (or one of its "
                       f"runs); delete it first (`polyaxon models delete {name} --kind {kind}`) or "
                       "point it at another run (`polyaxon models promote UUID --name ... --force`)")
    uuids = [run.uuid, *(child.uuid for child in descendants)]
    session.delete(run)
    return uuids


def _descendants(run: Run) -> list[Run]:
    """A sweep's trials, a DAG's operations, and theirs (nested DAGs, sweeps in a DAG)."""
    found: list[Run] = []
    for child in run.children:
        found += [child, *_descendants(child)]
    return found


def update_run(session: Session, run: Run, *, name: str | None = None,
               description: str | None = None, tags: Sequence[str] | None = None,
               merge_tags: bool = False, inputs: Mapping[str, Any] | None = None,
               outputs: Mapping[str, Any] | None = None,
               meta_info: Mapping[str, Any] | None = None,
               meta: Mapping[str, Any] | None = None) -> Run:
    """Change what describes a run (None: left as it is).

    ``inputs``, ``outputs`` and ``meta_info`` are merged into the stored objects (keys
    given replace keys stored); ``tags`` replaces the list, or is added to it with
    ``merge_tags``. ``meta`` (what the run's code records about itself) is merged into
    ``meta_info["meta"]``, apart from the orchestrator's bookkeeping.
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
    if meta is not None:
        info = dict(run.meta_info or {})
        info["meta"] = {**(info.get("meta") or {}), **meta}
        run.meta_info = info
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
