"""Every malformed input is a 4xx with the JSON error, never a 500 or an HTML page, on
SQLite and on PostgreSQL."""

from __future__ import annotations

import http.client
import json
import socket
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from polyaxon_core.config import Settings
from polyaxon_core.db.session import migrate
from tests.api.conftest import Account, create_run
from tests.api.servers import BIN, GUNICORN_WORKER, Served, environment, serving

RUNS = "/api/v1/default/p/runs"


def assert_json_error(answer: TestResponse, status: int, *words: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == "application/json"
    error: dict[str, Any] = answer.json  # type: ignore[assignment]
    assert set(error) == {"code", "message", "errors"} and error["code"] == status
    for word in words:
        assert word in error["message"] or word in str(error["errors"]), error
    return error


@pytest.fixture
def run(client: FlaskClient, owner: Account, project: str) -> str:
    return str(create_run(client, owner)["uuid"])


def test_a_metric_step_past_64_bits_is_a_400(client: FlaskClient, owner: Account,
                                             run: str) -> None:
    for step in (2**63, -(2**63) - 1, 10**30):
        answer = client.post(f"{RUNS}/{run}/metrics", headers=owner.headers, json={
            "batch_id": f"b{step}", "metrics": [{"name": "loss", "value": 1.0, "step": step}]})
        assert_json_error(answer, 400, "metrics.0.step")
    for value in ("1e400", "-1e400", "1" + "0" * 400):
        body = '{"batch_id": "v", "metrics": [{"name": "loss", "value": ' + value + "}]}"
        answer = client.post(f"{RUNS}/{run}/metrics", headers=owner.headers,
                             content_type="application/json", data=body)
        assert_json_error(answer, 400, "metrics.0.value")
    largest = {"batch_id": "max", "metrics": [{"name": "loss", "value": 1.0, "step": 2**63 - 1}]}
    assert client.post(f"{RUNS}/{run}/metrics", headers=owner.headers,
                       json=largest).status_code == 201


def test_huge_offsets_are_a_400(client: FlaskClient, owner: Account, run: str) -> None:
    for path in (RUNS, f"{RUNS}/{run}/logs", "/api/v1/default/projects/list"):
        answer = client.get(f"{path}?offset={10**30}", headers=owner.headers)
        assert_json_error(answer, 400, "offset")
    # the largest offset allowed reads past the end: an empty page, an empty log
    page = client.get(f"{RUNS}?offset={2**62}", headers=owner.headers)
    assert page.status_code == 200 and page.json["results"] == []
    log = client.get(f"{RUNS}/{run}/logs?offset={2**62}", headers=owner.headers)
    assert log.status_code == 200 and log.json["data"] == ""


def test_far_future_and_far_past_timestamps_are_a_400(client: FlaskClient, owner: Account,
                                                     run: str) -> None:
    for timestamp in ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00",
                      "99999-01-01T00:00:00+00:00"):
        answer = client.post(f"{RUNS}/{run}/metrics", headers=owner.headers, json={
            "batch_id": timestamp, "metrics": [{"name": "l", "value": 1, "timestamp": timestamp}]})
        assert_json_error(answer, 400, "metrics.0.timestamp")
    for cursor in ("9999-12-31T23:59:59.999999+00:00", "9999-12-31T23:59:59-14:00",
                   "0001-01-01T00:00:00+14:00"):
        answer = client.get(f"/streams/v1/local/default/p/runs/{run}/logs",
                            query_string={"last_time": cursor}, headers=owner.headers)
        assert answer.status_code in (200, 400), answer.get_data(as_text=True)
        assert answer.mimetype == "application/json"


def test_very_long_queries_are_a_400_naming_the_limit(client: FlaskClient, owner: Account,
                                                      run: str) -> None:
    or_chain = " OR ".join(f"name:n{index}" for index in range(2000))
    assert_json_error(client.get(RUNS, query_string={"query": or_chain}, headers=owner.headers),
                      400, "characters long")
    many = " OR ".join(f"name:{index}" for index in range(200))
    assert_json_error(client.get(RUNS, query_string={"query": many}, headers=owner.headers),
                      400, "more than 128 conditions")
    sort = ",".join(f"metrics.m{index}" for index in range(40))
    assert_json_error(client.get(RUNS, query_string={"sort": sort}, headers=owner.headers),
                      400, "sort")
    within = " OR ".join(f"name:{index}" for index in range(128))
    assert client.get(RUNS, query_string={"query": within}, headers=owner.headers).status_code == 200


def test_nul_characters_are_a_400_everywhere(client: FlaskClient, owner: Account,
                                             run: str) -> None:
    assert_json_error(client.post("/api/v1/default/projects/create", headers=owner.headers,
                                  json={"name": "ok", "description": "a\x00b"}), 400, "NUL")
    assert_json_error(client.patch(f"{RUNS}/{run}", headers=owner.headers,
                                   json={"meta_info": {"k\x00": 1}}), 400, "NUL")
    assert_json_error(client.post(f"{RUNS}/{run}/metrics", headers=owner.headers, json={
        "batch_id": "\x00", "metrics": [{"name": "loss", "value": 1}]}), 400, "NUL")
    assert_json_error(client.get("/api/v1/default/p%00/runs", headers=owner.headers), 400, "NUL")
    assert_json_error(client.get(f"{RUNS}/{run}%00", headers=owner.headers), 400, "NUL")
    assert_json_error(client.get(f"{RUNS}/{run}/metrics?names=a%00", headers=owner.headers),
                      400, "NUL")
    assert_json_error(client.get(f"{RUNS}/{run}/artifacts/tree?path=a%00",
                                 headers=owner.headers), 400, "NUL")


def test_upload_paths_through_files_or_with_over_long_names_are_a_400(
    client: FlaskClient, owner: Account, run: str, settings: Settings
) -> None:
    upload = f"{RUNS}/{run}/artifacts/upload"
    headers = {**owner.headers, "Content-Type": "application/octet-stream"}
    assert client.post(f"{upload}?path=notes.txt", headers=headers, data=b"x").status_code == 201
    assert_json_error(client.post(f"{upload}?path=notes.txt/inner.txt", headers=headers,
                                  data=b"x"), 400, "notes.txt")
    assert_json_error(client.post(f"{upload}?path={'a' * 300}.txt", headers=headers,
                                  data=b"x"), 400, "too long")
    assert_json_error(client.post(f"{upload}?path={'d/' * 3000}f", headers=headers,
                                  data=b"x"), 400, "too long")
    for read in ("tree", "download"):
        assert_json_error(client.get(f"{RUNS}/{run}/artifacts/{read}?path={'a' * 300}",
                                     headers=owner.headers), 400, "too long")
    assert_json_error(client.get(f"{RUNS}/{run}/artifacts/download?path=notes.txt/x",
                                 headers=owner.headers), 404, "no artifact")
    # a folder that does not exist is empty, wherever it would be
    through = client.get(f"{RUNS}/{run}/artifacts/tree?path=notes.txt/x", headers=owner.headers)
    assert through.status_code == 200 and through.json["files"] == []


def test_the_frameworks_own_answers_are_json(client: FlaskClient, owner: Account,
                                             run: str) -> None:
    # a doubled slash would be a 308 redirect page; it is simply not a route
    assert_json_error(client.get("/api/v1//default/p/runs", headers=owner.headers), 404)
    assert_json_error(client.post("/api/v1/default/projects/create", headers=owner.headers,
                                  data=b"{" + b" " * (16 * 1024**2) + b"}",
                                  content_type="application/json"), 413)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    home = tmp_path / "home"
    migrate(f"sqlite:///{home / 'polyaxon.db'}")
    env = environment(home, POLYAXON_ORCHESTRATOR="external")
    with serving([str(BIN / "polyaxon"), "server", "--port", "0", "--no-auth"], env,
                 r"serving the API on (http://\S+)/api/v1") as served:
        yield served


def _raw(served: Served, path: str, headers: list[tuple[str, str]]) -> tuple[int, str, bytes]:
    url = urllib.parse.urlsplit(served.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        connection.putrequest("GET", path)
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders()
        answer = connection.getresponse()
        return answer.status, answer.getheader("Content-Type", ""), answer.read()
    finally:
        connection.close()


def test_the_servers_own_answers_are_json_errors_too(served: Served) -> None:
    too_long_url = _raw(served, "/api/v1/default/p/runs?query=" + "x" * 70_000, [])
    too_many_headers = _raw(served, "/healthz", [(f"X-H{index}", "v") for index in range(150)])
    too_long_header = _raw(served, "/healthz", [("X-Long", "v" * 70_000)])
    for (status, content_type, body), expected, words in (
        (too_long_url, 414, "shorten the URL"), (too_many_headers, 431, "too many headers"),
        (too_long_header, 431, "too many headers"),
    ):
        assert (status, content_type) == (expected, "application/json"), body
        error = json.loads(body)
        assert error["code"] == expected and words in error["message"]
    status, content_type, _ = _raw(served, "/api/v1//default/p/runs", [])
    assert (status, content_type) == (404, "application/json")


#: gunicorn as docs/api.md runs it in production, with the worker answering in JSON
GUNICORN = [str(BIN / "gunicorn"), "-w", "1", "-k", GUNICORN_WORKER,
            "--threads", "4", "-b", "127.0.0.1:0", "polyaxon_core.api.app:create_app()"]


@pytest.fixture
def gunicorn_served(tmp_path: Path) -> Iterator[Served]:
    home = tmp_path / "home"
    migrate(f"sqlite:///{home / 'polyaxon.db'}")
    env = environment(home, POLYAXON_ORCHESTRATOR="external")
    with serving(GUNICORN, env, r"Listening at: (http://\S+) ") as served:
        yield served


def _bytes(served: Served, request: bytes) -> tuple[int, dict[str, str], bytes]:
    url = urllib.parse.urlsplit(served.url)
    with socket.create_connection((url.hostname, url.port), timeout=30) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def test_gunicorns_own_answers_are_json_errors_with_the_worker(gunicorn_served: Served) -> None:
    host = b"Host: 127.0.0.1\r\n"
    cases = {
        "long line": (b"GET /healthz?q=" + b"x" * 5000 + b" HTTP/1.1\r\n" + host + b"\r\n",
                      414, "longer than 4094 bytes: shorten the URL"),
        "many headers": (b"GET /healthz HTTP/1.1\r\n" + host
                         + b"".join(b"X-H%d: v\r\n" % index for index in range(150)) + b"\r\n",
                         431, "more than 100 headers"),
        "long header": (b"GET /healthz HTTP/1.1\r\n" + host + b"X-Long: " + b"v" * 9000
                        + b"\r\n\r\n", 431, "longer than 8190 bytes"),
        "garbage": (b"THIS IS NOT HTTP\r\n\r\n", 400, "send a well-formed HTTP/1.1 request"),
    }
    for name, (request, expected, words) in cases.items():
        status, headers, body = _bytes(gunicorn_served, request)
        assert status == expected, (name, body)
        assert headers["Content-Type"] == "application/json", (name, headers)
        assert headers["X-Content-Type-Options"] == "nosniff"
        error = json.loads(body)
        assert error["code"] == expected and words in error["message"], (name, error)
        assert error["errors"] == {}
    # the API itself is served as before
    status, headers, body = _bytes(gunicorn_served, b"GET /healthz HTTP/1.1\r\n" + host
                                   + b"Connection: close\r\n\r\n")
    assert status == 200 and headers.get("Server", "gunicorn") == "gunicorn"
