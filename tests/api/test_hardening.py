"""Through real servers (`polyaxon server` and gunicorn): security headers on every
answer, no version banner, an API docs page that loads nothing from the internet, and a
database file and run folders only their owner can read."""

from __future__ import annotations

import http.client
import re
import stat
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from polyaxon_core import accounts
from polyaxon_core.db.session import migrate, session_scope
from polyaxon_core.domain.projects import create_project
from polyaxon_core.lifecycle import is_final
from tests.api.servers import BIN, GUNICORN_WORKER, Served, environment, serving, stop_orchestrator

SERVER = ([str(BIN / "polyaxon"), "server", "--port", "0"],
          r"serving the API on (http://\S+)/api/v1")
GUNICORN = ([str(BIN / "gunicorn"), "-w", "1", "-k", GUNICORN_WORKER, "--threads", "4",
             "-b", "127.0.0.1:0", "polyaxon_core.api.app:create_app()"],
            r"Listening at: (http://\S+) ")


@pytest.fixture(params=[SERVER, GUNICORN], ids=["polyaxon-server", "gunicorn"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    home = tmp_path / "home"
    url = f"sqlite:///{home / 'polyaxon.db'}"
    migrate(url)
    with session_scope(url) as session:
        accounts.create_user(session, "ada", "long enough password", organization_role="owner")
        create_project(session, "p")
    command, listening = request.param
    with serving(command, environment(home, POLYAXON_ORCHESTRATOR="external"),
                 listening) as served:
        yield served


def get(served: Served, path: str, method: str = "GET", body: bytes | None = None,
        headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    url = urllib.parse.urlsplit(served.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    connection.request(method, path, body=body, headers=headers or {})
    answer = connection.getresponse()
    answer.read()
    connection.close()
    return answer


def test_every_answer_carries_the_security_headers_and_no_version(served: Served) -> None:
    token_body = b'{"username": "ada", "password": "long enough password"}'
    answers = {
        "health": get(served, "/healthz"),
        "error": get(served, "/api/v1/users"),
        "unknown": get(served, "/no/such/page"),
        "docs": get(served, "/api/v1/docs"),
        "openapi": get(served, "/api/v1/openapi.json"),
        "token": get(served, "/api/v1/users/token", "POST", token_body,
                     {"Content-Type": "application/json"}),
    }
    assert answers["token"].status == 200
    for name, answer in answers.items():
        assert answer.getheader("X-Content-Type-Options") == "nosniff", name
        assert answer.getheader("X-Frame-Options") == "DENY", name
        assert "frame-ancestors 'none'" in answer.getheader("Content-Security-Policy", ""), name
        server = answer.getheader("Server", "")
        assert not re.search(r"\d|werkzeug|python", server, re.IGNORECASE), (name, server)
    assert answers["token"].getheader("Cache-Control") == "no-store"
    assert answers["error"].getheader("Cache-Control") == "no-store"
    assert "default-src 'self'" in answers["docs"].getheader("Content-Security-Policy", "")


def test_the_docs_page_loads_only_this_servers_files(served: Served) -> None:
    url = urllib.parse.urlsplit(served.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    connection.request("GET", "/api/v1/docs")
    page = connection.getresponse().read().decode()
    connection.close()
    assert "<script>" not in page  # no inline script: the policy allows none
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(not re.match(r"[a-z]+:|//", source) for source in sources), sources
    for source in sources:
        assert get(served, f"/api/v1/{source}").status == 200, source
    start = get(served, "/api/v1/docs/start.js")
    assert start.status == 200
    # the package's own pages start Swagger UI on the pet-store example from the internet
    for name in ("index.html", "swagger-initializer.js", "../openapi.json"):
        assert get(served, f"/api/v1/docs/{name}").status == 404, name


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _wait_final(served: Served, uuid: str, timeout: float = 120) -> str:
    """Poll the run until it is final (bounded; not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        status = str(served.request("GET", f"/api/v1/default/p/runs/{uuid}")[1]["status"])
        if is_final(status) or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def test_the_database_file_and_run_folders_are_their_owners_only(tmp_path: Path) -> None:
    home = tmp_path / "home"  # nothing there yet: the server creates the database
    env = environment(home)
    job = (Path(__file__).parent / "files" / "job.yaml").read_text()
    try:
        with serving([*SERVER[0], "--no-auth"], env, SERVER[1]) as served:
            assert served.request("POST", "/api/v1/default/projects/create",
                                  body={"name": "p"})[0] == 201
            status, run = served.request("POST", "/api/v1/default/p/runs", body={"content": job})
            assert status == 201, run
            uuid = run["uuid"]
            assert _wait_final(served, uuid) == "succeeded"
            upload = get(served, f"/api/v1/default/p/runs/{uuid}/artifacts/upload?path=a/b.txt",
                         "POST", b"data", {"Content-Type": "application/octet-stream"})
            assert upload.status == 201
    finally:
        stop_orchestrator(home)
    assert _mode(home / "polyaxon.db") == 0o600
    for folder in (home / "runs", home / "runs" / uuid, home / "artifacts",
                   home / "artifacts" / uuid, home / "run-logs"):
        assert _mode(folder) == 0o700, folder
