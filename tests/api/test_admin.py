"""Administration through the API: users, organization roles, tokens, the audit log and
changing your own password, with the roles' hierarchy."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from polyaxon_core.config import Settings
from tests.api.conftest import Account, MakeUser

PASSWORD = "long enough password"


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> Any:
    return client.post("/api/v1/users/token", json={"username": username, "password": password})


def patch(client: FlaskClient, account: Account, username: str, **body: Any) -> Any:
    return client.patch(f"/api/v1/orgs/default/users/{username}", headers=account.headers,
                        json=body)


def audit(client: FlaskClient, account: Account, **query: str) -> list[dict[str, Any]]:
    answer = client.get("/api/v1/orgs/default/audit", headers=account.headers,
                        query_string={"limit": 100, **query})
    assert answer.status_code == 200, answer.json
    return list(reversed(answer.json["results"]))  # oldest first


def test_an_owner_creates_lists_and_reads_users(client: FlaskClient, owner: Account) -> None:
    created = client.post("/api/v1/orgs/default/users", headers=owner.headers,
                          json={"username": "ada", "password": "analytical engine",
                                "email": "ada@example.org", "role": "admin"})
    assert created.status_code == 201, created.json
    assert created.json["role"] == "admin" and created.json["is_active"] is True
    assert login(client, "ada", "analytical engine").status_code == 200

    listed = client.get("/api/v1/orgs/default/members", headers=owner.headers).json
    assert [(m["username"], m["role"]) for m in listed["results"]] == [("ada", "admin"),
                                                                       ("olivia", "owner")]
    assert "password" not in str(listed)
    shown = client.get("/api/v1/orgs/default/users/ada", headers=owner.headers).json
    assert shown["email"] == "ada@example.org"


def test_password_rules_and_duplicates_are_clear_errors(client: FlaskClient,
                                                        owner: Account) -> None:
    common = client.post("/api/v1/orgs/default/users", headers=owner.headers,
                         json={"username": "bob", "password": "password123"})
    assert common.status_code == 422 and "most common" in common.json["message"]
    same = client.post("/api/v1/orgs/default/users", headers=owner.headers,
                       json={"username": "olivia", "password": "another long one"})
    assert same.status_code == 409 and "already exists" in same.json["message"]
    listed = client.get("/api/v1/orgs/default/members", headers=owner.headers).json
    assert listed["count"] == 1  # nothing half-created


def test_deactivation_ends_every_token_and_reactivation_needs_a_new_login(
    client: FlaskClient, owner: Account, make_user: MakeUser
) -> None:
    ada = make_user("ada", organization_role="member")
    assert client.get("/api/v1/users", headers=ada.headers).status_code == 200

    assert patch(client, owner, "ada", is_active=False).json["is_active"] is False
    assert client.get("/api/v1/users", headers=ada.headers).status_code == 401
    assert login(client, "ada").status_code == 401
    assert patch(client, owner, "ada", is_active=True).json["is_active"] is True
    assert client.get("/api/v1/users", headers=ada.headers).status_code == 401  # revoked
    assert login(client, "ada").status_code == 200


def test_the_hierarchy_holds_for_organization_roles(client: FlaskClient, owner: Account,
                                                    make_user: MakeUser) -> None:
    manager = make_user("max", organization_role="manager")
    make_user("ada", organization_role="member")
    make_user("oscar", organization_role="owner")

    assert patch(client, manager, "ada", role="admin").status_code == 200
    promoted = patch(client, manager, "ada", role="owner")
    assert promoted.status_code == 403 and "give the role 'owner'" in promoted.json["message"]
    demoted = patch(client, manager, "oscar", role="viewer")
    assert demoted.status_code == 403 and "change the user oscar" in demoted.json["message"]
    # deactivating or resetting a password needs users.manage, which a manager lacks
    assert patch(client, manager, "ada", is_active=False).status_code == 403
    assert patch(client, manager, "ada", password="a fresh long one").status_code == 403
    roles = {m["username"]: m["role"] for m in
             client.get("/api/v1/orgs/default/members", headers=owner.headers).json["results"]}
    assert roles == {"ada": "admin", "max": "manager", "olivia": "owner", "oscar": "owner"}


def test_the_last_owner_and_yourself_cannot_be_deactivated_or_demoted(
    client: FlaskClient, owner: Account
) -> None:
    yourself = patch(client, owner, "olivia", is_active=False)
    assert yourself.status_code == 409 and "yourself" in yourself.json["message"]
    last = patch(client, owner, "olivia", role="manager")
    assert last.status_code == 409 and "last owner" in last.json["message"]


def test_tokens_are_listed_without_keys_and_any_can_be_revoked(
    client: FlaskClient, owner: Account, make_user: MakeUser
) -> None:
    ada = make_user("ada")
    listed = client.get("/api/v1/orgs/default/tokens", headers=owner.headers,
                        query_string={"user": "ada"}).json
    assert listed["count"] == 1
    token = listed["results"][0]
    assert token["user"] == "ada" and token["state"] == "active"
    assert ada.token[:8] == token["prefix"] and ada.token not in str(listed)

    revoked = client.delete(f"/api/v1/orgs/default/tokens/{token['id']}", headers=owner.headers)
    assert revoked.status_code == 204
    assert client.get("/api/v1/users", headers=ada.headers).status_code == 401
    again = client.delete(f"/api/v1/orgs/default/tokens/{token['id']}", headers=owner.headers)
    assert again.status_code == 409
    assert client.get("/api/v1/orgs/default/tokens", headers=owner.headers,
                      query_string={"user": "ada"}).json["count"] == 0
    every = client.get("/api/v1/orgs/default/tokens", headers=owner.headers,
                       query_string={"user": "ada", "all": "true"}).json["results"]
    assert [t["state"] for t in every] == ["revoked"]
    unknown = client.delete("/api/v1/orgs/default/tokens/999999", headers=owner.headers)
    assert unknown.status_code == 404 and "polyaxon admin tokens" in unknown.json["message"]


def test_changing_your_password_keeps_this_token_and_revokes_the_others(
    client: FlaskClient, make_user: MakeUser, new_token: Any
) -> None:
    ada = make_user("ada")
    other = new_token("ada")
    wrong = client.post("/api/v1/users/password", headers=ada.headers,
                        json={"current_password": "not it at all", "new_password": "brand new words"})
    assert wrong.status_code == 422 and "current password is not right" in wrong.json["message"]
    weak = client.post("/api/v1/users/password", headers=ada.headers,
                       json={"current_password": PASSWORD, "new_password": "ada12345"})
    assert weak.status_code == 422 and "too close to the username" in weak.json["message"]

    changed = client.post("/api/v1/users/password", headers=ada.headers,
                          json={"current_password": PASSWORD, "new_password": "brand new words"})
    assert changed.status_code == 200 and changed.json == {"revoked_tokens": 1}
    assert client.get("/api/v1/users", headers=ada.headers).status_code == 200
    assert client.get("/api/v1/users", headers=other.headers).status_code == 401
    assert login(client, "ada").status_code == 401
    assert login(client, "ada", "brand new words").status_code == 200


def test_the_audit_log_records_who_did_what_and_filters(client: FlaskClient, settings: Settings,
                                                        owner: Account,
                                                        make_user: MakeUser) -> None:
    client.post("/api/v1/orgs/default/users", headers=owner.headers,
                json={"username": "ada", "password": "analytical engine"})
    login(client, "ada", "wrong password")
    patch(client, owner, "ada", role="viewer", is_active=False, email="ada@example.org")
    patch(client, owner, "ada", is_active=True)

    events = audit(client, owner)
    assert [(e["event"], e["actor"], e["target"]) for e in events] == [
        ("user.created", "olivia", "user:ada"),
        ("login.failed", "ada", "user:ada"),
        ("organization.role_changed", "olivia", "user:ada"),
        ("user.deactivated", "olivia", "user:ada"),
        ("user.updated", "olivia", "user:ada"),
        ("user.reactivated", "olivia", "user:ada"),
    ]
    assert events[2]["detail"] == {"role_before": "member", "role_after": "viewer"}
    assert all(e["address"] == "127.0.0.1" for e in events)
    assert "analytical engine" not in str(events)
    only = audit(client, owner, event="user.deactivated,user.reactivated")
    assert [e["event"] for e in only] == ["user.deactivated", "user.reactivated"]
    assert [e["event"] for e in audit(client, owner, actor="ada")] == ["login.failed"]
    bad = client.get("/api/v1/orgs/default/audit", headers=owner.headers,
                     query_string={"event": "login.maybe"})
    assert bad.status_code == 400
    assert bad.json["errors"]["event"][0].startswith(
        "'login.maybe' is not a comma-separated list of audit events; known: login.succeeded")


def test_members_and_viewers_cannot_administer(client: FlaskClient, make_user: MakeUser) -> None:
    for role in ("admin", "member", "viewer"):
        account = make_user(f"u-{role}", organization_role=role)
        for method, path in (("GET", "/api/v1/orgs/default/audit"),
                             ("GET", "/api/v1/orgs/default/tokens"),
                             ("GET", "/api/v1/orgs/default/members")):
            assert client.open(path, method=method, headers=account.headers).status_code == 403
