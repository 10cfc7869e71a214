"""Finding, listing and describing runs: one implementation for the CLI and the API.

:func:`run_document` is a run in Polyaxon v1's field names (``V1Run``); the API dumps it
through its schema, the CLI shows it as it is, so a run reads the same whether the CLI
talks to a database or to a server.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer, lazyload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from polyaxon_core.db.models import Project, Run
from polyaxon_core.errors import InvalidRequest, NotFound

#: the namespace runs of this platform execute in, as the official client's log path needs one
NAMESPACE = "local"


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


def list_runs(
    session: Session,
    project: Project | None,
    *,
    query: str | None = None,
    sort: str | None = None,
    offset: int = 0,
    limit: int = 20,
    archived: bool = False,
) -> tuple[int, list[Run]]:
    """A page of runs (of ``project``, or of every project), newest first unless ``sort``
    says otherwise, filtered with the query language; returns the total and the page.

    Archived runs are left out, or are the only ones listed with ``archived``. A query or
    sort that cannot be read, or a uuid prefix in the query that names several runs (of
    ``project``), raises :class:`polyaxon_core.query.QueryError`.
    """
    from polyaxon_core.query import apply_query, apply_sort, parse_sort, resolve_uuid_prefixes

    parsed_query = resolve_uuid_prefixes(
        session, query, Run.project_id == project.id if project is not None else None
    ) if query else None
    parsed_sort = parse_sort(sort) if sort else None
    statement = select(Run).where(
        Run.archived_at.is_not(None) if archived else Run.archived_at.is_(None))
    if project is not None:
        statement = statement.where(Run.project_id == project.id)
    if parsed_query is not None:
        statement = apply_query(statement, parsed_query)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    if parsed_sort is not None:
        statement = apply_sort(statement, parsed_sort)
    statement = statement.order_by(Run.created_at.desc(), Run.id.desc())
    # a page shows neither the polyaxonfiles nor the schedulers' handles: they stay in
    # the database; a project's runs are given the project already at hand
    rows = session.scalars(
        statement.options(lazyload(Run.project) if project is not None else selectinload(Run.project),
                          selectinload(Run.pipeline), selectinload(Run.original),
                          selectinload(Run.user), defer(Run.content), defer(Run.raw_content),
                          defer(Run.scheduler_handle))
        .offset(offset).limit(limit)
    ).all()
    if project is not None:
        for run in rows:
            set_committed_value(run, "project", project)
    return total, list(rows)


def _reference(other: Run | None, kind: str | None) -> dict[str, Any] | None:
    if other is None or kind is None:
        return None
    return {"uuid": other.uuid, "name": other.name, "kind": kind}


def run_document(run: Run, *, detail: bool = True) -> dict[str, Any]:
    """``run`` in Polyaxon's JSON field names; ``detail`` adds its content."""
    document: dict[str, Any] = {
        "uuid": run.uuid, "name": run.name, "description": run.description,
        "tags": list(run.tags or ()), "owner": run.project.owner, "project": run.project.name,
        "user": run.user.username if run.user is not None else None,
        "kind": run.kind, "runtime": run.runtime, "status": run.status, "queue": run.queue,
        "inputs": dict(run.inputs or {}), "outputs": dict(run.outputs or {}),
        "meta_info": dict(run.meta_info or {}), "metrics": dict(run.last_metrics or {}),
        "pipeline": _reference(run.pipeline, run.pipeline.kind if run.pipeline else None),
        "original": _reference(run.original, run.cloning_kind),
        "cloning_kind": run.cloning_kind, "retries": run.retries,
        "live_state": 0 if run.archived_at is not None else 1, "archived_at": run.archived_at,
        "created_at": run.created_at, "updated_at": run.updated_at,
        "started_at": run.started_at, "finished_at": run.finished_at,
        "wait_time": run.wait_time, "duration": run.duration,
        "settings": {"namespace": NAMESPACE, "queue": {"name": run.queue} if run.queue else None},
    }
    if detail:
        document["content"] = run.content
        document["raw_content"] = run.raw_content
    return document


def status_timeline(run: Run) -> dict[str, Any]:
    """A run's status conditions, oldest first, in Polyaxon's names (a condition's
    status is its ``type``; its ``status`` is ``"True"``)."""
    return {
        "uuid": run.uuid,
        "status": run.status,
        "status_conditions": [
            {"type": condition.status, "status": "True", "reason": condition.reason,
             "message": condition.message, "last_update_time": condition.created_at,
             "last_transition_time": condition.created_at}
            for condition in run.conditions
        ],
    }
