"""The OpenAPI document: valid, complete, generated from the routes; Swagger UI served locally."""

from __future__ import annotations

import re

import schemathesis
from flask import Flask
from flask.testing import FlaskClient

from polyaxon_core.api.extensions import EXTENSION_KEY
from polyaxon_core.api.routing import PUBLIC, openapi_path


def test_the_document_is_valid_openapi_3(client: FlaskClient) -> None:
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200 and answer.json["openapi"].startswith("3.0")
    schemathesis.openapi.from_dict(answer.json).validate()


def test_every_documented_route_is_in_the_document_with_its_security(
    app: Flask, client: FlaskClient
) -> None:
    document = client.get("/api/v1/openapi.json").json
    routes = app.extensions[EXTENSION_KEY].routes
    documented = 0
    pages = app.extensions[EXTENSION_KEY].page_endpoints
    for rule in app.url_map.iter_rules():
        if rule.endpoint in pages:
            continue  # the web UI's pages are not the API
        route = routes[rule.endpoint]
        if not route.documented:
            continue
        operation = document["paths"][openapi_path(rule.rule)][route.method.lower()]
        assert operation["security"] == ([] if route.access == PUBLIC else [{"token": []}])
        assert set(map(int, operation["responses"])) >= set(route.replies)
        documented += 1
    assert documented == sum(len(methods) for methods in document["paths"].values())


def test_run_objects_are_documented_with_polyaxons_field_names(client: FlaskClient) -> None:
    run = client.get("/api/v1/openapi.json").json["components"]["schemas"]["Run"]
    for name in ("uuid", "name", "description", "tags", "kind", "runtime", "status", "inputs",
                 "outputs", "meta_info", "pipeline", "original", "cloning_kind", "created_at",
                 "updated_at", "started_at", "finished_at", "wait_time", "duration", "settings",
                 "metrics"):
        assert name in run["properties"], name


def test_swagger_ui_is_served_without_any_outside_resource(client: FlaskClient) -> None:
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert not re.search(r"https?://", html)
    for asset in re.findall(r'(?:href|src)="(docs/[^"]+)"', html):
        answer = client.get(f"/api/v1/{asset}")
        assert answer.status_code == 200, asset
        assert asset == "docs/start.js" or len(answer.data) > 10_000, asset
