"""Init step: the OpenAPI 3 document, generated from the routes and their marshmallow
schemas, at ``/api/v1/openapi.json``, and a Swagger UI page at ``/api/v1/docs``.

The Swagger UI files come from the ``swagger-ui-bundle`` package and are served by this
server, so the page works without internet access.
"""

from __future__ import annotations

import mimetypes
from http import HTTPStatus
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, send_from_directory

from polyaxon_core import __version__
from polyaxon_core.api.blueprints import add_routes
from polyaxon_core.api.common import ErrorSchema
from polyaxon_core.api.extensions import EXTENSION_KEY, ServerState
from polyaxon_core.api.routing import COMMON_ERRORS, PUBLIC, Reply, Route, openapi_path
from polyaxon_core.api.runs.schemas import content_to_openapi
from polyaxon_core.errors import NotFound

DOCUMENT_KEY = "polyaxon.openapi"

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>polyaxon-core API</title>
  <link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/swagger-ui-bundle.js"></script>
  <script src="docs/start.js"></script>
</body>
</html>
"""

#: Swagger UI's start, a file rather than inline so the page's policy allows no inline
#: script; no validator badge (it would load an image from swagger.io), and the document
#: is always this server's (no `?url=` from the address bar)
_START = """window.ui = SwaggerUIBundle({
  url: "openapi.json", dom_id: "#swagger-ui", validatorUrl: null, queryConfigEnabled: false
});
"""

#: the files of Swagger UI the page uses; the package's own index page and initializer
#: (which load the pet-store example from the internet) are not served
SWAGGER_UI_FILES = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png",
                              "favicon-16x16.png"})


def build_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of every documented route the application serves."""
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    state: ServerState = app.extensions[EXTENSION_KEY]
    marshmallow = MarshmallowPlugin()
    spec = APISpec(
        title="polyaxon-core",
        version=__version__,
        openapi_version="3.0.3",
        plugins=[marshmallow],
        info={"description": "Polyaxon v1's REST API: projects, runs, their statuses, logs, "
                             "metrics and artifacts. See docs/api.md."},
    )
    assert marshmallow.converter is not None  # set by APISpec when it registers the plugin
    marshmallow.converter.add_attribute_function(content_to_openapi)
    spec.components.schema("Error", schema=ErrorSchema)
    spec.components.security_scheme("token", {
        "type": "apiKey", "in": "header", "name": "Authorization",
        "description": "`Token <key>`; get a key with POST /api/v1/users/token",
    })
    paths: dict[str, dict[str, Any]] = {}
    for rule in app.url_map.iter_rules():
        route = state.routes.get(rule.endpoint)
        if route is None or not route.documented:
            continue
        path = openapi_path(rule.rule)
        paths.setdefault(path, {})[route.method.lower()] = _operation(route, sorted(rule.arguments))
    for path, operations in sorted(paths.items()):
        spec.path(path=path, operations=operations)
    document = spec.to_dict()
    for route in state.routes.values():  # what a body schema adds to its component
        extra = getattr(route.body, "OPENAPI_EXTRA", None)
        if route.body is not None and extra:
            name = route.body.__name__.removesuffix("Schema")
            document["components"]["schemas"][name].update(extra)
    return document


def _operation(route: Route, path_arguments: list[str]) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in path_arguments
    ]
    if route.query is not None:
        parameters.append({"in": "query", "schema": route.query})
    operation: dict[str, Any] = {
        "tags": [route.tag],
        "summary": route.title,
        "parameters": parameters,
        "responses": {str(status): _reply(reply) for status, reply in route.replies.items()},
        "security": [] if route.access == PUBLIC else [{"token": []}],
    }
    if route.description:
        operation["description"] = route.description
    errors = set(COMMON_ERRORS) | set(route.errors)
    if route.body is not None:
        operation["requestBody"] = {
            "required": True, "content": {"application/json": {"schema": route.body}}}
        errors.update((413, 415))  # JSON bodies have a size limit and a content type
    if route.raw_body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {route.raw_body: {"schema": {"type": "string", "format": "binary"}}}}
    for status in sorted(errors):
        operation["responses"][str(status)] = {
            "description": HTTPStatus(status).phrase,
            "content": {"application/json": {"schema": "Error"}},
        }
    return operation


def _reply(reply: Reply) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": reply.description}
    content: dict[str, Any] = {}
    if reply.schema is not None:
        content[reply.content_type] = {"schema": reply.schema}
    elif reply.content_type != "application/json":
        content[reply.content_type] = {"schema": {"type": "string", "format": "binary"}}
    for content_type in reply.also:
        content[content_type] = {"schema": {"type": "string"}}
    if content:
        answer["content"] = content
    return answer


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3 document of this API."""
    if DOCUMENT_KEY not in current_app.extensions:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        current_app.extensions[DOCUMENT_KEY] = build_document(app)
    document: dict[str, Any] = current_app.extensions[DOCUMENT_KEY]
    return document


def swagger_ui() -> Response:
    """Swagger UI over the OpenAPI document."""
    return Response(_PAGE, mimetype="text/html")


def swagger_ui_asset(filename: str) -> Response:
    """A file of Swagger UI."""
    if filename == "start.js":
        return Response(_START, mimetype="text/javascript")
    if filename not in SWAGGER_UI_FILES:
        raise NotFound(f"the API docs have no file {filename!r}")
    from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

    return send_from_directory(Path(swagger_ui_path), filename,
                               mimetype=mimetypes.guess_type(filename)[0])


ROUTES = [
    Route("GET", "/api/v1/openapi.json", openapi_document, PUBLIC, "server",
          {200: Reply("the OpenAPI 3 document", {"type": "object"})}),
    Route("GET", "/api/v1/docs", swagger_ui, PUBLIC, "server",
          {200: Reply("an HTML page", content_type="text/html")}),
    Route("GET", "/api/v1/docs/<path:filename>", swagger_ui_asset, PUBLIC, "server",
          {200: Reply("a file of Swagger UI")}, documented=False),
]


def init_openapi(app: Flask) -> None:
    add_routes(app, ROUTES, app.extensions[EXTENSION_KEY])
