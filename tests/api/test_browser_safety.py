"""A web page in the user's browser cannot use a server on their machine: cross-site
requests, DNS rebinding and non-JSON bodies are refused before they act, on a real
`polyaxon server --no-auth` (where a request that got through would run a command)."""

from __future__ import annotations

import http.client
import json
import subprocess
import urllib.parse
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from polyaxon_core.db.session import migrate, session_scope
from polyaxon_core.domain.projects import create_project
from tests.api.conftest import JOB, Account
from tests.api.servers import BIN, Served, environment, serving

SERVER_LISTENING = r"serving the API on (http://\S+)/api/v1"
RUNS = "/api/v1/default/p/runs"
EVIL = "https://evil.example"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    url = f"sqlite:///{home / 'polyaxon.db'}"
    migrate(url)
    with session_scope(url) as session:
        create_project(session, "p")
    return home


@pytest.fixture
def no_auth(home: Path) -> Iterator[Served]:
    env = environment(home, POLYAXON_ORCHESTRATOR="external",
                      POLYAXON_ALLOWED_ORIGINS="https://ui.example.org")
    command = [str(BIN / "polyaxon"), "server", "--port", "0", "--no-auth",
               "--allowed-host", "polyaxon.example.org"]
    with serving(command, env, SERVER_LISTENING) as served:
        yield served


def send(served: Served, method: str, path: str, headers: Mapping[str, str],
         body: bytes = b"") -> tuple[int, dict[str, Any]]:
    """A request as a browser would send it: its own Host, Origin and Content-Type."""
    url = urllib.parse.urlsplit(served.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        connection.request(method, path, body=body or None, headers=dict(headers))
        answer = connection.getresponse()
        assert answer.getheader("Content-Type") == "application/json"
        return answer.status, json.loads(answer.read())
    finally:
        connection.close()


def run_count(served: Served) -> int:
    status, page = served.request("GET", RUNS)
    assert status == 200, page
    return int(page["count"])


def _host(served: Served) -> str:
    return urllib.parse.urlsplit(served.url).netloc


def test_a_cross_site_simple_request_creates_no_run(no_auth: Served) -> None:
    # what <form enctype="text/plain"> or fetch(..., {mode: "no-cors"}) sends: no preflight
    body = json.dumps({"content": JOB}).encode()
    status, error = send(no_auth, "POST", RUNS, {
        "Host": _host(no_auth), "Origin": EVIL, "Content-Type": "text/plain;charset=UTF-8"}, body)
    assert status == 403
    assert "cross-site" in error["message"] and "POLYAXON_ALLOWED_ORIGINS" in error["message"]
    assert run_count(no_auth) == 0


def test_a_foreign_origin_is_refused_even_with_a_json_body_and_on_reads(no_auth: Served) -> None:
    headers = {"Host": _host(no_auth), "Origin": EVIL, "Content-Type": "application/json"}
    assert send(no_auth, "POST", RUNS, headers, json.dumps({"content": JOB}).encode())[0] == 403
    assert send(no_auth, "GET", RUNS, {"Host": _host(no_auth), "Origin": EVIL})[0] == 403
    # a sandboxed frame or a local file says `null`
    assert send(no_auth, "GET", RUNS, {"Host": _host(no_auth), "Origin": "null"})[0] == 403
    # the same name on another port is another site
    other_port = {"Host": _host(no_auth), "Origin": "http://127.0.0.1:1"}
    assert send(no_auth, "GET", RUNS, other_port)[0] == 403
    assert run_count(no_auth) == 0


def test_the_servers_own_origin_and_allowed_origins_are_served(no_auth: Served) -> None:
    body = json.dumps({"content": JOB}).encode()
    for origin in (no_auth.url, "https://ui.example.org"):
        status, run = send(no_auth, "POST", RUNS, {
            "Host": _host(no_auth), "Origin": origin, "Content-Type": "application/json"}, body)
        assert status == 201, run
    assert run_count(no_auth) == 2


def test_a_body_that_is_not_declared_json_is_a_415_and_creates_nothing(no_auth: Served) -> None:
    body = json.dumps({"content": JOB}).encode()
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"Host": _host(no_auth)}
        if content_type:
            headers["Content-Type"] = content_type
        status, error = send(no_auth, "POST", RUNS, headers, body)
        assert status == 415, error
        assert "application/json" in error["message"]
    assert run_count(no_auth) == 0


def test_a_rebound_host_name_is_refused_with_the_way_to_allow_it(no_auth: Served) -> None:
    # DNS rebinding: the attacker's name now resolves to 127.0.0.1, the Host stays theirs
    port = urllib.parse.urlsplit(no_auth.url).port
    for method, body in (("GET", b""), ("POST", json.dumps({"content": JOB}).encode())):
        status, error = send(no_auth, method, RUNS, {
            "Host": f"rebind.evil.example:{port}", "Content-Type": "application/json"}, body)
        assert status == 400
        assert "'rebind.evil.example'" in error["message"]
        assert "POLYAXON_ALLOWED_HOSTS" in error["message"] and "--allowed-host" in error["message"]
    assert run_count(no_auth) == 0


def test_loopback_names_and_allowed_hosts_are_served(no_auth: Served) -> None:
    port = urllib.parse.urlsplit(no_auth.url).port
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}",
                 f"polyaxon.example.org:{port}", "POLYAXON.example.org."):
        status, page = send(no_auth, "GET", RUNS, {"Host": host})
        assert status == 200, (host, page)
    assert send(no_auth, "GET", RUNS, {"Host": f"sub.polyaxon.example.org:{port}"})[0] == 400


def test_a_server_for_other_machines_must_name_the_hosts_it_serves(home: Path) -> None:
    # an address of no interface here: nothing can listen even if the check were missing
    result = subprocess.run([str(BIN / "polyaxon"), "server", "--host", "192.0.2.1"],
                            env=environment(home), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "--allowed-host" in result.stderr and "POLYAXON_ALLOWED_HOSTS" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_allowed_host_that_is_not_a_host_name_is_a_configuration_error(home: Path) -> None:
    result = subprocess.run([str(BIN / "polyaxon"), "server", "--port", "0",
                             "--allowed-host", "https://polyaxon.example.org"],
                            env=environment(home), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "is not a host name" in result.stderr and "Traceback" not in result.stderr


def test_deeply_nested_json_is_a_400(client: FlaskClient, owner: Account, project: str) -> None:
    for depth in (65, 100_000):
        body = '{"content": ' + "[" * depth + "]" * depth + "}"
        answer = client.post(RUNS, headers=owner.headers, data=body, content_type="application/json")
        assert answer.status_code == 400, answer.json
        assert "64 levels" in answer.json["message"]
    # what the limit lets through is read as usual (and then judged as a polyaxonfile)
    shallow = {"content": JOB, "meta_info": {"a": [[[1]]]}}
    assert client.post(RUNS, headers=owner.headers, json=shallow).status_code == 201
