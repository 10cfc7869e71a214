"""Init step: the web UI, when a plugin serves one (``polyaxon_register_webapp``).

The API knows nothing of the UI: the ``polyaxon-webapp`` distribution answers the hook by
mounting its pages on the same application, so one process and one login serve both.
"""

from __future__ import annotations

import logging

from flask import Flask

from polyaxon_core.api.extensions import server

logger = logging.getLogger(__name__)


def init_webapp(app: Flask) -> None:
    """Let a UI plugin mount its pages; the endpoints it adds are recorded as its own
    (:attr:`~polyaxon_core.api.extensions.ServerState.page_endpoints`)."""
    before = set(app.view_functions)
    with app.app_context():
        served = server.hook.polyaxon_register_webapp(app=app)
        server.state.page_endpoints = frozenset(set(app.view_functions) - before)
    app.extensions["polyaxon_webapp"] = bool(served)
    if not served:
        logger.info("no web UI plugin is installed: serving the API only")
