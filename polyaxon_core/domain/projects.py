"""Projects: created, found, renamed and deleted within an owner (an organization)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from polyaxon_core.db.models import Project, Run
from polyaxon_core.errors import AlreadyExists, Conflict, InvalidRequest, NotFound
from polyaxon_core.lifecycle import FINAL_STATUSES

DEFAULT_OWNER = "default"
#: what project, team and queue names may be
SLUG = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,149}$")


def validate_slug(kind: str, name: str) -> str:
    if not SLUG.match(name):
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
                   description: str | None = None, tags: Sequence[str] | None = None,
                   queue: str | None = None,
                   notifications: Sequence[Mapping[str, str]] | None = None) -> Project:
    """Rename a project or change its description, tags or queue (None: left as it is;
    an empty ``queue``: back to ``default``).

    Runs and their artifacts follow a renamed project: they are tied to its id and uuids.
    The queue is where its new runs go when neither their polyaxonfile nor the command
    that started them names one; runs already queued stay where they are.
    """
    if queue is not None:
        from polyaxon_core.domain.queues import validate_queue

        project.queue = validate_queue(queue) if queue else None
    if notifications is not None:
        from polyaxon_core.domain.notifications import checked_project_notifications

        project.notifications = checked_project_notifications(notifications)
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
        select(Run.uuid).where(Run.project_id == project.id, Run.status.not_in(final_statuses()))
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


def final_statuses() -> list[str]:
    """The statuses of runs that are over, as stored (for ``status IN`` queries)."""
    return [status.value for status in FINAL_STATUSES]
