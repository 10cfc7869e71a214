"""Logs: reading from a byte offset, following until the run ends, and the official
client's streams path with its cursor."""

from __future__ import annotations

import threading
from datetime import timedelta

from flask.testing import FlaskClient

from polyaxon_core.config import Settings
from polyaxon_core.plugins import create
from tests.api.conftest import Account, create_run, finish, run_row

RUNS = "/api/v1/default/p/runs"


def _store(settings: Settings):  # type: ignore[no-untyped-def]
    return create("store", "local", settings)


def test_the_log_is_read_from_an_offset_and_done_only_once_final(
    client: FlaskClient, settings: Settings, owner: Account, project: str
) -> None:
    run = create_run(client, owner)
    _store(settings).append_log(run["uuid"], b"first line\nsecond")
    path = f"{RUNS}/{run['uuid']}/logs"
    first = client.get(path, headers=owner.headers).json
    assert first == {"data": "first line\nsecond", "next_offset": 17, "done": False}
    _store(settings).append_log(run["uuid"], b" line\n")
    finish(settings, run["uuid"])
    rest = client.get(f"{path}?offset=17", headers=owner.headers).json
    assert rest == {"data": " line\n", "next_offset": 23, "done": True}


def test_a_character_cut_by_the_writer_is_sent_whole_in_the_next_answer(
    client: FlaskClient, settings: Settings, owner: Account, project: str
) -> None:
    run = create_run(client, owner)
    encoded = "é".encode()
    _store(settings).append_log(run["uuid"], b"caf" + encoded[:1])
    path = f"{RUNS}/{run['uuid']}/logs"
    first = client.get(path, headers=owner.headers).json
    assert (first["data"], first["next_offset"]) == ("caf", 3)
    _store(settings).append_log(run["uuid"], encoded[1:])
    assert client.get(f"{path}?offset=3", headers=owner.headers).json["data"] == "é"


def test_following_streams_the_log_as_it_grows_and_ends_when_the_run_ends(
    client: FlaskClient, settings: Settings, owner: Account, project: str
) -> None:
    run = create_run(client, owner)
    store = _store(settings)
    store.append_log(run["uuid"], b"before\n")
    response = client.get(f"{RUNS}/{run['uuid']}/logs?offset=0&follow=true",
                          headers=owner.headers, buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/plain"
    # the stream opens with an empty chunk, which sends the headers at once
    chunks = (chunk for chunk in response.response if chunk)
    assert next(chunks) == b"before\n"
    ended = threading.Event()

    def write_and_finish() -> None:
        store.append_log(run["uuid"], b"after\n")
        finish(settings, run["uuid"])
        ended.set()

    writer = threading.Thread(target=write_and_finish)
    writer.start()
    rest = b"".join(chunks)  # returns only because the stream ends with the run
    writer.join()
    assert ended.is_set() and rest == b"after\n"
    response.close()


def test_the_streams_path_pages_a_live_log_by_cursor_and_ends_with_the_run(
    client: FlaskClient, settings: Settings, owner: Account, project: str
) -> None:
    run = create_run(client, owner)
    created_at = run_row(settings, run["uuid"]).created_at
    store = _store(settings)
    store.append_log(run["uuid"], b"one\ntwo\nthr")
    path = f"/streams/v1/local/default/p/runs/{run['uuid']}/logs"
    # the official client's first request carries the time of the run's first status
    start = (created_at - timedelta(milliseconds=3)).isoformat()
    first = client.get(path, query_string={"last_time": start, "kind": "job"},
                       headers=owner.headers).json
    assert [line["value"] for line in first["logs"]] == ["one", "two"]
    assert {line["container"] for line in first["logs"]} == {"polyaxon-main"}
    assert first["last_time"] is not None and first["files"] == []
    store.append_log(run["uuid"], b"ee\nfour\n")
    second = client.get(path, query_string={"last_time": first["last_time"]},
                        headers=owner.headers).json
    assert [line["value"] for line in second["logs"]] == ["three", "four"]
    finish(settings, run["uuid"])
    store.append_log(run["uuid"], b"tail without newline")
    last = client.get(path, query_string={"last_time": second["last_time"]},
                      headers=owner.headers).json
    assert [line["value"] for line in last["logs"]] == ["tail without newline"]
    assert last["last_time"] is None
    everything = client.get(path, headers=owner.headers).json
    assert [line["value"] for line in everything["logs"]] == [
        "one", "two", "three", "four", "tail without newline"]
