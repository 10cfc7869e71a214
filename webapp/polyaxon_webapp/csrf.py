"""Init step: CSRF protection on every form and state-changing request of the pages.

The API's routes are left to its own checks: a request with a token is not a browser's,
and one with the session cookie must carry the CSRF token in ``X-CSRFToken``
(:func:`polyaxon_webapp.sessions.session_user`).
"""

from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from polyaxon_core.api.security import API_BLUEPRINTS

csrf = CSRFProtect()


def init_csrf(app: Flask) -> None:
    csrf.init_app(app)
    for name in API_BLUEPRINTS:
        csrf.exempt(app.blueprints[name])
