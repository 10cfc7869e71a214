"""Dashboards: saved views of a project's runs.

A dashboard is what the runs page shows, kept under a name: a query and a sort in the
query language, the columns chosen (``inputs.<name>``, ``outputs.<name>``,
``metrics.<name>``), and chart widgets drawn over the runs the query matches:

* ``{"kind": "metric_over_steps", "metric": NAME}``: the metric's series of each run;
* ``{"kind": "metric_vs_param", "metric": NAME, "param": NAME}``: each run's last value
  against one of its inputs;
* ``{"kind": "histogram", "metric": NAME, "bins": N}``: the distribution of the runs'
  last values.

A dashboard belongs to the user who saved it; ``shared`` shows it to everyone who may read
the project. The query and the sort are checked when saved, so a dashboard always opens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from polyaxon_core.db.models import Dashboard, Project
from polyaxon_core.errors import AlreadyExists, InvalidRequest, NotFound

WIDGET_KINDS = ("metric_over_steps", "metric_vs_param", "histogram")
MAX_WIDGETS = 24
MAX_COLUMNS = 50


class DashboardRejected(InvalidRequest):
    """A well-formed view its rules refuse (422: beyond what a JSON schema can say)."""

    http_status = 422

    def __init__(self, message: str, errors: dict[str, list[str]]) -> None:
        super().__init__(message)
        self.errors = errors


def check_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The dashboard's view with its query and sort parsed (QueryError when they cannot
    be read) and its widgets complete; the API's schema has checked the rest."""
    from polyaxon_core.query import parse_query, parse_sort

    view = _view(spec)
    missing = {f"spec.widgets.{index}.param": ["a metric_vs_param widget needs `param`, the "
                                                "input on its x axis"]
               for index, widget in enumerate(view["widgets"])
               if widget.get("kind") == "metric_vs_param" and not widget.get("param")}
    if missing:
        raise DashboardRejected(f"invalid dashboard: {', '.join(missing)}", missing)
    if view["query"]:
        parse_query(view["query"])
    if view["sort"]:
        parse_sort(view["sort"])
    return view


def _view(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {"query": spec.get("query") or None, "sort": spec.get("sort") or None,
            "columns": list(spec.get("columns") or []),
            "widgets": [dict(widget) for widget in spec.get("widgets") or []]}


def _visible(user_id: int | None) -> Any:
    """Dashboards a user sees: their own and the shared ones (the local administrator,
    without a user, sees them all)."""
    if user_id is None:
        return True
    return or_(Dashboard.shared.is_(True), Dashboard.user_id == user_id)


def list_dashboards(session: Session, project: Project, user_id: int | None) -> list[Dashboard]:
    """The project's dashboards ``user_id`` sees, by name."""
    return list(session.scalars(
        select(Dashboard).where(Dashboard.project_id == project.id, _visible(user_id))
        .options(selectinload(Dashboard.user), selectinload(Dashboard.project))
        .order_by(Dashboard.name, Dashboard.id)))


def get_dashboard(session: Session, project: Project, uuid: str, user_id: int | None) -> Dashboard:
    """The dashboard ``uuid`` of ``project``, if ``user_id`` sees it (NotFound otherwise:
    another user's private dashboard is not told apart from none)."""
    dashboard = session.scalar(select(Dashboard).where(
        Dashboard.project_id == project.id, Dashboard.uuid == uuid.strip().lower().replace("-", ""),
        _visible(user_id)))
    if dashboard is None:
        raise NotFound(f"no dashboard {uuid!r} in project {project.owner}/{project.name}")
    return dashboard


def _check_name_free(session: Session, project: Project, user_id: int | None, name: str,
                     other_than: int | None = None) -> None:
    taken = session.scalar(select(Dashboard.id).where(
        Dashboard.project_id == project.id, Dashboard.name == name,
        Dashboard.user_id.is_(None) if user_id is None else Dashboard.user_id == user_id,
        Dashboard.id != (other_than or -1)))
    if taken is not None:
        raise AlreadyExists(f"you already have a dashboard named {name!r} in this project")


def create_dashboard(session: Session, project: Project, user_id: int | None, name: str,
                     spec: Mapping[str, Any], *, shared: bool = False,
                     description: str | None = None) -> Dashboard:
    _check_name_free(session, project, user_id, name)
    dashboard = Dashboard(project_id=project.id, user_id=user_id, name=name,
                          description=description, shared=shared, spec=check_spec(spec))
    session.add(dashboard)
    session.flush()
    return dashboard


def update_dashboard(session: Session, dashboard: Dashboard, **changes: Any) -> Dashboard:
    """Change ``name``, ``description``, ``shared`` or ``spec``."""
    if "name" in changes and changes["name"] != dashboard.name:
        _check_name_free(session, dashboard.project, dashboard.user_id, changes["name"],
                         other_than=dashboard.id)
        dashboard.name = changes["name"]
    if "description" in changes:
        dashboard.description = changes["description"]
    if "shared" in changes:
        dashboard.shared = bool(changes["shared"])
    if "spec" in changes:
        dashboard.spec = check_spec(changes["spec"])
    session.flush()
    return dashboard


def delete_dashboard(session: Session, dashboard: Dashboard) -> None:
    session.delete(dashboard)
    session.flush()


def dashboard_document(dashboard: Dashboard) -> dict[str, Any]:
    return {"uuid": dashboard.uuid, "name": dashboard.name, "description": dashboard.description,
            "shared": dashboard.shared, "user": dashboard.user.username if dashboard.user else None,
            "project": dashboard.project.name, "owner": dashboard.project.owner,
            "spec": _view(dashboard.spec or {}), "created_at": dashboard.created_at,
            "updated_at": dashboard.updated_at}
