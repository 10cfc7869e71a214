"""Dashboard endpoints: a project's saved views of its runs.

Whoever may read a project lists and opens its shared dashboards and their own; members
(``run.create``) save new ones, and change or delete (``run.update``) those they see.
Another user's private dashboard is a 404, as if it did not exist.
"""

from __future__ import annotations

from typing import Any

from polyaxon_core.api.common import Answer, PageQuery, check_owner, dump, load_body, load_query, page
from polyaxon_core.api.dashboards.schemas import (
    DashboardCreateSchema,
    DashboardListSchema,
    DashboardSchema,
    DashboardUpdateSchema,
)
from polyaxon_core.api.extensions import server
from polyaxon_core.api.routing import Reply, Route
from polyaxon_core.api.security import current_user_id
from polyaxon_core.domain import dashboards
from polyaxon_core.domain.projects import get_project
from polyaxon_core.permissions import PROJECT_READ, RUN_CREATE, RUN_UPDATE


def _payload(dashboard: Any) -> dict[str, Any]:
    payload = dump(DashboardSchema, dashboards.dashboard_document(dashboard))
    return payload


def dashboards_list(owner: str, project: str) -> Answer:
    """List the project's shared dashboards and your own, by name."""
    check_owner(owner)
    arguments = load_query(PageQuery)
    offset, limit = arguments["offset"], arguments["limit"]
    with server.session() as session:
        rows = dashboards.list_dashboards(session, get_project(session, project, owner), current_user_id())
        results = [_payload(row) for row in rows[offset:offset + limit]]
    return page(results, len(rows), offset, limit), 200


def dashboard_create(owner: str, project: str) -> Answer:
    """Save a view of the project's runs: query, sort, columns and chart widgets. A query
    or sort the query language cannot read is a 400 naming the character."""
    check_owner(owner)
    body = load_body(DashboardCreateSchema)
    with server.session() as session:
        row = dashboards.create_dashboard(
            session, get_project(session, project, owner), current_user_id(), body["name"], body["spec"],
            shared=body["shared"], description=body["description"])
        return _payload(row), 201


def dashboard_get(owner: str, project: str, dashboard: str) -> Answer:
    """Read a dashboard."""
    check_owner(owner)
    with server.session() as session:
        row = dashboards.get_dashboard(session, get_project(session, project, owner), dashboard,
                                       current_user_id())
        return _payload(row), 200


def dashboard_update(owner: str, project: str, dashboard: str) -> Answer:
    """Rename a dashboard, share or unshare it, or change its view."""
    check_owner(owner)
    body = load_body(DashboardUpdateSchema)
    with server.session() as session:
        row = dashboards.get_dashboard(session, get_project(session, project, owner), dashboard,
                                       current_user_id())
        dashboards.update_dashboard(session, row, **body)
        return _payload(row), 200


def dashboard_delete(owner: str, project: str, dashboard: str) -> Answer:
    """Delete a dashboard."""
    check_owner(owner)
    with server.session() as session:
        row = dashboards.get_dashboard(session, get_project(session, project, owner), dashboard,
                                       current_user_id())
        dashboards.delete_dashboard(session, row)
    return "", 204


_DASHBOARD = Reply("the dashboard", DashboardSchema)
DASHBOARD_PATH = "/<owner>/<project>/dashboards/<dashboard>"

ROUTES = [
    Route("GET", "/<owner>/<project>/dashboards", dashboards_list, PROJECT_READ, "dashboards",
          {200: Reply("a page of the dashboards you see", DashboardListSchema)}, query=PageQuery),
    Route("POST", "/<owner>/<project>/dashboards", dashboard_create, RUN_CREATE, "dashboards",
          {201: Reply("the new dashboard", DashboardSchema)}, body=DashboardCreateSchema,
          errors=(409, 422)),
    Route("GET", DASHBOARD_PATH, dashboard_get, PROJECT_READ, "dashboards", {200: _DASHBOARD}),
    Route("PATCH", DASHBOARD_PATH, dashboard_update, RUN_UPDATE, "dashboards", {200: _DASHBOARD},
          body=DashboardUpdateSchema, errors=(409, 422)),
    Route("DELETE", DASHBOARD_PATH, dashboard_delete, RUN_UPDATE, "dashboards",
          {204: Reply("deleted")}),
]
