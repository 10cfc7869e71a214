"""Dashboards through the API: saved views of a project's runs, private or shared."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.api.conftest import MakeUser

VIEW = {"query": "status:succeeded, metrics.loss:<0.5", "sort": "-metrics.accuracy",
        "columns": ["inputs.lr", "metrics.loss"],
        "widgets": [{"kind": "metric_over_steps", "metric": "loss"},
                    {"kind": "metric_vs_param", "metric": "loss", "param": "lr"},
                    {"kind": "histogram", "metric": "accuracy", "bins": 10}]}
BASE = "/api/v1/default/p/dashboards"


def test_a_saved_dashboard_reopens_with_its_view_and_shared_ones_reach_the_members(
    client: FlaskClient, make_user: MakeUser, project: str
) -> None:
    ada = make_user("ada", projects={"p": "member"})
    bob = make_user("bob", organization_role=None, projects={"p": "viewer"})
    private = client.post(BASE, json={"name": "mine", "spec": VIEW}, headers=ada.headers)
    assert private.status_code == 201, private.json
    shared = client.post(BASE, json={"name": "team view", "shared": True, "spec": VIEW},
                         headers=ada.headers)
    assert shared.status_code == 201

    opened = client.get(f"{BASE}/{private.json['uuid']}", headers=ada.headers).json
    assert opened["spec"] == {**VIEW, "widgets": [
        {"kind": "metric_over_steps", "metric": "loss", "param": None, "bins": None},
        {"kind": "metric_vs_param", "metric": "loss", "param": "lr", "bins": None},
        {"kind": "histogram", "metric": "accuracy", "param": None, "bins": 10}]}
    assert (opened["user"], opened["shared"]) == ("ada", False)
    assert [d["name"] for d in client.get(BASE, headers=ada.headers).json["results"]] == [
        "mine", "team view"]
    # bob reads the project: he sees the shared one only, and the private one is a 404
    assert [d["name"] for d in client.get(BASE, headers=bob.headers).json["results"]] == ["team view"]
    assert client.get(f"{BASE}/{private.json['uuid']}", headers=bob.headers).status_code == 404
    # a viewer may not save or change one
    assert client.post(BASE, json={"name": "bobs"}, headers=bob.headers).status_code == 403
    assert client.patch(f"{BASE}/{shared.json['uuid']}", json={"name": "x"},
                        headers=bob.headers).status_code == 403


def test_a_dashboard_whose_query_cannot_be_read_is_refused_at_the_character_and_nothing_saved(
    client: FlaskClient, make_user: MakeUser, project: str
) -> None:
    ada = make_user("ada", projects={"p": "member"})
    answer = client.post(BASE, json={"name": "broken", "spec": {"query": "metrics.loss:<<1"}},
                         headers=ada.headers)
    assert answer.status_code == 400
    assert "at character 15" in answer.json["errors"]["query"][0]
    scatter = client.post(BASE, json={"name": "broken", "spec": {
        "widgets": [{"kind": "metric_vs_param", "metric": "loss"}]}}, headers=ada.headers)
    assert scatter.status_code == 422
    assert scatter.json["errors"] == {"spec.widgets.0.param": [
        "a metric_vs_param widget needs `param`, the input on its x axis"]}
    column = client.post(BASE, json={"name": "broken", "spec": {"columns": ["loss"]}},
                         headers=ada.headers)
    assert column.status_code == 400
    assert client.get(BASE, headers=ada.headers).json["count"] == 0


def test_renaming_onto_a_taken_name_is_a_conflict_and_deleting_removes_it(
    client: FlaskClient, make_user: MakeUser, project: str
) -> None:
    ada = make_user("ada", projects={"p": "member"})
    first = client.post(BASE, json={"name": "first"}, headers=ada.headers).json
    client.post(BASE, json={"name": "second"}, headers=ada.headers)
    clash = client.patch(f"{BASE}/{first['uuid']}", json={"name": "second"}, headers=ada.headers)
    assert clash.status_code == 409
    renamed = client.patch(f"{BASE}/{first['uuid']}", json={"name": "renamed", "shared": True,
                                                             "spec": {"sort": "-created_at"}},
                           headers=ada.headers)
    assert (renamed.json["name"], renamed.json["shared"], renamed.json["spec"]["sort"]) == (
        "renamed", True, "-created_at")
    assert client.delete(f"{BASE}/{first['uuid']}", headers=ada.headers).status_code == 204
    assert client.get(f"{BASE}/{first['uuid']}", headers=ada.headers).status_code == 404
    assert [d["name"] for d in client.get(BASE, headers=ada.headers).json["results"]] == ["second"]
