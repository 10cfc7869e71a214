"""Init step: ``GET /healthz``, for load balancers and process managers."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response
from marshmallow import Schema, fields
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from polyaxon_core.api.blueprints import add_routes
from polyaxon_core.api.errors import error_response
from polyaxon_core.api.extensions import EXTENSION_KEY, server
from polyaxon_core.api.routing import PUBLIC, Reply, Route
from polyaxon_core.db.session import get_engine


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"description": "`ok`"})


def healthz() -> tuple[dict[str, Any], int] | Response:
    """Whether the server is up and reaches its database (503 when it does not)."""
    try:
        with get_engine(server.settings.db_url).connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return error_response(503, f"the database does not answer: {type(exc).__name__}")
    return {"status": "ok"}, 200


ROUTES = [Route("GET", "/healthz", healthz, PUBLIC, "server",
                {200: Reply("the server and its database answer", HealthSchema)}, errors=(503,))]


def init_health(app: Flask) -> None:
    add_routes(app, ROUTES, app.extensions[EXTENSION_KEY])
