"""Metric batches: stored once each, limited in size, summarised on the run, read back."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from polyaxon_core.config import Settings
from polyaxon_core.db.models import Run
from polyaxon_core.db.session import session_scope
from tests.api.conftest import Account, create_run

RUNS = "/api/v1/default/p/runs"


def test_a_batch_is_stored_once_and_updates_the_runs_last_values(
    client: FlaskClient, owner: Account, project: str
) -> None:
    run = create_run(client, owner)
    path = f"{RUNS}/{run['uuid']}/metrics"
    batch = {"batch_id": "b-1", "metrics": [
        {"name": "loss", "value": 0.5, "step": 2}, {"name": "loss", "value": 0.9, "step": 1},
        {"name": "accuracy", "value": 0.7, "step": 2, "timestamp": "2026-01-01T00:00:00"}]}
    stored = client.post(path, headers=owner.headers, json=batch)
    assert (stored.status_code, stored.json) == (201, {"count": 3, "duplicate": False})
    again = client.post(path, headers=owner.headers, json=batch)
    assert (again.status_code, again.json) == (200, {"count": 3, "duplicate": True})
    series = client.get(path, headers=owner.headers).json["metrics"]
    assert [(p["step"], p["value"]) for p in series["loss"]] == [(1, 0.9), (2, 0.5)]
    assert series["accuracy"][0]["timestamp"].startswith("2026-01-01T00:00:00")
    # the last value is the one of the highest step, whatever the order sent
    summary = client.get(f"{RUNS}/{run['uuid']}", headers=owner.headers).json["metrics"]
    assert summary == {"loss": 0.5, "accuracy": 0.7}
    queried = client.get(f"{RUNS}?query=metrics.loss:<0.6", headers=owner.headers).json
    assert [r["uuid"] for r in queried["results"]] == [run["uuid"]]


def test_more_than_a_thousand_points_is_a_413(
    client: FlaskClient, owner: Account, project: str
) -> None:
    run = create_run(client, owner)
    points = [{"name": "x", "value": float(i), "step": i} for i in range(1001)]
    answer = client.post(f"{RUNS}/{run['uuid']}/metrics", headers=owner.headers,
                         json={"batch_id": "big", "metrics": points})
    assert answer.status_code == 413 and "1000 points" in answer.json["message"]


@pytest.mark.parametrize(("batch", "field"), [
    ({"metrics": [{"name": "x", "value": 1}]}, "batch_id"),
    ({"batch_id": "x" * 65, "metrics": [{"name": "x", "value": 1}]}, "batch_id"),
    ({"batch_id": "b", "metrics": [{"name": "x", "value": "high"}]}, "metrics.0.value"),
    ({"batch_id": "b", "metrics": []}, "metrics"),
])
def test_invalid_batches_are_a_400_naming_the_field(
    client: FlaskClient, owner: Account, project: str, batch: dict[str, object], field: str
) -> None:
    run = create_run(client, owner)
    answer = client.post(f"{RUNS}/{run['uuid']}/metrics", headers=owner.headers, json=batch)
    assert answer.status_code == 400 and field in answer.json["errors"]


def test_series_are_filtered_by_name_and_downsampled_keeping_the_ends(
    client: FlaskClient, settings: Settings, owner: Account, project: str
) -> None:
    run = create_run(client, owner)
    path = f"{RUNS}/{run['uuid']}/metrics"
    points = [{"name": "loss", "value": 1.0 / (i + 1), "step": i} for i in range(100)]
    points += [{"name": "lr", "value": 0.1, "step": i} for i in range(3)]
    client.post(path, headers=owner.headers, json={"batch_id": "all", "metrics": points})
    only_loss = client.get(f"{path}?names=loss&max_points=5", headers=owner.headers).json["metrics"]
    assert list(only_loss) == ["loss"]
    assert [p["step"] for p in only_loss["loss"]] == [0, 25, 50, 75, 99]
    both = client.get(f"{path}?names=loss,lr", headers=owner.headers).json["metrics"]
    assert (len(both["loss"]), len(both["lr"])) == (100, 3)


def test_plugins_hear_of_a_stored_batch_once_per_step_and_not_of_a_duplicate(
    client: FlaskClient, owner: Account, project: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pluggy

    from polyaxon_core import hookspecs
    from polyaxon_core.plugins import PluginManager

    heard: list[tuple[str, dict[str, float], int | None]] = []

    class Recorder:
        @hookspecs.hookimpl
        def polyaxon_on_run_metrics_logged(self, run, metrics, step):  # type: ignore[no-untyped-def]
            heard.append((run.uuid, dict(metrics), step))

    run = create_run(client, owner)
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    pm.register(Recorder(), name="notifier-recorder")
    monkeypatch.setattr("polyaxon_core.plugins.get_plugin_manager", lambda: PluginManager(pm))
    batch = {"batch_id": "b", "metrics": [{"name": "loss", "value": 0.5, "step": 1},
                                          {"name": "acc", "value": 0.8, "step": 1},
                                          {"name": "loss", "value": 0.4, "step": 2}]}
    for _ in range(2):
        client.post(f"{RUNS}/{run['uuid']}/metrics", headers=owner.headers, json=batch)
    assert heard == [(run["uuid"], {"loss": 0.5, "acc": 0.8}, 1), (run["uuid"], {"loss": 0.4}, 2)]


def test_series_are_read_by_attempt_and_cut_to_their_first_or_last_points(
    client: FlaskClient, settings: Settings, owner: Account, project: str
) -> None:
    run = create_run(client, owner)
    path = f"{RUNS}/{run['uuid']}/metrics"
    with session_scope(settings.db_url) as session:
        session.execute(update(Run).where(Run.uuid == run["uuid"])
                        .values(meta_info={"attempts": 2}))
    for attempt in (1, 2):
        points = [{"name": "loss", "value": attempt + step / 10, "step": step} for step in range(5)]
        stored = client.post(path, headers=owner.headers,
                             json={"batch_id": f"a{attempt}", "attempt": attempt, "metrics": points})
        assert stored.status_code == 201
    latest = client.get(path, headers=owner.headers).json
    assert (latest["attempt"], latest["attempts"]) == (2, [1, 2])
    assert [(p["attempt"], p["step"]) for p in latest["metrics"]["loss"]] == [
        (2, step) for step in range(5)]
    first = client.get(f"{path}?attempt=1&limit=2", headers=owner.headers).json["metrics"]["loss"]
    assert [(p["attempt"], p["value"]) for p in first] == [(1, 1.0), (1, 1.1)]
    last = client.get(f"{path}?attempt=all&tail=6", headers=owner.headers).json
    assert last["attempt"] is None
    assert [(p["attempt"], p["step"]) for p in last["metrics"]["loss"]] == [
        (1, 4), *((2, step) for step in range(5))]
    summary = client.get(f"{RUNS}/{run['uuid']}", headers=owner.headers).json["metrics"]
    assert summary == {"loss": 2.4}


@pytest.mark.parametrize(("query", "field"), [
    ("attempt=0", "attempt"), ("attempt=latest", "attempt"), ("limit=0", "limit"),
    ("tail=-1", "tail"),
])
def test_unreadable_metric_read_options_are_a_400_naming_them(
    client: FlaskClient, owner: Account, project: str, query: str, field: str
) -> None:
    run = create_run(client, owner)
    answer = client.get(f"{RUNS}/{run['uuid']}/metrics?{query}", headers=owner.headers)
    assert answer.status_code == 400 and field in answer.json["errors"]


def test_a_limit_with_a_tail_and_an_attempt_not_reached_are_a_400(
    client: FlaskClient, owner: Account, project: str
) -> None:
    run = create_run(client, owner)
    path = f"{RUNS}/{run['uuid']}/metrics"
    both = client.get(f"{path}?limit=1&tail=1", headers=owner.headers)
    assert both.status_code == 400 and "not both" in both.json["message"]
    ahead = client.post(path, headers=owner.headers, json={
        "batch_id": "b", "attempt": 2, "metrics": [{"name": "x", "value": 1}]})
    assert ahead.status_code == 400 and "no attempt 2" in ahead.json["message"]
    assert client.get(path, headers=owner.headers).json == {
        "attempt": None, "attempts": [], "metrics": {}}


@pytest.mark.parametrize(("attempts", "current"), [(None, 1), (0, 1), (3, 3), ("3", 3), (3.0, 3)])
def test_a_batch_finds_its_run_by_a_prefix_only_in_its_project_and_on_its_attempt(
    client: FlaskClient, settings: Settings, owner: Account, project: str, attempts: Any, current: int
) -> None:
    # on PostgreSQL a whole uuid is stored in one statement that finds the run itself; a
    # prefix, and a count of attempts other than a plain number, take the general path
    run = create_run(client, owner)
    with session_scope(settings.db_url) as session:
        session.execute(update(Run).where(Run.uuid == run["uuid"])
                        .values(meta_info={} if attempts is None else {"attempts": attempts}))
    assert client.post("/api/v1/default/projects/create", headers=owner.headers,
                       json={"name": "other"}).status_code == 201
    point = [{"name": "loss", "value": 0.5, "step": 1}]
    elsewhere = client.post(f"/api/v1/default/other/runs/{run['uuid']}/metrics", headers=owner.headers,
                            json={"batch_id": "b", "metrics": point})
    assert elsewhere.status_code == 404
    ahead = client.post(f"{RUNS}/{run['uuid']}/metrics", headers=owner.headers,
                        json={"batch_id": "b", "attempt": current + 1, "metrics": point})
    assert ahead.status_code == 400 and f"no attempt {current + 1}" in ahead.json["message"]
    for name, uuid in (("whole", run["uuid"]), ("prefix", run["uuid"][:8])):
        stored = client.post(f"{RUNS}/{uuid}/metrics", headers=owner.headers, json={
            "batch_id": name, "attempt": current, "metrics": [{"name": name, "value": 1.0, "step": 1}]})
        assert (stored.status_code, stored.json) == (201, {"count": 1, "duplicate": False})
    if current > 1:  # a past attempt's points are stored, and leave the last values alone
        past = client.post(f"{RUNS}/{run['uuid']}/metrics", headers=owner.headers, json={
            "batch_id": "past", "attempt": 1, "metrics": [{"name": "whole", "value": 9.0}]})
        assert past.status_code == 201
    series = client.get(f"{RUNS}/{run['uuid']}/metrics", headers=owner.headers).json
    assert (series["attempt"], sorted(series["metrics"])) == (current, ["prefix", "whole"])
    summary = client.get(f"{RUNS}/{run['uuid']}", headers=owner.headers).json["metrics"]
    assert summary == {"whole": 1.0, "prefix": 1.0}


def test_series_are_written_exactly_as_their_schema_dumps_them(
    client: FlaskClient, settings: Settings, owner: Account, project: str
) -> None:
    from polyaxon_core.api.common import dump
    from polyaxon_core.api.runs.metrics import MetricsSchema, metrics_payload
    from polyaxon_core.domain.listing import get_run
    from polyaxon_core.domain.metrics import ALL_ATTEMPTS, read_metrics

    run = create_run(client, owner)
    points = [{"name": "loss", "value": 1, "step": 0}, {"name": "loss", "value": 0.5, "step": 7},
              {"name": "loss", "value": 0.25}, {"name": "acc", "value": 0.75, "step": 3}]
    client.post(f"{RUNS}/{run['uuid']}/metrics", headers=owner.headers,
                json={"batch_id": "b", "metrics": points})
    with session_scope(settings.db_url) as session:
        row = get_run(session, run["uuid"])
        for options in ({}, {"attempt": ALL_ATTEMPTS}, {"max_points": 2}, {"names": ["acc"]}):
            answer = read_metrics(session, row, **options)
            assert metrics_payload(answer) == dump(MetricsSchema, answer)
    served = client.get(f"{RUNS}/{run['uuid']}/metrics?names=loss", headers=owner.headers).json
    assert [(p["step"], p["value"]) for p in served["metrics"]["loss"]] == [
        (0, 1.0), (7, 0.5), (None, 0.25)]
    assert served["metrics"]["loss"][0]["timestamp"].endswith("+00:00")


def test_the_quick_loading_of_a_batch_takes_only_what_the_schema_takes_and_as_it_does() -> None:
    from marshmallow import ValidationError

    from polyaxon_core.api.runs.metrics import MetricBatchSchema, quick_batch

    def load(body: dict[str, Any]) -> Any:
        try:
            return MetricBatchSchema().load(body)
        except ValidationError as error:
            return error.messages

    def batch(points: Any, **fields: Any) -> dict[str, Any]:
        return {"batch_id": "b", "metrics": points, **fields}

    common = [
        batch([{"name": "loss", "value": 1.0 / (step + 1) if step % 2 else step, "step": step}
               for step in range(1000)]),
        batch([{"name": "loss", "value": 0.5}]), batch([{"name": "x", "value": 1, "step": None}]),
        batch([{"name": "x", "value": 1}], attempt=2), batch([{"name": "x", "value": 1}], attempt=None),
        # the tracking SDK's points: a time each, in UTC
        batch([{"name": "x", "value": 1, "step": 3, "timestamp": "2026-12-05T23:52:38.123456+00:00"}]),
        batch([{"name": "x", "value": 1, "timestamp": "2026-01-01T00:00:00"}]),
        batch([{"name": "x", "value": 1, "timestamp": "2026-01-01T00:00:00Z"}]),
        batch([{"name": "x", "value": 1, "timestamp": "2026-01-01T01:00:00+01:00"}]),
        batch([{"name": "x", "value": 1, "timestamp": None}]),
        batch([{"name": "é😀", "value": 1}]),
    ]
    others = [
        batch([]), batch([{"name": "", "value": 1}]), batch([{"name": "x", "value": True}]),
        batch([{"name": "x", "value": "1"}]), batch([{"name": "x", "value": 1, "step": 2**64}]),
        batch([{"name": "x", "value": 10**400}]), batch([{"value": 1}]),
        batch([{"name": "x", "value": 1, "other": 1}]), batch([{"name": "x", "value": 1, "step": 1.0}]),
        batch([{"name": "x" * 257, "value": 1}]), batch(["loss"]),
        batch([{"name": "x", "value": 1, "timestamp": "1969-12-31T23:59:59+00:00"}]),
        batch([{"name": "x", "value": 1, "timestamp": "yesterday"}]),
        batch([{"name": "x", "value": 1, "timestamp": ""}]),
        batch([{"name": "x", "value": 1, "timestamp": 1700000000}]),
        batch([{"name": "x", "value": 1}], attempt=0), batch([{"name": "x", "value": 1}], attempt=True),
        batch([{"name": "x", "value": 1}], attempt="1"), batch([{"name": "x", "value": 1}], other=1),
        {"metrics": [{"name": "x", "value": 1}]}, {"batch_id": "b"}, batch({"name": "x"}),
        {"batch_id": "x" * 65, "metrics": [{"name": "x", "value": 1}]},
        {"batch_id": 7, "metrics": [{"name": "x", "value": 1}]},
        # what no database stores: the walk names where
        batch([{"name": "x\x00", "value": 1}]), batch([{"name": "\ud800", "value": 1}]),
        {"batch_id": "b\x00", "metrics": [{"name": "x", "value": 1}]},
        batch([{"name": "x", "value": i, "step": i} for i in range(1001)]),
    ]
    for body in common:
        assert quick_batch(body) == load(body), body
    for body in others:
        assert quick_batch(body) is None, body
