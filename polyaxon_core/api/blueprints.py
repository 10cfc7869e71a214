"""Init step: the ``/api/v1`` and ``/streams/v1`` blueprints, core routes first, then plugins'."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Blueprint, Flask

from polyaxon_core.api.admin.api import ROUTES as ADMIN_ROUTES
from polyaxon_core.api.agents.api import ROUTES as AGENT_ROUTES
from polyaxon_core.api.ci.api import ROUTES as CI_ROUTES
from polyaxon_core.api.dashboards.api import ROUTES as DASHBOARD_ROUTES
from polyaxon_core.api.extensions import EXTENSION_KEY, ServerState
from polyaxon_core.api.projects.api import ROUTES as PROJECT_ROUTES
from polyaxon_core.api.queues.api import ROUTES as QUEUE_ROUTES
from polyaxon_core.api.quotas.api import ROUTES as QUOTA_ROUTES
from polyaxon_core.api.routing import Route
from polyaxon_core.api.runs.api import ROUTES as RUN_ROUTES
from polyaxon_core.api.runs.artifacts import ROUTES as ARTIFACT_ROUTES
from polyaxon_core.api.runs.logs import ROUTES as LOG_ROUTES
from polyaxon_core.api.runs.logs import STREAM_ROUTES
from polyaxon_core.api.runs.metrics import ROUTES as METRIC_ROUTES
from polyaxon_core.api.teams.api import ROUTES as TEAM_ROUTES
from polyaxon_core.api.users.api import ROUTES as USER_ROUTES
from polyaxon_core.api.versions.api import ROUTES as VERSION_ROUTES

API_PREFIX = "/api/v1"
STREAMS_PREFIX = "/streams/v1"

API_ROUTES: list[Route] = [
    *USER_ROUTES, *ADMIN_ROUTES, *TEAM_ROUTES, *PROJECT_ROUTES, *RUN_ROUTES, *LOG_ROUTES,
    *METRIC_ROUTES, *ARTIFACT_ROUTES, *DASHBOARD_ROUTES, *QUEUE_ROUTES, *QUOTA_ROUTES, *CI_ROUTES,
    *AGENT_ROUTES, *VERSION_ROUTES,
]


def add_routes(target: Flask | Blueprint, routes: Iterable[Route], state: ServerState,
               prefix: str = "") -> None:
    """Serve ``routes`` on ``target`` and record them for security and the OpenAPI document."""
    for route in routes:
        target.add_url_rule(route.rule, endpoint=route.endpoint, view_func=route.view,
                            methods=[route.method], provide_automatic_options=False)
        state.routes[f"{prefix}{route.endpoint}"] = route


def init_blueprints(app: Flask) -> None:
    """Mount the API; plugins add their routes (``polyaxon_register_api``) after the core's."""
    state: ServerState = app.extensions[EXTENSION_KEY]
    api = Blueprint("api", __name__, url_prefix=API_PREFIX)
    add_routes(api, API_ROUTES, state, prefix="api.")
    state.plugins.hook.polyaxon_register_api(blueprint=api)
    app.register_blueprint(api)
    streams = Blueprint("streams", __name__, url_prefix=STREAMS_PREFIX)
    add_routes(streams, STREAM_ROUTES, state, prefix="streams.")
    app.register_blueprint(streams)
