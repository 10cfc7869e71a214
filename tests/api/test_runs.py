"""Runs through the API: create from a polyaxonfile, list with the query language, read,
change, stop, restart, copy, resume, archive, delete, and the status timeline."""

from __future__ import annotations

import json

import yaml
from flask.testing import FlaskClient
from sqlalchemy import update

from polyaxon_core.config import Settings
from polyaxon_core.db.models import Run
from polyaxon_core.db.session import session_scope
from tests.api.conftest import JOB, Account, MakeUser, create_run, finish, run_row, user_id

RUNS = "/api/v1/default/p/runs"


def test_a_run_is_created_from_polyaxonfile_text_compiled_and_queued(
    client: FlaskClient, settings: Settings, make_user: MakeUser, project: str
) -> None:
    ada = make_user("ada", organization_role="member")
    run = create_run(client, ada, name="first", description="a test", tags=["extra"])
    assert (run["name"], run["description"], run["status"], run["kind"], run["runtime"]) == (
        "first", "a test", "queued", "job", "job")
    assert run["tags"] == ["api", "extra"]
    assert run["inputs"] == {"greeting": "hello", "sleep": 0.0}
    assert run["user"] == "ada" and run["owner"] == "default" and run["project"] == "p"
    assert run["settings"] == {"namespace": "local", "queue": {"name": "default"}}
    assert run["raw_content"] == JOB
    assert json.loads(run["content"])["component"]["name"] == "hello"
    assert run_row(settings, run["uuid"]).user_id == user_id(settings, "ada")


def test_a_run_is_created_from_an_operation_object_as_the_official_client_sends_it(
    client: FlaskClient, owner: Account, project: str
) -> None:
    operation = {"version": 1.1, "kind": "operation", "params": {"sleep": {"value": 2}},
                 "component": yaml.safe_load(JOB)}
    run = create_run(client, owner, content=json.dumps(operation), managed_by="agent",
                     is_managed=None, pending=None, meta_info={"source": "test"})
    assert run["inputs"]["sleep"] == 2.0
    assert run["meta_info"]["source"] == "test"
    as_object = create_run(client, owner, content=operation)
    assert as_object["inputs"]["sleep"] == 2.0


def test_an_invalid_polyaxonfile_is_a_422_listing_every_problem_with_its_line(
    client: FlaskClient, owner: Account, project: str
) -> None:
    content = JOB.replace("kind: job", "kind: jbo").replace("type: float", "type: flaot")
    answer = client.post(RUNS, headers=owner.headers, json={"content": content})
    assert answer.status_code == 422
    assert set(answer.json["errors"]) == {"run.kind", "inputs[1].type"}
    run_kind = answer.json["errors"]["run.kind"][0]
    assert run_kind.startswith("line 9:") and "`job`" in run_kind
    assert "2 problems found" in answer.json["message"]
    broken = client.post(RUNS, headers=owner.headers, json={"content": "kind: [unclosed"})
    assert broken.status_code == 422 and "invalid YAML" in broken.json["message"]


def test_runs_the_server_cannot_execute_are_refused(
    client: FlaskClient, owner: Account, project: str
) -> None:
    missing = client.post(RUNS, headers=owner.headers, json={"name": "no content"})
    assert missing.status_code == 400 and list(missing.json["errors"]) == ["content"]
    pending = client.post(RUNS, headers=owner.headers, json={"content": JOB, "pending": "upload"})
    assert pending.status_code == 400 and "pending" in pending.json["errors"]
    unknown = client.post(RUNS, headers=owner.headers, json={"content": JOB, "managed_by": "cli"})
    assert unknown.status_code == 400 and "managed_by" in unknown.json["errors"]
    tracked = client.post(RUNS, headers=owner.headers, json={"content": JOB, "managed_by": "user"})
    assert tracked.status_code == 400 and "runs no polyaxonfile" in tracked.json["errors"]["content"][0]
    not_json = client.post(RUNS, headers=owner.headers, data="content: x",
                           content_type="application/json")
    assert not_json.status_code == 400 and "JSON object" in not_json.json["message"]
    # the server's scheduler (local here) cannot start a Kubeflow run: refused, none created
    tfjob = ("kind: component\nrun:\n  kind: tfjob\n  worker:\n    container: "
             "{image: tensorflow/tensorflow:2.15.0, command: [python, train.py]}\n")
    refused = client.post(RUNS, headers=owner.headers, json={"content": tfjob})
    assert refused.status_code == 400
    message = refused.json["message"]
    assert "run.kind" in message and "POLYAXON_SCHEDULER=kubernetes" in message
    assert client.get(RUNS, headers=owner.headers).json["count"] == 0


def test_run_lists_take_the_query_language_and_sort(
    client: FlaskClient, settings: Settings, owner: Account, project: str
) -> None:
    slow = create_run(client, owner, name="slow", content=JOB.replace("value: 0", "value: 5"))
    fast = create_run(client, owner, name="fast")
    finish(settings, fast["uuid"])
    answer = client.get(f"{RUNS}?query=status:succeeded", headers=owner.headers).json
    assert [run["uuid"] for run in answer["results"]] == [fast["uuid"]]
    by_input = client.get(f"{RUNS}?query=inputs.sleep:>1&sort=name", headers=owner.headers).json
    assert [run["name"] for run in by_input["results"]] == ["slow"]
    newest_first = client.get(RUNS, headers=owner.headers).json
    assert [run["name"] for run in newest_first["results"]] == ["fast", "slow"]
    by_name = client.get(f"{RUNS}?sort=name", headers=owner.headers).json
    assert [run["name"] for run in by_name["results"]] == ["fast", "slow"]
    assert "content" not in newest_first["results"][0]  # lists stay small
    assert slow["uuid"] in {run["uuid"] for run in newest_first["results"]}


def test_a_malformed_query_is_a_400_pointing_at_the_offending_token(
    client: FlaskClient, owner: Account, project: str
) -> None:
    answer = client.get(f"{RUNS}?query=status:>running", headers=owner.headers)
    assert answer.status_code == 400
    assert answer.json["message"].endswith("status:>running\n         ^")
    assert "(at character 8: '>')" in answer.json["errors"]["query"][0]
    bad_sort = client.get(f"{RUNS}?sort=-nonsense", headers=owner.headers)
    assert bad_sort.status_code == 400 and list(bad_sort.json["errors"]) == ["sort"]
    bad_limit = client.get(f"{RUNS}?limit=0", headers=owner.headers)
    assert bad_limit.status_code == 400 and list(bad_limit.json["errors"]) == ["limit"]


def test_run_lists_take_uuid_prefixes_and_refuse_an_ambiguous_one(
    client: FlaskClient, settings: Settings, owner: Account, project: str
) -> None:
    runs = [create_run(client, owner, name=f"run-{index}") for index in range(2)]
    with session_scope(settings.db_url) as session:
        for index, run in enumerate(runs):
            session.execute(update(Run).where(Run.uuid == run["uuid"])
                            .values(uuid=f"0123abcd{index}" + "f" * 23))
    one = client.get(f"{RUNS}?query=uuid:0123abcd1", headers=owner.headers)
    assert [run["name"] for run in one.json["results"]] == ["run-1"]
    ambiguous = client.get(f"{RUNS}?query=uuid:0123abcd", headers=owner.headers)
    assert ambiguous.status_code == 400
    assert "0123abcd0" + "f" * 23 in ambiguous.json["message"]
    assert "0123abcd1" + "f" * 23 in ambiguous.json["message"]


def test_a_run_is_read_by_uuid_or_prefix_and_its_timeline_is_ordered(
    client: FlaskClient, settings: Settings, owner: Account, project: str
) -> None:
    run = create_run(client, owner)
    finish(settings, run["uuid"], "failed")
    read = client.get(f"{RUNS}/{run['uuid'][:8]}", headers=owner.headers)
    assert read.status_code == 200 and read.json["uuid"] == run["uuid"]
    assert read.json["status"] == "failed" and read.json["finished_at"] is not None
    timeline = client.get(f"{RUNS}/{run['uuid']}/statuses", headers=owner.headers).json
    assert timeline["status"] == "failed"
    assert [c["type"] for c in timeline["status_conditions"]] == [
        "created", "compiled", "queued", "scheduled", "starting", "running", "failed"]
    times = [c["last_transition_time"] for c in timeline["status_conditions"]]
    assert times == sorted(times)
    missing = client.get(f"{RUNS}/{'f' * 32}", headers=owner.headers)
    assert missing.status_code == 404
    not_a_uuid = client.get(f"{RUNS}/zz", headers=owner.headers)
    assert not_a_uuid.status_code == 400


def test_patching_merges_inputs_outputs_and_meta_and_replaces_or_merges_tags(
    client: FlaskClient, owner: Account, project: str
) -> None:
    run = create_run(client, owner)
    path = f"{RUNS}/{run['uuid']}"
    changed = client.patch(path, headers=owner.headers, json={
        "name": "renamed", "outputs": {"accuracy": 0.9}, "meta_info": {"a": 1}, "tags": ["x"]})
    assert changed.status_code == 200
    again = client.patch(path, headers=owner.headers, json={
        "outputs": {"loss": 0.1}, "inputs": {"sleep": 1}, "tags": ["y"], "merge": True}).json
    assert again["name"] == "renamed"
    assert again["outputs"] == {"accuracy": 0.9, "loss": 0.1}
    assert again["inputs"] == {"greeting": "hello", "sleep": 1}
    assert again["meta_info"] == {"a": 1}
    assert again["tags"] == ["x", "y"]
    replaced = client.patch(path, headers=owner.headers, json={"tags": ["z"]}).json
    assert replaced["tags"] == ["z"]


def test_stopping_a_queued_run_is_immediate_and_a_final_run_conflicts(
    client: FlaskClient, owner: Account, project: str
) -> None:
    run = create_run(client, owner)
    stopped = client.post(f"{RUNS}/{run['uuid']}/stop", headers=owner.headers)
    assert stopped.status_code == 200 and stopped.json["status"] == "stopped"
    again = client.post(f"{RUNS}/{run['uuid']}/stop", headers=owner.headers)
    assert again.status_code == 409 and "already stopped" in again.json["message"]


def test_restart_and_copy_make_new_runs_that_point_at_the_original(
    client: FlaskClient, settings: Settings, owner: Account, project: str
) -> None:
    original = create_run(client, owner, name="base")
    finish(settings, original["uuid"])
    from polyaxon_core.plugins import create

    store = create("store", "local", settings)
    store.put_file(original["uuid"], _write(settings, "weights.bin", b"\x00\x01"), "model/weights.bin")

    restarted = client.post(f"{RUNS}/{original['uuid']}/restart", headers=owner.headers,
                            json={"name": None, "content": None})
    assert restarted.status_code == 201
    assert restarted.json["original"] == {"uuid": original["uuid"], "name": "base", "kind": "restart"}
    assert restarted.json["status"] == "queued" and restarted.json["uuid"] != original["uuid"]
    copied = client.post(f"{RUNS}/{original['uuid']}/copy", headers=owner.headers,
                         json={"name": "copy of base"})
    assert copied.status_code == 201
    assert (copied.json["name"], copied.json["cloning_kind"]) == ("copy of base", "copy")
    with store.open(copied.json["uuid"], "model/weights.bin") as stream:
        assert stream.read() == b"\x00\x01"
    overriding = client.post(f"{RUNS}/{original['uuid']}/restart", headers=owner.headers,
                             json={"content": JOB})
    assert overriding.status_code == 400 and "keeps its own content" in overriding.json["message"]


def _write(settings: Settings, name: str, data: bytes):  # type: ignore[no-untyped-def]
    path = settings.home / name
    path.write_bytes(data)
    return path


def test_resume_runs_a_finished_run_again_in_place(
    client: FlaskClient, settings: Settings, owner: Account, project: str
) -> None:
    run = create_run(client, owner)
    early = client.post(f"{RUNS}/{run['uuid']}/resume", headers=owner.headers)
    assert early.status_code == 409
    finish(settings, run["uuid"], "failed")
    resumed = client.post(f"{RUNS}/{run['uuid']}/resume", headers=owner.headers)
    assert resumed.status_code == 200
    assert (resumed.json["uuid"], resumed.json["status"]) == (run["uuid"], "queued")


def test_archived_runs_leave_the_list_until_restored(
    client: FlaskClient, settings: Settings, owner: Account, project: str
) -> None:
    run = create_run(client, owner)
    refused = client.post(f"{RUNS}/{run['uuid']}/archive", headers=owner.headers)
    assert refused.status_code == 409 and "stop it" in refused.json["message"]
    finish(settings, run["uuid"])
    archived = client.post(f"{RUNS}/{run['uuid']}/archive", headers=owner.headers)
    assert archived.status_code == 200
    assert archived.json["live_state"] == 0 and archived.json["archived_at"] is not None
    assert client.get(RUNS, headers=owner.headers).json["count"] == 0
    listed = client.get(f"{RUNS}?archived=true", headers=owner.headers).json
    assert [r["uuid"] for r in listed["results"]] == [run["uuid"]]
    restored = client.post(f"{RUNS}/{run['uuid']}/restore", headers=owner.headers)
    assert restored.json["live_state"] == 1
    assert client.get(RUNS, headers=owner.headers).json["count"] == 1


def test_deleting_a_run_removes_it_and_its_files_but_not_while_it_is_unfinished(
    client: FlaskClient, settings: Settings, owner: Account, project: str
) -> None:
    run = create_run(client, owner)
    refused = client.delete(f"{RUNS}/{run['uuid']}", headers=owner.headers)
    assert refused.status_code == 409
    finish(settings, run["uuid"])
    from polyaxon_core.plugins import create

    store = create("store", "local", settings)
    store.append_log(run["uuid"], b"some log\n")
    assert client.delete(f"{RUNS}/{run['uuid']}", headers=owner.headers).status_code == 204
    assert client.get(f"{RUNS}/{run['uuid']}", headers=owner.headers).status_code == 404
    assert store.read_log(run["uuid"]).data == b""


def test_runs_are_written_exactly_as_their_schema_dumps_them(
    client: FlaskClient, settings: Settings, owner: Account, project: str
) -> None:
    from polyaxon_core.api.common import dump
    from polyaxon_core.api.runs.api import run_payload
    from polyaxon_core.api.runs.schemas import RunSchema
    from polyaxon_core.domain.listing import get_run, run_document

    original = create_run(client, owner, name="base", tags=["a"])
    finish(settings, original["uuid"])
    client.post(f"{RUNS}/{original['uuid']}/metrics", headers=owner.headers, json={
        "batch_id": "b", "metrics": [{"name": "loss", "value": 1, "step": 1},
                                     {"name": "accuracy", "value": 0.25, "step": 1}]})
    client.post(f"{RUNS}/{original['uuid']}/archive", headers=owner.headers)
    copied = client.post(f"{RUNS}/{original['uuid']}/copy", headers=owner.headers,
                         json={"name": None}).json
    with session_scope(settings.db_url) as session:
        for uuid in (original["uuid"], copied["uuid"]):
            run = get_run(session, uuid)
            for detail in (True, False):
                assert run_payload(run, detail=detail) == dump(
                    RunSchema, run_document(run, detail=detail))
    listed = client.get(f"{RUNS}?archived=true", headers=owner.headers).json["results"][0]
    assert listed["metrics"] == {"loss": 1.0, "accuracy": 0.25}
    assert listed["archived_at"].endswith("+00:00")
    # a page's runs read as each run does on its own, but for its content
    pages = [client.get(f"{RUNS}?archived={archived}", headers=owner.headers).json["results"]
             for archived in ("true", "false")]
    for entry in pages[0] + pages[1]:
        alone = client.get(f"{RUNS}/{entry['uuid']}", headers=owner.headers).json
        assert entry == {key: value for key, value in alone.items()
                         if key not in ("content", "raw_content")}
    assert pages[1][0]["original"] == {"uuid": original["uuid"], "name": "base", "kind": "copy"}
    assert pages[1][0]["user"] == owner.username
