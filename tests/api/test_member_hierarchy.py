"""Roles have a hierarchy: nobody gives, changes or removes a role above their own, and a
project keeps its last owner. Membership changes and deletions reach the audit log."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from polyaxon_core import accounts
from polyaxon_core.config import Settings
from polyaxon_core.db.models import AuditEvent
from polyaxon_core.db.session import session_scope
from polyaxon_core.domain.projects import get_project
from polyaxon_core.errors import Conflict
from tests.api.conftest import Account, MakeUser, create_run, finish


def members(client: FlaskClient, account: Account) -> dict[str, str]:
    answer = client.get("/api/v1/default/p/members", headers=account.headers)
    assert answer.status_code == 200, answer.json
    return {member["user"]: member["role"] for member in answer.json["results"]}


def add(client: FlaskClient, account: Account, user: str, role: str) -> tuple[int, str]:
    answer = client.post("/api/v1/default/p/members", headers=account.headers,
                         json={"user": user, "role": role})
    return answer.status_code, answer.json["message"] if answer.status_code >= 400 else ""


def remove(client: FlaskClient, account: Account, user: str) -> tuple[int, str]:
    answer = client.delete(f"/api/v1/default/p/members/{user}", headers=account.headers)
    return answer.status_code, answer.json["message"] if answer.status_code >= 400 else ""


def audit(settings: Settings) -> list[tuple[str, str | None, str | None, dict[str, object]]]:
    with session_scope(settings.db_url) as session:
        return [(row.event, row.actor, row.target, row.detail)
                for row in session.query(AuditEvent).order_by(AuditEvent.id)]


def test_a_project_admin_cannot_touch_an_owner(client: FlaskClient, make_user: MakeUser,
                                               project: str) -> None:
    owner = make_user("oscar", organization_role=None, projects={"p": "owner"})
    admin = make_user("ada", organization_role=None, projects={"p": "admin"})
    make_user("mel", organization_role=None, projects={"p": "member"})

    assert add(client, admin, "mel", "viewer") == (200, "")  # below: allowed
    status, message = add(client, admin, "oscar", "viewer")
    assert status == 403 and "change the role of oscar" in message
    assert "project.delete" in message
    status, message = remove(client, admin, "oscar")
    assert status == 403 and "may not remove oscar" in message
    status, message = add(client, admin, "mel", "owner")
    assert status == 403 and "give the role 'owner'" in message
    assert members(client, owner) == {"oscar": "owner", "ada": "admin", "mel": "viewer"}
    assert remove(client, admin, "mel") == (204, "")
    assert remove(client, owner, "ada") == (204, "")  # an owner may remove an admin


def test_the_last_owner_of_a_project_stays(client: FlaskClient, make_user: MakeUser,
                                           project: str) -> None:
    owner = make_user("oscar", organization_role=None, projects={"p": "owner"})
    org_owner = make_user("olivia", organization_role="owner")

    for account in (owner, org_owner):
        status, message = add(client, account, "oscar", "admin")
        assert status == 409
        assert message == ("oscar is the last owner of project default/p: give another member "
                           "the owner role first")
        assert remove(client, account, "oscar")[0] == 409
    assert add(client, owner, "olivia", "owner") == (201, "")
    assert add(client, owner, "oscar", "admin") == (200, "")  # no longer the last one
    assert members(client, org_owner) == {"olivia": "owner", "oscar": "admin"}


def test_once_one_owner_is_demoted_the_other_is_the_last_one(settings: Settings, make_user: MakeUser,
                                                  project: str) -> None:
    make_user("oscar", organization_role=None, projects={"p": "owner"})
    make_user("olga", organization_role=None, projects={"p": "owner"})
    with session_scope(settings.db_url) as session:
        accounts.set_project_role(session, get_project(session, "p"),
                                  accounts.get_user(session, "oscar"), "viewer")
    with pytest.raises(Conflict), session_scope(settings.db_url) as session:
        accounts.set_project_role(session, get_project(session, "p"),
                                  accounts.get_user(session, "olga"), None)


def test_membership_changes_and_deletions_are_audited(client: FlaskClient, settings: Settings,
                                                      make_user: MakeUser, owner: Account,
                                                      project: str) -> None:
    make_user("mel", organization_role=None)
    add(client, owner, "mel", "member")
    add(client, owner, "mel", "viewer")
    remove(client, owner, "mel")
    run = create_run(client, owner)
    finish(settings, run["uuid"])
    assert client.delete(f"/api/v1/default/p/runs/{run['uuid']}",
                         headers=owner.headers).status_code == 204
    assert client.delete("/api/v1/default/p", headers=owner.headers).status_code == 204

    assert audit(settings) == [
        ("project.member_changed", "olivia", "project:default/p",
         {"user": "mel", "role_before": None, "role_after": "member"}),
        ("project.member_changed", "olivia", "project:default/p",
         {"user": "mel", "role_before": "member", "role_after": "viewer"}),
        ("project.member_changed", "olivia", "project:default/p",
         {"user": "mel", "role_before": "viewer", "role_after": None}),
        ("run.deleted", "olivia", f"run:{run['uuid']}",
         {"project": "default/p", "name": run["name"], "kind": "job"}),
        ("project.deleted", "olivia", "project:default/p", {"runs": 0}),
    ]


def test_a_refused_change_records_nothing(client: FlaskClient, settings: Settings,
                                          make_user: MakeUser, project: str) -> None:
    make_user("oscar", organization_role=None, projects={"p": "owner"})
    admin = make_user("ada", organization_role=None, projects={"p": "admin"})
    assert remove(client, admin, "oscar")[0] == 403
    assert audit(settings) == []


def test_the_last_owner_of_the_organization_stays(settings: Settings) -> None:
    with session_scope(settings.db_url) as session:
        only = accounts.create_user(session, "olivia", "long enough password",
                                    organization_role="owner")
        with pytest.raises(Conflict, match="last owner of the organization"):
            accounts.set_organization_role(session, only, "manager")
        with pytest.raises(Conflict):
            accounts.set_organization_role(session, only, None)
        second = accounts.create_user(session, "oscar", "long enough password",
                                      organization_role="owner")
        second.is_active = False  # a deactivated owner does not count
        with pytest.raises(Conflict):
            accounts.set_organization_role(session, only, "manager")
        second.is_active = True
        assert accounts.set_organization_role(session, only, "manager") == "owner"
        assert accounts.organization_role(session, only) == "manager"
