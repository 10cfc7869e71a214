"""Teams: a named group of users given a role on projects as one; a member's role on a
project is the highest of their own and their teams'."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from polyaxon_core.config import Settings
from polyaxon_core.db.models import AuditEvent
from polyaxon_core.db.session import session_scope
from tests.api.conftest import JOB, Account, MakeUser


def call(client: FlaskClient, account: Account, method: str, path: str, **body: Any) -> Any:
    return client.open(f"/api/v1{path}", method=method, headers=account.headers,
                       json=body or None)


def create_run_as(client: FlaskClient, account: Account) -> int:
    return int(client.post("/api/v1/default/p/runs", headers=account.headers,
                           json={"content": JOB}).status_code)


def test_a_team_gives_its_members_its_role_on_a_project(client: FlaskClient, owner: Account,
                                                         make_user: MakeUser,
                                                         project: str) -> None:
    ada = make_user("ada", organization_role=None)
    assert create_run_as(client, ada) == 403
    assert call(client, owner, "POST", "/orgs/default/teams", name="crew",
                description="the trainers").status_code == 201
    assert call(client, owner, "POST", "/orgs/default/teams/crew/members", user="ada").status_code == 201
    assert call(client, owner, "POST", "/default/p/teams", team="crew", role="member").status_code == 201

    assert create_run_as(client, ada) == 201
    me = client.get("/api/v1/users", headers=ada.headers).json
    assert me["project_roles"] == {"default/p": "member"}
    team = call(client, owner, "GET", "/orgs/default/teams/crew").json
    assert (team["members"], team["projects"]) == (["ada"], {"p": "member"})

    # removed from the team: the role goes with it
    assert call(client, owner, "DELETE", "/orgs/default/teams/crew/members/ada").status_code == 204
    assert create_run_as(client, ada) == 403
    # back in, but the team loses the project
    call(client, owner, "POST", "/orgs/default/teams/crew/members", user="ada")
    assert create_run_as(client, ada) == 201
    assert call(client, owner, "DELETE", "/default/p/teams/crew").status_code == 204
    assert create_run_as(client, ada) == 403


def test_a_team_role_never_lowers_a_higher_own_role(client: FlaskClient, owner: Account,
                                                    make_user: MakeUser, project: str) -> None:
    ada = make_user("ada", organization_role=None, projects={"p": "admin"})
    call(client, owner, "POST", "/orgs/default/teams", name="readers")
    call(client, owner, "POST", "/orgs/default/teams/readers/members", user="ada")
    call(client, owner, "POST", "/default/p/teams", team="readers", role="viewer")
    me = client.get("/api/v1/users", headers=ada.headers).json
    assert me["project_roles"] == {"default/p": "admin"}
    assert create_run_as(client, ada) == 201


def test_deleting_a_team_takes_its_roles_away(client: FlaskClient, owner: Account,
                                              make_user: MakeUser, project: str) -> None:
    ada = make_user("ada", organization_role=None)
    call(client, owner, "POST", "/orgs/default/teams", name="crew")
    call(client, owner, "POST", "/orgs/default/teams/crew/members", user="ada")
    call(client, owner, "POST", "/default/p/teams", team="crew", role="member")
    assert call(client, owner, "DELETE", "/orgs/default/teams/crew").status_code == 204
    assert create_run_as(client, ada) == 403
    assert call(client, owner, "GET", "/orgs/default/teams").json["count"] == 0


def test_the_hierarchy_holds_for_teams(client: FlaskClient, owner: Account, make_user: MakeUser,
                                       project: str) -> None:
    admin = make_user("ada", organization_role=None, projects={"p": "admin"})
    call(client, owner, "POST", "/orgs/default/teams", name="leads")
    call(client, owner, "POST", "/default/p/teams", team="leads", role="owner")
    call(client, owner, "POST", "/orgs/default/teams", name="crew")

    assert call(client, admin, "POST", "/default/p/teams", team="crew", role="member").status_code == 201
    refused = call(client, admin, "POST", "/default/p/teams", team="crew", role="owner")
    assert refused.status_code == 403 and "give the role 'owner'" in refused.json["message"]
    above = call(client, admin, "DELETE", "/default/p/teams/leads")
    assert above.status_code == 403 and "remove team leads" in above.json["message"]
    teams = call(client, admin, "GET", "/default/p/teams").json["results"]
    assert teams == [{"team": "crew", "role": "member"}, {"team": "leads", "role": "owner"}]


def test_only_organization_managers_change_teams(client: FlaskClient, make_user: MakeUser,
                                                 owner: Account) -> None:
    member = make_user("mel", organization_role="member")
    outsider = make_user("out", organization_role=None)
    manager = make_user("max", organization_role="manager")
    assert call(client, member, "POST", "/orgs/default/teams", name="x").status_code == 403
    assert call(client, manager, "POST", "/orgs/default/teams", name="x").status_code == 201
    assert call(client, member, "GET", "/orgs/default/teams").json["count"] == 1
    assert call(client, outsider, "GET", "/orgs/default/teams").status_code == 403


def test_bad_team_requests_are_clear(client: FlaskClient, owner: Account, project: str) -> None:
    bad_name = call(client, owner, "POST", "/orgs/default/teams", name="Bad Name")
    assert bad_name.status_code == 400 and "team name 'Bad Name' is not valid" in str(bad_name.json)
    call(client, owner, "POST", "/orgs/default/teams", name="crew")
    twice = call(client, owner, "POST", "/orgs/default/teams", name="crew")
    assert twice.status_code == 409 and "already exists" in twice.json["message"]
    missing = call(client, owner, "POST", "/default/p/teams", team="ghosts", role="member")
    assert missing.status_code == 404 and "no team named 'ghosts'" in missing.json["message"]
    nobody = call(client, owner, "POST", "/orgs/default/teams/crew/members", user="nobody")
    assert nobody.status_code == 404 and "no user named 'nobody'" in nobody.json["message"]
    not_member = call(client, owner, "DELETE", "/orgs/default/teams/crew/members/olivia")
    assert not_member.status_code == 404


def test_team_changes_are_audited(client: FlaskClient, settings: Settings, owner: Account,
                                  make_user: MakeUser, project: str) -> None:
    make_user("ada", organization_role=None)
    call(client, owner, "POST", "/orgs/default/teams", name="crew")
    call(client, owner, "POST", "/orgs/default/teams/crew/members", user="ada")
    call(client, owner, "POST", "/default/p/teams", team="crew", role="viewer")
    call(client, owner, "DELETE", "/orgs/default/teams/crew")
    with session_scope(settings.db_url) as session:
        events = [(row.event, row.target, row.detail)
                  for row in session.query(AuditEvent).order_by(AuditEvent.id)]
    assert events == [
        ("team.created", "team:default/crew", {}),
        ("team.member_changed", "team:default/crew", {"user": "ada", "member": True}),
        ("team.project_changed", "project:default/p",
         {"team": "crew", "role_before": None, "role_after": "viewer"}),
        ("team.deleted", "team:default/crew", {"members": ["ada"], "projects": {"p": "viewer"}}),
    ]
