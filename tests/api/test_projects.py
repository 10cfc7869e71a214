"""Projects through the API: create, list (filtered by role), read, change, delete, members."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.api.conftest import Account, MakeUser, create_run


def test_a_created_project_is_listed_and_its_creator_owns_it(
    client: FlaskClient, make_user: MakeUser
) -> None:
    ada = make_user("ada", organization_role="member")
    created = client.post("/api/v1/default/projects/create", headers=ada.headers,
                          json={"name": "mnist", "description": "digits", "tags": ["cv"],
                                "is_public": False})
    assert created.status_code == 201
    assert {key: created.json[key] for key in ("owner", "name", "description", "tags", "role")} == {
        "owner": "default", "name": "mnist", "description": "digits", "tags": ["cv"],
        "role": "owner"}
    listed = client.get("/api/v1/default/projects/list", headers=ada.headers)
    assert listed.status_code == 200
    assert [project["name"] for project in listed.json["results"]] == ["mnist"]
    assert listed.json["count"] == 1
    # as its owner, a mere organization member may now delete it
    assert client.delete("/api/v1/default/mnist", headers=ada.headers).status_code == 204
    assert client.get("/api/v1/default/mnist", headers=ada.headers).status_code == 404


def test_outsiders_see_only_the_projects_they_were_added_to(
    client: FlaskClient, owner: Account, make_user: MakeUser
) -> None:
    for name in ("alpha", "beta", "gamma"):
        client.post("/api/v1/default/projects/create", headers=owner.headers, json={"name": name})
    guest = make_user("guest", organization_role=None, projects={"beta": "viewer"})
    viewer = make_user("vera", organization_role="viewer")

    seen = client.get("/api/v1/default/projects/list", headers=guest.headers).json
    assert ([project["name"] for project in seen["results"]], seen["count"]) == (["beta"], 1)
    assert seen["results"][0]["role"] == "viewer"
    assert client.get("/api/v1/default/alpha", headers=guest.headers).status_code == 403
    everything = client.get("/api/v1/default/projects/list", headers=viewer.headers).json
    assert [project["name"] for project in everything["results"]] == ["alpha", "beta", "gamma"]


def test_project_lists_are_paginated_with_links(client: FlaskClient, owner: Account) -> None:
    for index in range(5):
        client.post("/api/v1/default/projects/create", headers=owner.headers,
                    json={"name": f"p{index}"})
    first = client.get("/api/v1/default/projects/list?limit=2", headers=owner.headers).json
    assert [p["name"] for p in first["results"]] == ["p0", "p1"]
    assert first["previous"] is None and "offset=2" in first["next"] and "limit=2" in first["next"]
    last = client.get("/api/v1/default/projects/list?limit=2&offset=4", headers=owner.headers).json
    assert [p["name"] for p in last["results"]] == ["p4"]
    assert last["next"] is None and "offset=2" in last["previous"]


def test_a_project_is_renamed_and_its_runs_follow(
    client: FlaskClient, owner: Account, project: str
) -> None:
    run = create_run(client, owner)
    changed = client.patch("/api/v1/default/p", headers=owner.headers,
                           json={"name": "renamed", "description": "new", "tags": ["a", "a", "b"]})
    assert changed.status_code == 200
    assert (changed.json["name"], changed.json["description"], changed.json["tags"]) == (
        "renamed", "new", ["a", "b"])
    moved = client.get(f"/api/v1/default/renamed/runs/{run['uuid']}", headers=owner.headers)
    assert moved.status_code == 200 and moved.json["project"] == "renamed"


def test_duplicates_and_bad_names_are_refused(client: FlaskClient, owner: Account) -> None:
    assert client.post("/api/v1/default/projects/create", headers=owner.headers,
                       json={"name": "dup"}).status_code == 201
    again = client.post("/api/v1/default/projects/create", headers=owner.headers,
                        json={"name": "dup"})
    assert again.status_code == 409 and "already exists" in again.json["message"]
    bad = client.post("/api/v1/default/projects/create", headers=owner.headers,
                      json={"name": "Not Valid"})
    assert bad.status_code == 400 and "not valid" in bad.json["errors"]["name"][0]
    missing = client.post("/api/v1/default/projects/create", headers=owner.headers, json={})
    assert missing.status_code == 400 and list(missing.json["errors"]) == ["name"]


def test_a_project_with_unfinished_runs_is_not_deleted(
    client: FlaskClient, owner: Account, project: str
) -> None:
    create_run(client, owner)
    refused = client.delete("/api/v1/default/p", headers=owner.headers)
    assert refused.status_code == 409 and "unfinished" in refused.json["message"]


def test_only_the_default_organization_exists(client: FlaskClient, owner: Account) -> None:
    answer = client.get("/api/v1/acme/projects/list", headers=owner.headers)
    assert answer.status_code == 404 and "default" in answer.json["message"]


def test_members_are_added_listed_changed_and_removed(
    client: FlaskClient, owner: Account, make_user: MakeUser, project: str
) -> None:
    guest = make_user("guest", organization_role=None)
    assert client.get("/api/v1/default/p", headers=guest.headers).status_code == 403
    added = client.post("/api/v1/default/p/members", headers=owner.headers,
                        json={"user": "guest", "role": "viewer"})
    assert added.status_code == 201 and added.json["role"] == "viewer"
    # the role is read at each request: the same token now sees the project
    assert client.get("/api/v1/default/p", headers=guest.headers).status_code == 200
    changed = client.post("/api/v1/default/p/members", headers=owner.headers,
                          json={"user": "guest", "role": "member"})
    assert changed.status_code == 200 and changed.json["role"] == "member"
    members = client.get("/api/v1/default/p/members", headers=guest.headers).json
    assert [(m["user"], m["role"]) for m in members["results"]] == [("guest", "member")]
    assert client.delete("/api/v1/default/p/members/guest", headers=owner.headers).status_code == 204
    assert client.get("/api/v1/default/p", headers=guest.headers).status_code == 403
    gone = client.delete("/api/v1/default/p/members/guest", headers=owner.headers)
    assert gone.status_code == 404


def test_nobody_grants_more_than_they_have(
    client: FlaskClient, make_user: MakeUser, project: str
) -> None:
    make_user("guest", organization_role=None)
    admin = make_user("adam", organization_role=None, projects={"p": "admin"})
    # a project admin may not delete the project, so may not make anyone its owner
    refused = client.post("/api/v1/default/p/members", headers=admin.headers,
                          json={"user": "guest", "role": "owner"})
    assert refused.status_code == 403 and "project.delete" in refused.json["message"]
    allowed = client.post("/api/v1/default/p/members", headers=admin.headers,
                          json={"user": "guest", "role": "admin"})
    assert allowed.status_code == 201
    unknown = client.post("/api/v1/default/p/members", headers=admin.headers,
                          json={"user": "guest", "role": "emperor"})
    assert unknown.status_code == 400 and "role" in unknown.json["errors"]


def test_text_with_a_nul_is_refused_alike_on_every_backend(
    client: FlaskClient, owner: Account
) -> None:
    created = client.post("/api/v1/default/projects/create", headers=owner.headers,
                          json={"name": "nul", "description": "a\u0000b"})
    assert created.status_code == 400 and "NUL" in created.json["message"]
    for path in ("/api/v1/default/a%00b", "/api/v1/default/a%00b/runs/abc%00"):
        answer = client.get(path, headers=owner.headers)
        assert answer.status_code == 400 and "NUL" in answer.json["message"]


def test_a_projects_queue_takes_its_runs_that_name_none(
    client: FlaskClient, make_user: MakeUser, owner: Account, project: str
) -> None:
    path = "/api/v1/default/p"
    assert client.get(path, headers=owner.headers).json["settings"] == {"queue": None, "notifications": []}
    changed = client.patch(path, headers=owner.headers, json={"settings": {"queue": "gpu"}})
    assert changed.status_code == 200 and changed.json["settings"] == {"queue": "gpu", "notifications": []}
    assert create_run(client, owner)["queue"] == "gpu"
    assert create_run(client, owner, queue="cpu")["queue"] == "cpu"  # named: it wins
    bad = client.patch(path, headers=owner.headers, json={"settings": {"queue": "Not Valid"}})
    assert bad.status_code == 400 and "settings.queue" in bad.json["errors"]
    viewer = make_user("vic", organization_role=None, projects={"p": "viewer"})
    refused = client.patch(path, headers=viewer.headers, json={"settings": {"queue": None}})
    assert refused.status_code == 403
    assert client.get(path, headers=owner.headers).json["settings"] == {"queue": "gpu", "notifications": []}
    reset = client.patch(path, headers=owner.headers, json={"settings": {"queue": None}})
    assert reset.json["settings"] == {"queue": None, "notifications": []}
    assert create_run(client, owner)["queue"] == "default"
