"""Quotas through the API: who may change them, what a bad one gets, and which runs a
user's or a team's quota covers."""

from __future__ import annotations

from flask.testing import FlaskClient

from polyaxon_core.config import Settings
from polyaxon_core.db.session import session_scope
from polyaxon_core.domain.listing import get_run
from polyaxon_core.domain.projects import create_project, get_project
from polyaxon_core.domain.quotas import QuotaGate
from polyaxon_core.domain.state import transition
from polyaxon_core.domain.teams import create_team, set_team_role
from tests.api.conftest import Account, MakeUser, create_run

BASE = "/api/v1/orgs/default/quotas"


def _running(settings: Settings, uuid: str) -> None:
    with session_scope(settings.db_url) as session:
        run = get_run(session, uuid)
        for status in ("scheduled", "starting", "running"):
            assert transition(session, run, status)


def _refusal(settings: Settings, uuid: str) -> str | None:
    with session_scope(settings.db_url) as session:
        held = QuotaGate(session).refusal(get_run(session, uuid))
        return held.message if held is not None else None


def test_admins_create_change_and_delete_quotas_and_members_may_not(
    client: FlaskClient, make_user: MakeUser, owner: Account, project: str
) -> None:
    admin = make_user("adam", organization_role="admin")
    member = make_user("mia", organization_role="member")
    created = client.post(BASE, json={"name": "team-p", "project": "p", "max_runs": 3,
                                      "cpu": "1500m", "memory": "2Gi"}, headers=admin.headers)
    assert created.status_code == 201, created.json
    assert created.json | {"created_at": None} == {
        "name": "team-p", "subject": {"kind": "project", "name": "default/p"}, "max_runs": 3,
        "cpu": 1.5, "memory": 2 * 2**30, "gpu": None, "waiting": 0, "created_at": None,
        "used": {"runs": 0, "cpu": 0.0, "memory": 0, "gpu": 0}}
    changed = client.patch(f"{BASE}/team-p", json={"max_runs": None, "gpu": 2}, headers=admin.headers)
    assert (changed.status_code, changed.json["max_runs"], changed.json["gpu"]) == (200, None, 2)
    for forbidden in (client.post(BASE, json={"name": "mine", "project": "p", "max_runs": 9},
                                  headers=member.headers),
                      client.patch(f"{BASE}/team-p", json={"gpu": 9}, headers=member.headers),
                      client.delete(f"{BASE}/team-p", headers=member.headers)):
        assert forbidden.status_code == 403
        assert "quotas.manage" in forbidden.json["message"]
    assert client.get(f"{BASE}/team-p", headers=member.headers).json["gpu"] == 2
    assert client.delete(f"{BASE}/team-p", headers=owner.headers).status_code == 204
    assert client.get(f"{BASE}/team-p", headers=owner.headers).status_code == 404


def test_a_bad_quota_is_refused_naming_the_problem(
    client: FlaskClient, owner: Account, project: str
) -> None:
    client.post(BASE, json={"name": "taken", "project": "p", "gpu": 1}, headers=owner.headers)
    for body, status, message in (
        ({"name": "a", "project": "p", "cpu": "lots"}, 422, "cpu must be a quantity"),
        ({"name": "a", "project": "p", "memory": True}, 400, "must be a number or a quantity"),
        ({"name": "a", "project": "p", "max_runs": 0}, 400, "must be at least 1"),
        ({"name": "a", "project": "p", "gpu": -1}, 400, "whole number of devices"),
        ({"name": "a", "project": "p"}, 422, "a quota caps something"),
        ({"name": "a", "project": "p", "team": "x", "gpu": 1}, 422, "exactly one project, team or user"),
        ({"name": "A b", "project": "p", "gpu": 1}, 400, "quota name 'A b' is not valid"),
        ({"name": "a", "user": "nobody", "gpu": 1}, 404, "nobody"),
        ({"name": "taken", "project": "p", "gpu": 1}, 409, "exists already"),
    ):
        answer = client.post(BASE, json=body, headers=owner.headers)
        assert answer.status_code == status, (body, answer.json)
        assert message in str(answer.json), (body, answer.json)
    emptied = client.patch(f"{BASE}/taken", json={"gpu": None}, headers=owner.headers)
    assert emptied.status_code == 422 and "keep at least one" in emptied.json["message"]
    listed = client.get(BASE, headers=owner.headers).json
    assert [(quota["name"], quota["gpu"]) for quota in listed["results"]] == [("taken", 1)]


def test_a_users_quota_covers_their_runs_and_a_teams_the_projects_it_has_a_role_on(
    client: FlaskClient, settings: Settings, make_user: MakeUser, owner: Account, project: str
) -> None:
    alice = make_user("alice", projects={"p": "member"})
    bob = make_user("bob", projects={"p": "member"})
    with session_scope(settings.db_url) as session:
        create_project(session, "shared")
        create_project(session, "other")
        set_team_role(session, create_team(session, "crew"), get_project(session, "shared"), "member")
    assert client.post(BASE, json={"name": "alice", "user": "alice", "max_runs": 1},
                       headers=owner.headers).status_code == 201
    assert client.post(BASE, json={"name": "crew", "team": "crew", "max_runs": 1},
                       headers=owner.headers).status_code == 201
    first, second = create_run(client, alice)["uuid"], create_run(client, alice)["uuid"]
    bobs = create_run(client, bob)["uuid"]
    assert _refusal(settings, first) is None
    _running(settings, first)
    assert _refusal(settings, second) == "quota 'alice' allows 1 run(s) at once; it starts when one ends"
    assert _refusal(settings, bobs) is None
    on_shared = [create_run(client, owner, project="shared")["uuid"] for _ in range(2)]
    elsewhere = create_run(client, owner, project="other")["uuid"]
    _running(settings, on_shared[0])
    assert _refusal(settings, on_shared[1]) == (
        "quota 'crew' allows 1 run(s) at once; it starts when one ends")
    assert _refusal(settings, elsewhere) is None
    crew = client.get(f"{BASE}/crew", headers=owner.headers).json
    assert (crew["subject"], crew["used"]["runs"]) == ({"kind": "team", "name": "crew"}, 1)
