"""Reading values out of other runs: a param's ``ref`` and an operation's ``joins``.

A reference names a run (an operation of the DAG, the DAG itself, ``runs.<uuid>``) and
what to read from it: ``inputs.<name>``, ``outputs.<name>``, ``globals.<name>`` or
``artifacts.<path>``. A join is a query over the project's runs (the query language, with
``sort``, ``limit`` and ``offset``) and params that each collect one such value from every
run it matches, in order, as a list. Whatever cannot be read raises
:class:`ReferenceProblem` with a message that names the param, the run and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from polyaxon_core.db.models import Project, Run
from polyaxon_core.interfaces import ArtifactStore
from polyaxon_core.spec.params import parse_ref_value

#: at most this many runs feed one join, whatever its ``limit`` says
MAX_JOINED_RUNS = 1000


class ReferenceProblem(Exception):
    """A value that cannot be read: the message names the param, the run and the fix."""


def read_value(store: ArtifactStore | None, source: Run, what: str, written: Any, param: str) -> Any:
    """The value ``written`` (``outputs.loss``, ``globals.uuid``, ...) reads from ``source``,
    which the message calls ``what``."""
    parsed = parse_ref_value(written)
    if parsed is None:
        raise ReferenceProblem(f"param `{param}`: cannot read `{written}` from {what}; write "
                               "what to read as inputs.<name>, outputs.<name>, globals.<name> "
                               "or artifacts.<path>")
    section, key = parsed
    if section == "globals":
        available = {"uuid": source.uuid, "name": source.name, "status": source.status,
                     "project_name": source.project.name, "owner_name": source.project.owner,
                     "iteration": source.matrix_index, "duration": source.duration}
        if key not in available:
            raise ReferenceProblem(f"param `{param}`: {what} has no `globals.{key}` here; "
                                   f"one of {', '.join(sorted(available))}")
        return available[key]
    if section == "artifacts":
        local = store.local_path(source.uuid) if store is not None else None
        if local is None:
            raise ReferenceProblem(f"param `{param}`: the artifacts store has no local path for "
                                   f"{what}; read an output with its location instead")
        return str(local / key)
    values = dict((source.inputs if section == "inputs" else source.outputs) or {})
    if key not in values:
        raise ReferenceProblem(
            f"param `{param}`: {what} ({source.status}) has no {section[:-1]} `{key}`"
            + ("; log it with tracking.log_outputs" if section == "outputs" else ""))
    return values[key]


def run_of_project(session: Session, project: Project, uuid: str, param: str) -> Run:
    """The run ``uuid`` of ``project`` (``ref: runs.<uuid>``), never another project's."""
    uuid = uuid.replace("-", "")
    found = session.scalar(select(Run).where(Run.uuid == uuid, Run.project_id == project.id))
    if found is None:
        raise ReferenceProblem(f"param `{param}`: run {uuid} is not a run of project "
                               f"{project.owner}/{project.name}")
    return found


def resolve_joins(session: Session, project: Project, store: ArtifactStore | None,
                  joins: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Each param of ``joins`` with the list of the values it reads from the runs its
    join's query matches, in the join's order (newest first unless it sorts)."""
    from polyaxon_core.domain.listing import list_runs
    from polyaxon_core.query import QueryError

    values: dict[str, list[Any]] = {}
    for index, join in enumerate(joins):
        limit = min(int(join.get("limit") or MAX_JOINED_RUNS), MAX_JOINED_RUNS)
        try:
            _, page = list_runs(session, project, query=join.get("query"), sort=join.get("sort"),
                                offset=int(join.get("offset") or 0), limit=limit)
        except QueryError as exc:
            raise ReferenceProblem(f"joins[{index}]: {exc}") from None
        order = [row.uuid for row in page]
        rows = {run.uuid: run for run in session.scalars(select(Run).where(Run.uuid.in_(order)))}
        for name, param in (join.get("params") or {}).items():
            written = param.get("value") if isinstance(param, Mapping) else param
            values[name] = [read_value(store, rows[uuid], f"run {uuid[:12]}", written, name)
                            for uuid in order]
    return values
