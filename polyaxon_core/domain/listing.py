"""Finding, listing and describing runs: one implementation for the CLI and the API.

:func:`run_document` is a run in Polyaxon v1's field names (``V1Run``); the API dumps it
through its schema, the CLI shows it as it is, so a run reads the same whether the CLI
talks to a database or to a server.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from polyaxon_core.db.models import Project, Run, User
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
) -> tuple[int, list[Any]]:
    """A page of runs (of ``project``, or of every project), newest first unless ``sort``
    says otherwise, filtered with the query language; returns the total and the page, of
    read-only views of the runs with what :func:`run_document` reads without ``detail``.

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
    ids = list(session.scalars(statement.with_only_columns(Run.id).offset(offset).limit(limit)))
    return total, _page(session, ids, project)


#: the columns of a run that a page shows (run_document without detail)
_PAGE_COLUMNS = ("uuid", "name", "description", "tags", "kind", "managed_by", "runtime",
                 "status", "queue", "inputs", "outputs", "meta_info", "last_metrics",
                 "cloning_kind", "retries", "archived_at", "created_at", "updated_at",
                 "started_at", "finished_at", "wait_time", "duration")


def _page(session: Session, ids: list[int], project: Project | None) -> list[Any]:
    """The runs ``ids``, in that order, as read-only views with what :func:`run_document`
    reads without ``detail``: plain rows, not ORM objects, which cost a page more than
    its queries. Their project (when not given), user, sweep and original come in one
    query each, for the page's runs that have one."""
    if not ids:
        return []
    runs = Run.__table__
    rows = session.execute(
        select(runs.c.id, runs.c.project_id, runs.c.user_id, runs.c.pipeline_id,
               runs.c.original_id, *(runs.c[name] for name in _PAGE_COLUMNS))
        .where(runs.c.id.in_(ids))).all()
    projects = {project.id: project} if project is not None else _by_id(
        session, select(Project.id, Project.owner, Project.name), {row.project_id for row in rows})
    users = _by_id(session, select(User.id, User.username), {row.user_id for row in rows})
    others = _by_id(session, select(runs.c.id, runs.c.uuid, runs.c.name, runs.c.kind),
                    {row.pipeline_id for row in rows} | {row.original_id for row in rows})
    views = {
        row.id: SimpleNamespace(
            **{name: getattr(row, name) for name in _PAGE_COLUMNS},
            project=projects[row.project_id], user=users.get(row.user_id),
            pipeline=others.get(row.pipeline_id), original=others.get(row.original_id))
        for row in rows}
    return [views[identifier] for identifier in ids if identifier in views]


def _by_id(session: Session, statement: Any, ids: set[int | None]) -> dict[int, Any]:
    """Rows of ``statement`` (whose first column is ``id``) for ``ids``, by id."""
    wanted = [identifier for identifier in ids if identifier is not None]
    if not wanted:
        return {}
    id_column = statement.selected_columns[0]
    return {row[0]: row for row in session.execute(statement.where(id_column.in_(wanted)))}


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
        "kind": run.kind, "managed_by": run.managed_by, "runtime": run.runtime,
        "status": run.status, "queue": run.queue,
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
        "pending": pending(run),
    }
    if detail:
        document["content"] = run.content
        document["raw_content"] = run.raw_content
    return document


def pending(run: Run) -> str | None:
    """What a scheduled run waits for before it starts, in Polyaxon's words: ``build``
    while its image is being built; else None."""
    build = (run.meta_info or {}).get("build")
    if run.status == "scheduled" and isinstance(build, dict) and "image" not in build:
        return "build"
    return None


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


def operations_tree(
    dag: Mapping[str, Any],
    children: Sequence[Mapping[str, Any]],
    reused: Mapping[str, Mapping[str, Any]],
    below: Callable[[Mapping[str, Any]], dict[str, Any]],
) -> list[dict[str, Any]]:
    """A DAG's operations in the order the DAG lists them, as ``ops get`` shows them.

    ``children`` are the DAG's runs, ``reused`` the runs a ``--from-failed`` restart took
    from the DAG it restarted (by operation name), and ``below(run)`` what goes under an
    operation: a nested DAG's ``operations``, a sweep's ``trials`` counted by status.
    """
    by_name: dict[str, tuple[Mapping[str, Any], bool]] = {
        name: (run, True) for name, run in reused.items()}
    for child in children:
        by_name[str((child.get("meta_info") or {}).get("operation") or child.get("name"))] = (child, False)
    order = list((dag.get("meta_info") or {}).get("operations") or [])
    names = [*order, *(name for name in by_name if name not in order)]
    nodes = []
    for name in names:
        if name not in by_name:
            continue
        run, is_reused = by_name[name]
        nodes.append({"name": name, "uuid": run["uuid"], "kind": run.get("kind"),
                      "status": run.get("status"), "reused": is_reused, **below(run)})
    return nodes


def dag_operations(session: Session, dag: Run) -> list[dict[str, Any]]:
    """The DAG's operations as :func:`operations_tree` gives them: a nested DAG's below it,
    a sweep's trials counted by status."""
    from collections import Counter

    def below(document: Mapping[str, Any]) -> dict[str, Any]:
        run = rows[document["uuid"]]
        if run.kind == "dag":
            return {"operations": dag_operations(session, run)}
        if run.kind == "matrix":
            statuses = session.scalars(select(Run.status).where(Run.pipeline_id == run.id))
            return {"trials": dict(Counter(statuses))}
        return {}

    children = list(session.scalars(select(Run).where(Run.pipeline_id == dag.id).order_by(Run.id)))
    reused_uuids = dict((dag.meta_info or {}).get("reused") or {})
    reused = list(session.scalars(select(Run).where(Run.uuid.in_(list(reused_uuids.values())))))
    rows = {run.uuid: run for run in [*children, *reused]}
    documents = {run.uuid: run_document(run, detail=False) for run in rows.values()}
    return operations_tree(
        run_document(dag, detail=False), [documents[child.uuid] for child in children],
        {name: documents[uuid] for name, uuid in reused_uuids.items() if uuid in documents},
        below)
