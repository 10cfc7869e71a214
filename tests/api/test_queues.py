"""Queues through the API: everyone in the organization sees them and what waits in them;
owners, managers and admins change them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient

from polyaxon_core.config import Settings
from polyaxon_core.db.models import Queue, Run
from polyaxon_core.db.session import session_scope
from polyaxon_core.domain.projects import get_project
from polyaxon_core.domain.queues import NEXT_WAITING
from tests.api.conftest import Account, MakeUser

BASE = "/api/v1/orgs/default/queues"


def _runs(settings: Settings, queue: str, **statuses: int) -> list[str]:
    """Runs of project p in ``queue``, ``statuses`` saying how many of each, oldest first."""
    start = datetime.now(UTC) - timedelta(hours=1)
    with session_scope(settings.db_url) as session:
        project = get_project(session, "p")
        runs = [Run(project=project, kind="job", runtime="job", status=status, queue=queue,
                    name=f"{status}-{index}", created_at=start + timedelta(seconds=index))
                for status, count in statuses.items() for index in range(count)]
        session.add_all(runs)
        session.flush()
        return [run.uuid for run in runs if run.status == "queued"]


def test_queues_list_what_runs_and_what_waits_in_the_order_it_will_start(
    client: FlaskClient, settings: Settings, make_user: MakeUser, project: str
) -> None:
    viewer = make_user("vera", organization_role="viewer")
    with session_scope(settings.db_url) as session:
        session.add_all([Queue(name="gpu", priority=5, concurrency=1),
                         Queue(name="cpu", priority=1, concurrency=4)])
    waiting = _runs(settings, "gpu", running=1, queued=NEXT_WAITING + 2, succeeded=3)
    listed = client.get(BASE, headers=viewer.headers)
    assert listed.status_code == 200
    assert [(q["name"], q["priority"], q["running"], q["waiting"]) for q in listed.json["results"]] == [
        ("gpu", 5, 1, NEXT_WAITING + 2), ("cpu", 1, 0, 0)]
    gpu = client.get(f"{BASE}/gpu", headers=viewer.headers).json
    assert [run["uuid"] for run in gpu["next"]] == waiting[:NEXT_WAITING]
    assert gpu["next"][0] | {"created_at": None} == {
        "uuid": waiting[0], "name": "queued-0", "owner": "default", "project": "p",
        "created_at": None}
    assert client.get(f"{BASE}/cpu", headers=viewer.headers).json["next"] == []


def test_admins_create_change_and_delete_queues_and_viewers_may_not(
    client: FlaskClient, settings: Settings, make_user: MakeUser, owner: Account, project: str
) -> None:
    admin = make_user("adam", organization_role="admin")
    member = make_user("mia", organization_role="member")
    created = client.post(BASE, json={"name": "gpu", "priority": 3}, headers=admin.headers)
    assert created.status_code == 201, created.json
    assert (created.json["priority"], created.json["concurrency"]) == (
        3, settings.default_concurrency)
    again = client.post(BASE, json={"name": "gpu"}, headers=admin.headers)
    assert again.status_code == 409 and "exists already" in again.json["message"]
    changed = client.patch(f"{BASE}/gpu", json={"concurrency": 8}, headers=admin.headers)
    assert (changed.status_code, changed.json["priority"], changed.json["concurrency"]) == (
        200, 3, 8)
    for forbidden in (client.post(BASE, json={"name": "mine"}, headers=member.headers),
                      client.patch(f"{BASE}/gpu", json={"priority": 99}, headers=member.headers),
                      client.delete(f"{BASE}/gpu", headers=member.headers)):
        assert forbidden.status_code == 403
        assert "queues.manage" in forbidden.json["message"]
    assert client.get(f"{BASE}/gpu", headers=member.headers).json["priority"] == 3
    _runs(settings, "gpu", queued=1)
    busy = client.delete(f"{BASE}/gpu", headers=admin.headers)
    assert busy.status_code == 409 and "1 unfinished run" in busy.json["message"]
    assert client.post(BASE, json={"name": "empty"}, headers=owner.headers).status_code == 201
    assert client.delete(f"{BASE}/empty", headers=owner.headers).status_code == 204
    assert client.get(f"{BASE}/empty", headers=owner.headers).status_code == 404


def test_bad_queue_input_is_a_400_naming_the_field_and_changes_nothing(
    client: FlaskClient, owner: Account
) -> None:
    assert client.post(BASE, json={"name": "gpu", "concurrency": 2}, headers=owner.headers).status_code == 201
    for body, field in (({"name": "Not A Slug"}, "name"), ({"name": "x", "concurrency": 0}, "concurrency"),
                        ({"name": "x", "priority": 2**40}, "priority"), ({}, "name")):
        answer = client.post(BASE, json=body, headers=owner.headers)
        assert answer.status_code == 400 and field in answer.json["errors"], (body, answer.json)
    refused = client.patch(f"{BASE}/gpu", json={"priority": 1, "concurrency": -1},
                           headers=owner.headers)
    assert refused.status_code == 400 and "concurrency" in refused.json["errors"]
    assert client.get(f"{BASE}/gpu", headers=owner.headers).json["priority"] == 0
    assert [q["name"] for q in client.get(BASE, headers=owner.headers).json["results"]] == ["gpu"]
