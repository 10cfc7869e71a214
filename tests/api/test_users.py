"""Tokens and who am I: exchanging a password, the header forms, expiry and revocation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from polyaxon_core import accounts
from polyaxon_core.config import Settings
from polyaxon_core.db.session import session_scope
from tests.api.conftest import MakeUser


def test_a_password_is_exchanged_for_a_token_that_authenticates(
    client: FlaskClient, make_user: MakeUser
) -> None:
    make_user("ada", organization_role="admin")
    answer = client.post("/api/v1/users/token",
                         json={"username": "ada", "password": "long enough password"})
    assert answer.status_code == 200 and answer.json["expires_at"] is not None
    me = client.get("/api/v1/users", headers={"Authorization": f"Token {answer.json['token']}"})
    assert me.status_code == 200
    assert me.json == {"username": "ada", "email": None, "organization": "default",
                       "role": "admin", "project_roles": {}}


def test_the_official_sdks_login_path_answers_the_same(
    client: FlaskClient, make_user: MakeUser
) -> None:
    make_user("ada")
    answer = client.post("/api/v1/auth/token",
                         json={"username": "ada", "password": "long enough password"})
    assert answer.status_code == 200 and len(answer.json["token"]) > 20


def test_wrong_credentials_are_a_401_that_does_not_say_which_part_was_wrong(
    client: FlaskClient, make_user: MakeUser
) -> None:
    make_user("ada")
    wrong_password = client.post("/api/v1/users/token", json={"username": "ada", "password": "nope"})
    no_such_user = client.post("/api/v1/users/token", json={"username": "bob", "password": "nope"})
    assert wrong_password.status_code == no_such_user.status_code == 401
    assert wrong_password.json == no_such_user.json


@pytest.mark.parametrize("scheme", ["Token", "token", "Bearer"])
def test_the_token_is_accepted_in_every_header_form(
    client: FlaskClient, make_user: MakeUser, scheme: str
) -> None:
    ada = make_user("ada")
    answer = client.get("/api/v1/users", headers={"Authorization": f"{scheme} {ada.token}"})
    assert answer.status_code == 200 and answer.json["username"] == "ada"


@pytest.mark.parametrize("header", ["Token nonsense", "Basic YWRhOnB3", "Token"])
def test_bad_credentials_are_a_401_with_the_json_error(
    client: FlaskClient, header: str
) -> None:
    answer = client.get("/api/v1/users", headers={"Authorization": header})
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Token")
    assert set(answer.json) == {"code", "message", "errors"}


def test_a_revoked_token_no_longer_authenticates(client: FlaskClient, make_user: MakeUser) -> None:
    ada = make_user("ada")
    assert client.delete("/api/v1/users/token", headers=ada.headers).status_code == 204
    refused = client.get("/api/v1/users", headers=ada.headers)
    assert refused.status_code == 401 and "revoked" in refused.json["message"]


def test_an_expired_token_no_longer_authenticates(
    client: FlaskClient, settings: Settings, make_user: MakeUser
) -> None:
    make_user("ada")
    with session_scope(settings.db_url) as session:
        _, key = accounts.issue_token(session, accounts.get_user(session, "ada"),
                                      expires_in=timedelta(seconds=-1))
    assert client.get("/api/v1/users", headers={"Authorization": f"Token {key}"}).status_code == 401


def test_a_deactivated_user_is_refused(
    client: FlaskClient, settings: Settings, make_user: MakeUser
) -> None:
    ada = make_user("ada")
    with session_scope(settings.db_url) as session:
        accounts.get_user(session, "ada").is_active = False
    assert client.get("/api/v1/users", headers=ada.headers).status_code == 401


def test_whoami_lists_the_project_roles(
    client: FlaskClient, make_user: MakeUser, project: str
) -> None:
    guest = make_user("guest", organization_role=None, projects={"p": "member"})
    me = client.get("/api/v1/users", headers=guest.headers).json
    assert (me["role"], me["project_roles"]) == (None, {"default/p": "member"})
