"""Init step: bring the database to the newest schema before serving."""

from __future__ import annotations

from flask import Flask

from polyaxon_core.api.extensions import EXTENSION_KEY
from polyaxon_core.db.session import ensure_database, get_engine


def init_database(app: Flask) -> None:
    """Migrate the server's database if needed."""
    url = app.extensions[EXTENSION_KEY].settings.db_url
    ensure_database(url)
    # Workers forked after this (gunicorn --preload) must open connections of their own.
    get_engine(url).dispose()
