"""Auth hooks are ``firstresult``: a third-party answer wins over a ``trylast`` default."""

from __future__ import annotations

from collections.abc import Callable

import flask
import pytest

from polyaxon_core.plugins import PluginManager

MakeManager = Callable[..., PluginManager]

PROJECT = {"kind": "project", "owner": "ada", "name": "mnist"}


@pytest.fixture(params=["auth-a-token", "auth-z-token"], ids=["token-first", "token-last"])
def manager(request: pytest.FixtureRequest, make_manager: MakeManager) -> PluginManager:
    """The default and the token plugin, the token one registered before or after."""
    return make_manager([("auth-default", "auth:default"), (request.param, "auth:token")])


def test_a_third_party_user_wins_over_the_default(manager: PluginManager) -> None:
    request = flask.Request.from_values(headers={"X-Token": "token-ada"})
    user = manager.hook.polyaxon_authenticate(request=request)
    assert user.username == "ada"


def test_when_the_third_party_answers_none_the_default_decides(manager: PluginManager) -> None:
    request = flask.Request.from_values(headers={"X-Token": "unknown"})
    user = manager.hook.polyaxon_authenticate(request=request)
    assert user.username == "anonymous"


def test_a_third_party_denial_wins_over_the_default_allow(manager: PluginManager) -> None:
    auditor = manager.hook.polyaxon_authenticate(
        request=flask.Request.from_values(headers={"X-Token": "token-auditor"})
    )
    assert manager.hook.polyaxon_authorize(user=auditor, action="run.delete",
                                           resource=PROJECT) is False
    assert manager.hook.polyaxon_authorize(user=auditor, action="project.read",
                                           resource=PROJECT) is True


def test_authorization_falls_through_to_the_default_for_other_users(
    manager: PluginManager,
) -> None:
    ada = manager.hook.polyaxon_authenticate(
        request=flask.Request.from_values(headers={"X-Token": "token-ada"})
    )
    assert manager.hook.polyaxon_authorize(user=ada, action="run.delete",
                                           resource=PROJECT) is True


def test_with_no_auth_plugin_nobody_answers(make_manager: MakeManager) -> None:
    manager = make_manager([])
    request = flask.Request.from_values()
    assert manager.hook.polyaxon_authenticate(request=request) is None
    assert manager.hook.polyaxon_authorize(user=None, action="project.read",
                                           resource=PROJECT) is None
