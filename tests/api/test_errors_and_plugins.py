"""Failures are JSON with the right status, never HTML or a traceback; plugins add routes
after the core's and can take over authentication; --no-auth serves without tokens."""

from __future__ import annotations

import importlib.metadata
import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient

from polyaxon_core.api.app import create_app
from polyaxon_core.config import Settings
from polyaxon_core.plugins import ENTRY_POINT_GROUP, PluginManager, build_plugin_manager
from tests.api.conftest import Account, create_run, run_row


def _with(settings: Settings, *extra: tuple[str, str]) -> PluginManager:
    installed = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    added = [importlib.metadata.EntryPoint(name=name, value=f"tests.api.sample_plugins:{target}",
                                           group=ENTRY_POINT_GROUP) for name, target in extra]
    manager = build_plugin_manager(settings, entry_points=[*installed, *added])
    assert manager.broken == []
    return manager


@pytest.fixture
def plugged(settings: Settings) -> FlaskClient:
    plugins = _with(settings, ("api-sample", "routes"), ("auth-header", "header_auth"))
    return create_app(settings, plugins=plugins).test_client()


def _is_json_error(answer: object, status: int) -> None:
    assert answer.status_code == status  # type: ignore[attr-defined]
    assert answer.mimetype == "application/json"  # type: ignore[attr-defined]
    assert set(answer.json) == {"code", "message", "errors"}  # type: ignore[attr-defined]
    assert answer.json["code"] == status  # type: ignore[attr-defined]


def test_unknown_urls_and_methods_are_json(client: FlaskClient, owner: Account) -> None:
    _is_json_error(client.get("/no/such/page"), 404)
    wrong_method = client.put("/api/v1/default/projects/create", headers=owner.headers)
    _is_json_error(wrong_method, 405)
    assert wrong_method.headers["Allow"] == "POST"


def test_a_body_over_the_json_limit_is_a_413(client: FlaskClient, owner: Account) -> None:
    answer = client.post("/api/v1/default/projects/create", headers=owner.headers,
                         data=b"{" + b" " * (16 * 1024**2) + b"}", content_type="application/json")
    _is_json_error(answer, 413)


def test_a_body_that_is_not_a_json_object_is_a_400(client: FlaskClient, owner: Account) -> None:
    for body in (b"{not json", b"[1, 2]", b""):
        answer = client.post("/api/v1/default/projects/create", headers=owner.headers, data=body,
                             content_type="application/json")
        _is_json_error(answer, 400)


def test_an_unexpected_failure_is_a_generic_500_and_is_logged(
    plugged: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="polyaxon_core.api.errors"):
        answer = plugged.get("/api/v1/sample/explode", headers={"X-Remote-User": "ada"})
    _is_json_error(answer, 500)
    body = answer.get_data(as_text=True)
    assert "secret detail" not in body and "Traceback" not in body
    assert "secret detail of the failure" in caplog.text and "Traceback" in caplog.text


def test_plugin_routes_come_after_the_cores_and_need_authentication(plugged: FlaskClient) -> None:
    _is_json_error(plugged.get("/api/v1/sample/hello"), 401)
    answer = plugged.get("/api/v1/sample/hello", headers={"X-Remote-User": "ada"})
    assert (answer.status_code, answer.json) == (200, {"hello": "from a plugin"})
    # the plugin's /users was registered after the core's and does not replace it
    me = plugged.get("/api/v1/users", headers={"X-Remote-User": "ada"})
    assert me.json["username"] == "ada" and "organization" in me.json


def test_an_authentication_plugin_decides_before_the_default(
    plugged: FlaskClient, owner: Account, project: str
) -> None:
    proxied = {"X-Remote-User": "reader"}
    assert plugged.get("/api/v1/default/p", headers=proxied).status_code == 200
    _is_json_error(plugged.delete("/api/v1/default/p", headers=proxied), 403)
    # requests the plugin does not claim still go to the default token authentication
    assert plugged.get("/api/v1/default/p", headers=owner.headers).status_code == 200


def test_without_authentication_every_request_is_the_local_owner(
    settings: Settings, project: str
) -> None:
    app: Flask = create_app(settings, auth=False)
    client = app.test_client()
    me = client.get("/api/v1/users").json
    assert (me["username"], me["role"]) == ("local", "owner")
    run = create_run(client, Account("local", "unused"))
    assert run["user"] is None and run_row(settings, run["uuid"]).user_id is None
    assert client.delete("/api/v1/users/token").status_code == 400
