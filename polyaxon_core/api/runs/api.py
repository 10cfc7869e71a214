"""Run endpoints: create, list, read, change, stop, restart/copy, resume, archive,
restore, delete, and the status timeline."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, Select, bindparam, select
from sqlalchemy.orm import Session, contains_eager

from polyaxon_core import accounts
from polyaxon_core.api.audit import audit_request
from polyaxon_core.api.common import Answer, check_owner, dump, load_body, load_query, page
from polyaxon_core.api.errors import ParameterError, PermissionDenied
from polyaxon_core.api.extensions import server
from polyaxon_core.api.routing import Reply, Route
from polyaxon_core.api.runs.schemas import (
    NotificationsSchema,
    RunCloneSchema,
    RunCreateSchema,
    RunListQuery,
    RunListSchema,
    RunSchema,
    RunUpdateSchema,
    StatusBodySchema,
    StatusesSchema,
)
from polyaxon_core.api.security import current_user
from polyaxon_core.db.models import Project, Run
from polyaxon_core.domain.artifacts import copy_run_artifacts, discard_run_files
from polyaxon_core.domain.commands import (
    archive_run,
    clone_run,
    create_tracked_run,
    delete_run,
    report_tracked_status,
    request_stop,
    restore_run,
    resume_run,
    submit_operation,
    update_run,
)
from polyaxon_core.domain.listing import get_run, list_runs, run_document, status_timeline
from polyaxon_core.domain.projects import get_project
from polyaxon_core.errors import InvalidRequest
from polyaxon_core.permissions import RUN_CREATE, RUN_DELETE, RUN_READ, RUN_STOP, RUN_UPDATE

if TYPE_CHECKING:
    from polyaxon_core.spec import OperationSpec


#: the fields of a run that are times (RunSchema's DateTime fields)
RUN_TIMES = ("archived_at", "created_at", "updated_at", "started_at", "finished_at")


def run_payload(run: Run, *, detail: bool = True) -> dict[str, Any]:
    """A run as the API shows it (:class:`RunSchema`); ``detail`` adds its content.

    Written out here rather than by ``RunSchema``'s dump: pages of runs are the API's most
    frequent answer, and dumping one field at a time cost the runs page more than its
    queries. The document is JSON already but for its times;
    ``tests/api/test_runs.py`` holds this equal to the schema's dump.
    """
    payload = run_document(run, detail=detail)
    payload["metrics"] = {name: float(value) for name, value in payload["metrics"].items()}
    for name in RUN_TIMES:
        moment = payload[name]
        payload[name] = moment.isoformat() if moment is not None else None
    return payload


def find_run(session: Session, owner: str, project: str, uuid: str) -> Run:
    """The run ``uuid`` (or a unique prefix of it) of the project ``owner/project``.

    A whole uuid of that project is found with one query, its project loaded with it
    (every request about a run starts here); anything else goes the long way, which
    names what is missing."""
    check_owner(owner)
    if len(uuid) == 32:
        found = session.scalars(
            select(Run).join(Project, Project.id == Run.project_id)
            .options(contains_eager(Run.project))
            .where(Run.uuid == uuid, Project.owner == owner, Project.name == project)).first()
        if found is not None:
            return found
    return get_run(session, uuid, get_project(session, project, owner))


def run_lookup(*columns: Any) -> Select[Any]:
    """A query of these columns of the run ``:uuid`` of the project ``:owner/:project``,
    built once by a route that reads a few columns of a run (logging metrics): see
    :func:`find_run_columns`."""
    return (select(*columns).join(Project, Project.id == Run.project_id)
            .where(Run.uuid == bindparam("uuid"), Project.owner == bindparam("owner"),
                   Project.name == bindparam("project")))


def find_run_columns(session: Session, owner: str, project: str, uuid: str,
                     lookup: Select[Any]) -> Row[Any]:
    """The columns of ``lookup`` (:func:`run_lookup`) of the run :func:`find_run` finds,
    as a row: the whole run and project are not loaded."""
    check_owner(owner)
    names = {"owner": owner, "project": project}
    if len(uuid) == 32:
        found = session.connection().execute(lookup, {**names, "uuid": uuid}).first()
        if found is not None:
            return found
    full = find_run(session, owner, project, uuid).uuid
    return session.connection().execute(lookup, {**names, "uuid": full}).one()


def compile_content(content: str | Mapping[str, Any]) -> tuple[OperationSpec, str]:
    """Validate a polyaxonfile given as text or as an object; returns it and its text."""
    from polyaxon_core.spec import parse_operation
    from polyaxon_core.spec.compiler import compile_source
    from polyaxon_core.spec.loader import parse_text

    if isinstance(content, str):
        return compile_source(parse_text(content, "content")), content
    return parse_operation(content, source="content"), json.dumps(content, indent=2)


def _creator_id(user: Any) -> int | None:
    return user.id if isinstance(user, accounts.AuthenticatedUser) else None


def runs_list(owner: str, project: str) -> Answer:
    """List a project's runs, newest first, filtered and sorted with the query language.

    Archived runs are listed only with `archived=true`. A query or sort that cannot be
    read is a 400 whose message shows the offending token.
    """
    check_owner(owner)
    arguments = load_query(RunListQuery)
    offset, limit = arguments["offset"], arguments["limit"]
    with server.session() as session:
        count, rows = list_runs(session, get_project(session, project, owner),
                                query=arguments["query"], sort=arguments["sort"],
                                offset=offset, limit=limit, archived=arguments["archived"])
        results = [run_payload(run, detail=False) for run in rows]
    return page(results, count, offset, limit), 200


def run_create(owner: str, project: str) -> Answer:
    """Create a run from a polyaxonfile: compile it, queue it, and start it; or, with
    `managed_by: user` and no content, a run tracked from the caller's own process,
    running at once and never launched by the server.

    `content` is an operation or a component, as YAML or JSON text (what the official
    client sends) or as an object. An invalid polyaxonfile is a 422 listing every
    problem by field path (and line, for text).
    """
    check_owner(owner)
    body = load_body(RunCreateSchema)
    if body["managed_by"] == "user" or body["is_managed"] is False:
        for name in ("content", "queue"):
            if body[name] is not None:
                raise ParameterError(name, f"a run tracked from your own process (managed_by "
                                           f"`user`) runs no polyaxonfile: send no {name}")
        with server.session() as session:
            run = create_tracked_run(session, get_project(session, project, owner),
                                     name=body["name"], description=body["description"],
                                     tags=body["tags"] or (), uuid=body["uuid"],
                                     created_at=body["created_at"])
            return _created(session, run, body), 201
    if body["uuid"] is not None:
        raise ParameterError("uuid", "the server gives the runs it runs their uuid; only a run "
                                     "tracked from your process (managed_by `user`) keeps one")
    if body["created_at"] is not None:
        raise ParameterError("created_at", "a run the server runs is created now; only a run "
                                           "tracked from your process (managed_by `user`) "
                                           "may give when it was created")
    if body["content"] is None:
        raise ParameterError("content", "a run the server runs needs its polyaxonfile; a run "
                                        "tracked from your own process is created with "
                                        "managed_by `user`")
    spec, raw_content = compile_content(body["content"])
    with server.session() as session:
        run = submit_operation(
            session, get_project(session, project, owner), spec,
            default_concurrency=server.settings.default_concurrency, raw_content=raw_content,
            name=body["name"], description=body["description"], tags=body["tags"] or (),
            queue=body["queue"], store=server.store, scheduler=server.settings.scheduler,
        )
        payload = _created(session, run, body)
    server.ensure_orchestrator()
    return payload, 201


def _created(session: Session, run: Run, body: dict[str, Any]) -> dict[str, Any]:
    """A new run's creator and meta_info set; the run as the API shows it."""
    run.user_id = _creator_id(current_user())
    if body["meta_info"]:
        update_run(session, run, meta_info=body["meta_info"])
    session.flush()
    return run_payload(run)


def run_status_report(owner: str, project: str, uuid: str) -> Answer:
    """Report the status of a run tracked from a process of the user's (`managed_by:
    user`): running, warning, succeeded, failed or stopped, with a reason and a message.
    409 for a run the server runs (its status comes from its process) and for a run that
    already ended."""
    condition = load_body(StatusBodySchema)["condition"]
    with server.session() as session:
        run = report_tracked_status(session, find_run(session, owner, project, uuid),
                                    condition["type"], condition["reason"], condition["message"],
                                    at=condition["last_transition_time"])
        return run_payload(run), 200


def run_get(owner: str, project: str, uuid: str) -> Answer:
    """Read a run: its status, inputs, outputs, last metrics and content."""
    with server.session() as session:
        return run_payload(find_run(session, owner, project, uuid)), 200


def run_update(owner: str, project: str, uuid: str) -> Answer:
    """Change a run's name, description, tags, inputs, outputs or meta_info.

    `inputs`, `outputs` and `meta_info` are merged into what is stored (keys given
    replace keys stored); `tags` replaces the list, or is added to it with `merge`.
    A run's own token may not change `meta_info` (403), but may merge `meta` into its
    `meta_info.meta` (what the run's code records about itself).
    """
    body = load_body(RunUpdateSchema)
    if body.get("meta_info") is not None and getattr(current_user(), "run_scope", None):
        raise PermissionDenied("a run's token may not change meta_info: the orchestrator's "
                               "bookkeeping lives there; log inputs, outputs or tags instead")
    with server.session() as session:
        run = update_run(
            session, find_run(session, owner, project, uuid), name=body.get("name"),
            description=body.get("description"), tags=body.get("tags"), merge_tags=body["merge"],
            inputs=body.get("inputs"), outputs=body.get("outputs"), meta_info=body.get("meta_info"),
            meta=body.get("meta"),
        )
        return run_payload(run), 200


def run_delete(owner: str, project: str, uuid: str) -> Answer:
    """Delete a finished run (a sweep with its trials), its logs and artifacts."""
    with server.session() as session:
        run = find_run(session, owner, project, uuid)
        audit_request(session, "run.deleted", f"run:{run.uuid}", project=f"{owner}/{project}",
                      name=run.name, kind=run.kind)
        uuids = delete_run(session, run)
    discard_run_files(server.settings, server.store, uuids)
    return "", 204


def run_statuses(owner: str, project: str, uuid: str) -> Answer:
    """A run's status timeline, oldest first."""
    with server.session() as session:
        timeline = status_timeline(find_run(session, owner, project, uuid))
        payload = dump(StatusesSchema, timeline)
    return payload, 200


def run_notifications(owner: str, project: str, uuid: str) -> Answer:
    """The notifications a run's hooks owe, and how their delivery went."""
    from polyaxon_core.domain.notifications import deliveries_of

    with server.session() as session:
        results = deliveries_of(session, find_run(session, owner, project, uuid))
    return {"results": results}, 200


def run_stop(owner: str, project: str, uuid: str) -> Answer:
    """Stop a run: at once if it never started, else SIGTERM, then SIGKILL after the
    grace period; a sweep stops its trials. A finished run is a 409."""
    with server.session() as session:
        run = request_stop(session, find_run(session, owner, project, uuid))
        payload = run_payload(run)
    server.ensure_orchestrator()
    return payload, 200


def _clone_options() -> dict[str, Any]:
    body = load_body(RunCloneSchema, optional=True)
    if body["content"]:
        raise InvalidRequest("a restarted or resumed run keeps its own content; to run "
                             "another polyaxonfile, create a new run")
    return body


def _clone(owner: str, project: str, uuid: str, cloning_kind: str) -> Answer:
    options = _clone_options()
    with server.session() as session:
        original = find_run(session, owner, project, uuid)
        run = clone_run(session, original, cloning_kind, from_failed=options["from_failed"])
        run.user_id = _creator_id(current_user())
        update_run(session, run, name=options["name"], description=options["description"],
                        tags=options["tags"])
        if cloning_kind == "copy":
            copy_run_artifacts(server.store, original.uuid, run.uuid)
        payload = run_payload(run)
    server.ensure_orchestrator()
    return payload, 201


def run_restart(owner: str, project: str, uuid: str) -> Answer:
    """Run again as a new run with the same content and inputs."""
    return _clone(owner, project, uuid, "restart")


def run_copy(owner: str, project: str, uuid: str) -> Answer:
    """Run again as a new run with the same content, inputs and a copy of the artifacts."""
    return _clone(owner, project, uuid, "copy")


def run_resume(owner: str, project: str, uuid: str) -> Answer:
    """Run a finished run again in place (same uuid, same artifacts); 409 unless it
    succeeded, failed, stopped or was upstream_failed."""
    options = _clone_options()
    with server.session() as session:
        run = resume_run(session, find_run(session, owner, project, uuid))
        update_run(session, run, name=options["name"], description=options["description"],
                        tags=options["tags"])
        payload = run_payload(run)
    server.ensure_orchestrator()
    return payload, 200


def run_archive(owner: str, project: str, uuid: str) -> Answer:
    """Archive a finished run: it leaves the run list until restored."""
    with server.session() as session:
        return run_payload(archive_run(session, find_run(session, owner, project, uuid))), 200


def run_restore(owner: str, project: str, uuid: str) -> Answer:
    """Bring an archived run back into the run list."""
    with server.session() as session:
        return run_payload(restore_run(session, find_run(session, owner, project, uuid))), 200


_RUN = Reply("the run", RunSchema)
_NEW_RUN = Reply("the new run", RunSchema)
RUN_PATH = "/<owner>/<project>/runs/<uuid>"

ROUTES = [
    Route("GET", "/<owner>/<project>/runs", runs_list, RUN_READ, "runs",
          {200: Reply("a page of runs", RunListSchema)}, query=RunListQuery),
    Route("POST", "/<owner>/<project>/runs", run_create, RUN_CREATE, "runs", {201: _NEW_RUN},
          body=RunCreateSchema, errors=(409, 413, 422)),
    Route("GET", RUN_PATH, run_get, RUN_READ, "runs", {200: _RUN}),
    Route("PATCH", RUN_PATH, run_update, RUN_UPDATE, "runs", {200: _RUN}, body=RunUpdateSchema),
    Route("DELETE", RUN_PATH, run_delete, RUN_DELETE, "runs", {204: Reply("deleted")}, errors=(409,)),
    Route("GET", f"{RUN_PATH}/statuses", run_statuses, RUN_READ, "runs",
          {200: Reply("the status timeline", StatusesSchema)}),
    Route("POST", f"{RUN_PATH}/statuses", run_status_report, RUN_UPDATE, "runs",
          {200: _RUN}, body=StatusBodySchema, errors=(409,)),
    Route("GET", f"{RUN_PATH}/notifications", run_notifications, RUN_READ, "runs",
          {200: Reply("the notifications its hooks owe, with their delivery", NotificationsSchema)}),
    Route("POST", f"{RUN_PATH}/stop", run_stop, RUN_STOP, "runs", {200: _RUN}, errors=(409,)),
    Route("POST", f"{RUN_PATH}/restart", run_restart, RUN_CREATE, "runs", {201: _NEW_RUN},
          body=RunCloneSchema, errors=(409,)),
    Route("POST", f"{RUN_PATH}/copy", run_copy, RUN_CREATE, "runs", {201: _NEW_RUN},
          body=RunCloneSchema, errors=(409,)),
    Route("POST", f"{RUN_PATH}/resume", run_resume, RUN_CREATE, "runs", {200: _RUN},
          body=RunCloneSchema, errors=(409,)),
    Route("POST", f"{RUN_PATH}/archive", run_archive, RUN_UPDATE, "runs", {200: _RUN}, errors=(409,)),
    Route("POST", f"{RUN_PATH}/restore", run_restore, RUN_UPDATE, "runs", {200: _RUN}),
]
