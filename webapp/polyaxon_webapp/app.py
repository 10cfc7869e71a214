"""The UI's application factory: one-line init steps on the server's Flask application.

``polyaxon server`` (and gunicorn on ``polyaxon_core.api.app:create_app()``) builds the
API's application; the ``webapp`` plugin then runs :func:`init_app` on it, so one process
and one login serve the pages at ``/`` and the API at ``/api/v1``.
"""

from __future__ import annotations

from flask import Flask

from polyaxon_webapp.config import init_config
from polyaxon_webapp.csrf import init_csrf
from polyaxon_webapp.errors import init_error_pages
from polyaxon_webapp.headers import init_page_headers
from polyaxon_webapp.views import init_appbuilder, init_core_views, init_plugin_views


def init_app(app: Flask) -> None:
    init_config(app)
    init_csrf(app)
    appbuilder = init_appbuilder(app)
    init_core_views(appbuilder)
    init_plugin_views(appbuilder)
    init_page_headers(app)
    init_error_pages(app)
