"""Init steps: Flask-AppBuilder on the application, the core pages, then plugins' pages.

Pages read through the same domain functions as the API and the CLI, and change nothing
themselves: their buttons and forms call the API (with the session and its CSRF token),
so every change goes through the API's checks and a run's status only through the
lifecycle's transition function.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Flask, abort, redirect, request, send_file, url_for
from flask_appbuilder import AppBuilder, BaseView, expose
from flask_appbuilder import IndexView as BaseIndexView
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from polyaxon_core.api.extensions import server
from polyaxon_core.api.security import organization_resource, project_resource, run_resource
from polyaxon_core.db.models import Run
from polyaxon_core.domain.listing import dag_operations, get_run, run_document
from polyaxon_core.domain.projects import DEFAULT_OWNER, get_project, list_projects
from polyaxon_core.lifecycle import FINAL_STATUSES as FINAL
from polyaxon_core.permissions import (
    PROJECT_CREATE,
    PROJECT_MEMBERS,
    PROJECT_READ,
    PROJECT_ROLES,
    PROJECT_UPDATE,
    RUN_CREATE,
    RUN_DELETE,
    RUN_READ,
    RUN_STOP,
    RUN_UPDATE,
)
from polyaxon_webapp.headers import allow_shader_compilation
from polyaxon_webapp.security import account, logged_in, may, require

logger = logging.getLogger(__name__)

#: the most runs one comparison overlays
MAX_COMPARED = 20
#: the most points of a series a chart draws; the server thins longer series to this many
CHART_POINTS = 2000
#: the run statuses from which nothing moves any more
FINAL_STATUSES = sorted(status.value for status in FINAL)


#: plotly.js's cartesian bundle (scatter, histogram), built by `make assets` with npm
CHART_BUNDLE = Path(__file__).parent / "static" / "vendor" / "plotly-cartesian.min.js"
#: uPlot, for a run's metric and resource charts, built by `make assets` with npm: a
#: twentieth of plotly's size, it draws a run's charts before plotly would have started
LINE_CHARTS = Path(__file__).parent / "static" / "vendor" / "uPlot.iife.min.js"


def init_appbuilder(app: Flask) -> AppBuilder:
    # the UI's templates, scripts and styles, and plotly.js from the plotly package
    assets = Blueprint("polyaxon_webapp", __name__, template_folder="templates",
                       static_folder="static", static_url_path="/static/polyaxon")
    assets.add_url_rule("/static/polyaxon/vendor/plotly.min.js", "plotly", plotly_js)
    app.register_blueprint(assets)
    app.context_processor(lambda: {"viewer": account(), "charts_script": charts_script,
                                   "line_charts": line_charts, "chart_points": CHART_POINTS})
    appbuilder = AppBuilder()
    appbuilder.init_app(app, None)
    return appbuilder


def charts_script(parallel_coordinates: bool = False) -> str:
    """The URL of the plotly.js a page loads: the cartesian bundle (a third of the full
    one's size, and as much faster to start) unless the page draws parallel coordinates,
    or the bundle was not built; then the plotly package's full bundle."""
    if not parallel_coordinates and CHART_BUNDLE.is_file():
        return url_for("polyaxon_webapp.static", filename="vendor/" + CHART_BUNDLE.name)
    if not parallel_coordinates:
        _warn_of_the_missing_bundle()
    return url_for("polyaxon_webapp.plotly")


def line_charts() -> dict[str, str] | None:
    """The URLs of uPlot's script and style sheet; None when they were not built (the
    page then says so where its charts would be)."""
    if not LINE_CHARTS.is_file():
        _warn_of_missing_line_charts()
        return None
    return {"script": url_for("polyaxon_webapp.static", filename="vendor/" + LINE_CHARTS.name),
            "style": url_for("polyaxon_webapp.static", filename="vendor/uPlot.min.css")}


@functools.cache
def _warn_of_missing_line_charts() -> None:
    logger.error("the web UI's line chart library %s is not built (`make assets` builds it): "
                 "run pages cannot draw their metrics", LINE_CHARTS)


@functools.cache
def _warn_of_the_missing_bundle() -> None:
    logger.warning("the web UI's chart bundle %s is not built (`make assets` builds it): pages "
                   "load plotly's full bundle instead, which starts slower", CHART_BUNDLE)


def plotly_js() -> Response:
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return send_file(path, mimetype="text/javascript", max_age=86400)


def init_core_views(appbuilder: AppBuilder) -> None:
    from polyaxon_webapp.admin import PluginsView, QueuesView, TeamsView, UsersView

    appbuilder.add_view(ProjectsView, "Projects", icon="fa-folder-open")
    appbuilder.add_view(QueuesView, "Queues", icon="fa-list")
    appbuilder.add_view(UsersView, "Users", category="Administration")
    appbuilder.add_view(TeamsView, "Teams", category="Administration")
    appbuilder.add_view(PluginsView, "Plugins", category="Administration")


def init_plugin_views(appbuilder: AppBuilder) -> None:
    """Plugins add their pages after the core's (``polyaxon_register_views``)."""
    server.hook.polyaxon_register_views(appbuilder=appbuilder)


class IndexView(BaseIndexView):  # type: ignore[misc]
    """``/``: the projects."""

    route_base = ""
    default_view = "index"

    @expose("/")
    def index(self) -> Response:
        return redirect(url_for("ProjectsView.list"))


class ProjectsView(BaseView):  # type: ignore[misc]
    route_base = "/projects"
    default_view = "list"

    @expose("/")
    @logged_in
    def list(self) -> Any:
        with server.session() as session:
            visible = [project for project in list_projects(session, DEFAULT_OWNER)
                       if may(PROJECT_READ, project_resource(project.owner, project.name))]
            counts = dict(session.execute(
                select(Run.project_id, func.count(Run.id))
                .where(Run.project_id.in_([project.id for project in visible]))
                .group_by(Run.project_id)).all())
            projects = [{"owner": project.owner, "name": project.name,
                         "description": project.description, "tags": list(project.tags or ()),
                         "runs": counts.get(project.id, 0), "created_at": project.created_at}
                        for project in visible]
        return self.render_template(
            "polyaxon/projects.html", projects=projects, owner=DEFAULT_OWNER, title="Projects",
            can_create=may(PROJECT_CREATE, organization_resource(DEFAULT_OWNER)))

    @expose("/<owner>/<name>/")
    @logged_in
    def runs(self, owner: str, name: str) -> Any:
        project = self._project(owner, name)
        resource = project_resource(owner, name)
        return self.render_template(
            "polyaxon/runs.html", project=project, title=f"{owner}/{name}",
            final_statuses=FINAL_STATUSES,
            can={"stop": may(RUN_STOP, resource), "update": may(RUN_UPDATE, resource),
                 "delete": may(RUN_DELETE, resource), "save": may(RUN_CREATE, resource)})

    @expose("/<owner>/<name>/settings")
    @logged_in
    def settings(self, owner: str, name: str) -> Any:
        from polyaxon_core.domain.ci import ci_document, find_ci
        from polyaxon_core.domain.notifications import TRIGGERS, notifier_connections
        from polyaxon_core.domain.queues import DEFAULT_QUEUE, list_queues, unfinished_by_queue

        project = self._project(owner, name)
        resource = project_resource(owner, name)
        with server.session() as session:
            queues = [queue.name for queue in list_queues(session)]
            row = get_project(session, name, owner)
            unfinished = unfinished_by_queue(session, row)
            notifications = list(row.notifications or [])
            ci = ci_document(row, find_ci(session, row))
        return self.render_template(
            "polyaxon/project_settings.html", project=project, title=f"{owner}/{name} settings",
            roles=list(PROJECT_ROLES), queues=queues, default_queue=DEFAULT_QUEUE,
            unfinished=unfinished, notifications=notifications, triggers=TRIGGERS,
            connections=notifier_connections(), ci=ci,
            can={"members": may(PROJECT_MEMBERS, resource), "update": may(PROJECT_UPDATE, resource)})

    @expose("/<owner>/<name>/runs/<uuid>")
    @logged_in
    def run(self, owner: str, name: str, uuid: str) -> Any:
        require(RUN_READ, project_resource(owner, name))
        with server.session() as session:
            row = get_run(session, uuid, get_project(session, name, owner))
            run = run_document(row)
            trials = session.execute(
                select(Run.uuid, Run.name, Run.status).where(Run.pipeline_id == row.id)
                .order_by(Run.id).limit(500)).all()
            clones = session.execute(
                select(Run.uuid, Run.name, Run.cloning_kind).where(Run.original_id == row.id)
                .order_by(Run.id)).all()
            operations = dag_operations(session, row) if row.kind == "dag" else []
        resource = run_resource(owner, name, run["uuid"])
        api_path = f"/{quote(owner, safe='')}/{quote(name, safe='')}/runs/{run['uuid']}"
        if run["kind"] == "matrix":
            allow_shader_compilation()  # the sweep's parallel coordinates
        return self.render_template(
            "polyaxon/run.html", run=run, title=run["name"] or run["uuid"],
            prefetch=[f"{api_path}/statuses", f"{api_path}/logs?offset=0",
                      f"{api_path}/metrics?max_points={CHART_POINTS}"],
            trials=trials, clones=clones, operations=operations, final_statuses=FINAL_STATUSES,
            project={"owner": owner, "name": name},
            can={"stop": may(RUN_STOP, resource), "create": may(RUN_CREATE, resource),
                 "update": may(RUN_UPDATE, resource)})

    @expose("/<owner>/<name>/compare")
    @logged_in
    def compare(self, owner: str, name: str) -> Any:
        """The runs named by ``runs`` (comma-separated uuids), side by side."""
        require(RUN_READ, project_resource(owner, name))
        wanted = [uuid.strip() for uuid in request.args.get("runs", "").split(",") if uuid.strip()]
        if not 2 <= len(wanted) <= MAX_COMPARED:
            abort(400, description=f"choose from 2 to {MAX_COMPARED} runs to compare, not {len(wanted)}")
        with server.session() as session:
            project = get_project(session, name, owner)
            runs = [run_document(get_run(session, uuid, project), detail=False) for uuid in wanted]
        input_names = sorted({key for run in runs for key in run["inputs"]})
        metric_names = sorted({key for run in runs for key in run["metrics"]})
        return self.render_template(
            "polyaxon/compare.html", runs=runs, project={"owner": owner, "name": name},
            input_names=input_names, metric_names=metric_names, title=f"{owner}/{name}: compare")

    @expose("/<owner>/<name>/dashboards/<uuid>")
    @logged_in
    def dashboard(self, owner: str, name: str, uuid: str) -> Any:
        """A saved view: its charts over the runs its query matches, and those runs."""
        from urllib.parse import urlencode

        from polyaxon_core.domain.dashboards import dashboard_document, get_dashboard

        require(PROJECT_READ, project_resource(owner, name))
        user = account()
        with server.session() as session:
            found = get_dashboard(session, get_project(session, name, owner), uuid,
                                  user.id if user is not None else None)
            document = dashboard_document(found)
        spec = document["spec"]
        runs_query = urlencode({key: spec[key] for key in ("query", "sort") if spec[key]})
        return self.render_template(
            "polyaxon/dashboard.html", dashboard=document, project={"owner": owner, "name": name},
            runs_query=runs_query, title=document["name"],
            can={"update": may(RUN_UPDATE, project_resource(owner, name))})

    @staticmethod
    def _project(owner: str, name: str) -> dict[str, Any]:
        require(PROJECT_READ, project_resource(owner, name))
        with server.session() as session:
            project = get_project(session, name, owner)
            return {"owner": project.owner, "name": project.name, "queue": project.queue,
                    "description": project.description, "tags": list(project.tags or ())}
