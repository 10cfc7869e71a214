"""The application factory.

``polyaxon server`` serves ``create_app()`` for local use; in production run it under
gunicorn, e.g. ``gunicorn -w 4 -k polyaxon_core.api.gunicorn_worker.JsonErrorWorker
--threads 8 -b 0.0.0.0:8000 'polyaxon_core.api.app:create_app()'`` (threads keep
log-following streams from holding a whole worker; the worker answers unparseable
requests in JSON). Each step below is one module of this package.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from flask import Flask

from polyaxon_core.accounts import set_hashing_concurrency
from polyaxon_core.api.blueprints import init_blueprints
from polyaxon_core.api.config import (
    MAX_JSON_BYTES,
    ServerConfig,
    allowed_hosts_from_environment,
    allowed_origins_from_environment,
    log_stream_limits_from_environment,
    login_limits_from_environment,
    max_upload_bytes_from_environment,
    normalize_host_names,
    normalize_origins,
)
from polyaxon_core.api.database import init_database
from polyaxon_core.api.errors import init_error_handlers
from polyaxon_core.api.extensions import server
from polyaxon_core.api.headers import init_security_headers
from polyaxon_core.api.health import init_health
from polyaxon_core.api.openapi import init_openapi
from polyaxon_core.api.proxy import init_proxy
from polyaxon_core.api.request_checks import init_request_checks
from polyaxon_core.api.security import init_security
from polyaxon_core.api.webapp import init_webapp
from polyaxon_core.config import Settings, load_settings
from polyaxon_core.plugins import PluginManager, get_plugin_manager

logger = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    auth: bool = True,
    plugins: PluginManager | None = None,
    orchestrator: bool | None = None,
    max_upload_bytes: int | None = None,
    allowed_hosts: Sequence[str] = (),
    allowed_origins: Sequence[str] = (),
) -> Flask:
    """The REST API as a WSGI application.

    ``settings`` default to the environment's (``POLYAXON_HOME``, ``POLYAXON_DB_URL``,
    ...); the database is migrated if needed. ``auth=False`` serves every request as an
    organization owner: only for a server nobody else can reach (``polyaxon server``
    allows it on localhost only). ``plugins`` defaults to the installed plugins.
    ``orchestrator``: start the embedded orchestrator when runs are queued, as
    ``polyaxon run`` does; by default only when the settings come from the environment,
    because the orchestrator it starts reads them from there. ``max_upload_bytes``
    defaults to ``POLYAXON_MAX_UPLOAD_BYTES`` (1 GiB). ``allowed_hosts`` (``Host`` names
    served besides the loopback ones) and ``allowed_origins`` (other sites' web
    applications that may call the API) add to ``POLYAXON_ALLOWED_HOSTS`` and
    ``POLYAXON_ALLOWED_ORIGINS``.

    With the settings from the environment, the configured scheduler and store are
    checked first: a name no installed plugin provides, or other backends than those of
    the orchestrator already serving the home, raise ConfigurationError, so the server
    refuses to start instead of accepting runs nothing will start.
    """
    from_environment = settings is None
    settings = settings or load_settings()
    plugins = plugins or get_plugin_manager()
    if from_environment:
        from polyaxon_core.orchestrator.backends import check_backends, check_running_orchestrator

        check_backends(settings, plugins)
        check_running_orchestrator(settings)
    config = ServerConfig(
        auth=auth,
        max_upload_bytes=max_upload_bytes or max_upload_bytes_from_environment(),
        orchestrator_on_demand=from_environment if orchestrator is None else orchestrator,
        allowed_hosts=normalize_host_names(
            [*allowed_hosts_from_environment(), *allowed_hosts], "POLYAXON_ALLOWED_HOSTS"),
        allowed_origins=normalize_origins(
            [*allowed_origins_from_environment(), *allowed_origins], "POLYAXON_ALLOWED_ORIGINS"),
        **log_stream_limits_from_environment(),  # type: ignore[arg-type]
        **login_limits_from_environment(),  # type: ignore[arg-type]
    )
    set_hashing_concurrency(config.password_hashing_concurrency)
    app = Flask(__name__, static_folder=None)
    # `//` in a path is no route (a 404), not a redirect page to the merged path
    app.url_map.merge_slashes = False
    app.config["MAX_CONTENT_LENGTH"] = MAX_JSON_BYTES
    server.init_app(app, settings, config, plugins)
    init_database(app)
    init_error_handlers(app)
    init_security_headers(app)
    init_request_checks(app)
    init_security(app)
    init_blueprints(app)
    init_proxy(app)
    init_health(app)
    init_openapi(app)
    init_webapp(app)
    if not auth:
        logger.warning("authentication is OFF: every request is served as an organization owner")
    return app
