"""The ``webapp`` plugin: the UI on the server's application, and its browser sessions
as a way to call the API.

Importing this module is cheap (every process that builds the plugin manager does);
Flask-AppBuilder is imported only when a server mounts the UI.
"""

from __future__ import annotations

from typing import Any

from polyaxon_core.hookspecs import hookimpl


@hookimpl
def polyaxon_register_webapp(app: Any) -> bool:
    from polyaxon_webapp.app import init_app

    init_app(app)
    return True


@hookimpl
def polyaxon_authenticate(request: Any) -> Any | None:
    """The user of the browser session that sent an API request (the pages' scripts call
    the API with the session cookie and its CSRF token); None for any other request."""
    from flask import current_app

    if "appbuilder" not in current_app.extensions:
        return None
    from polyaxon_webapp.sessions import session_user

    return session_user(request)
