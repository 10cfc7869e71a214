"""Init step: the UI's configuration: its secret key, its cookies, Flask-AppBuilder's
settings (no tables, no API of its own, no security views but the login).

The key that signs the session cookies comes from ``POLYAXON_WEB_SECRET_KEY`` (give every
replica behind a load balancer the same), else from ``$POLYAXON_HOME/webapp-secret-key``,
created on first use, readable by the server's user only. Cookies are ``HttpOnly`` and
``SameSite=Lax``; ``POLYAXON_WEB_SECURE_COOKIES=1`` (behind HTTPS) makes them ``Secure``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask

from polyaxon_core.api.extensions import server
from polyaxon_core.config import ConfigurationError
from polyaxon_webapp.sessions import SESSION_LIFETIME

SECRET_KEY_VARIABLE = "POLYAXON_WEB_SECRET_KEY"
SECURE_COOKIES_VARIABLE = "POLYAXON_WEB_SECURE_COOKIES"
SECRET_KEY_FILE = "webapp-secret-key"
MIN_SECRET_KEY_LENGTH = 32


def init_config(app: Flask) -> None:
    secure = os.environ.get(SECURE_COOKIES_VARIABLE, "").strip().lower() in {"1", "true", "yes"}
    app.config.update(
        SECRET_KEY=secret_key(server.settings.home),
        SESSION_COOKIE_NAME="polyaxon_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        WTF_CSRF_TIME_LIMIT=int(SESSION_LIFETIME.total_seconds()),
        WTF_CSRF_SSL_STRICT=secure,
        APP_NAME="Polyaxon",
        FAB_BASE_TEMPLATE="polyaxon/layout.html",
        FAB_INDEX_VIEW="polyaxon_webapp.views.IndexView",
        FAB_UPDATE_PERMS=False,
        FAB_ADD_SECURITY_VIEWS=True,
        FAB_ADD_MENU_API=False,
        FAB_ADD_OPENAPI_VIEWS=False,
        FAB_SECURITY_MANAGER_CLASS="polyaxon_webapp.security.PolyaxonSecurityManager",
        LANGUAGES={},
    )


def secret_key(home: Path) -> str:
    """The key that signs session cookies (see the module's docstring)."""
    configured = os.environ.get(SECRET_KEY_VARIABLE, "").strip()
    if configured:
        if len(configured) < MIN_SECRET_KEY_LENGTH:
            raise ConfigurationError(
                f"{SECRET_KEY_VARIABLE} is {len(configured)} characters long; use at least "
                f"{MIN_SECRET_KEY_LENGTH} random ones, e.g. from `python -c \"import secrets; "
                "print(secrets.token_urlsafe(48))\"`")
        return configured
    path = home / SECRET_KEY_FILE
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        # written whole, then linked into place: replicas starting at once agree on one key
        temporary = home / f".{SECRET_KEY_FILE}.{os.getpid()}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    key = path.read_text().strip()
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise ConfigurationError(
            f"{path} holds no usable key (fewer than {MIN_SECRET_KEY_LENGTH} characters); "
            f"delete it to have a new one made, or set {SECRET_KEY_VARIABLE}")
    return key
