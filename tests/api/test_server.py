"""`polyaxon server` and the production command (gunicorn) start, answer and refuse
what they must; uploads stream through real servers."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from polyaxon_core import accounts
from polyaxon_core.db.session import migrate, session_scope
from polyaxon_core.domain.projects import create_project
from tests.api.servers import BIN, GUNICORN_WORKER, Served, environment, serving

SERVER_LISTENING = r"serving the API on (http://\S+)/api/v1"
GUNICORN_LISTENING = r"Listening at: (http://\S+) "


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home with a migrated database, a project and the user `ada` (password known)."""
    home = tmp_path / "home"
    url = f"sqlite:///{home / 'polyaxon.db'}"
    migrate(url)
    with session_scope(url) as session:
        accounts.create_user(session, "ada", "long enough password", organization_role="member")
        create_project(session, "p")
    return home


def _token(served: Served) -> str:
    status, answer = served.request("POST", "/api/v1/users/token",
                                    body={"username": "ada", "password": "long enough password"})
    assert status == 200, answer
    return str(answer["token"])


def _upload_chunked(served: Served, token: str, run_path: str, data: bytes) -> tuple[int, bytes]:
    """POST ``data`` with Transfer-Encoding: chunked, as a streaming client does."""
    url = urllib.parse.urlsplit(served.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    chunks: Iterator[bytes] = (data[start:start + 1000] for start in range(0, len(data), 1000))
    connection.request("POST", f"{run_path}/artifacts/upload?path=up.bin", body=chunks,
                       headers={"Authorization": f"Token {token}",
                                "Content-Type": "application/octet-stream"},
                       encode_chunked=True)
    answer = connection.getresponse()
    result = answer.status, answer.read()
    connection.close()
    return result


def _exercise(served: Served) -> None:
    """What both servers must do: health, refusing anonymous requests, tokens, runs, uploads."""
    assert served.request("GET", "/healthz") == (200, {"status": "ok"})
    status, error = served.request("GET", "/api/v1/users")
    assert status == 401 and set(error) == {"code", "message", "errors"}
    token = _token(served)
    assert served.request("GET", "/api/v1/users", token)[1]["username"] == "ada"
    job = (Path(__file__).parent / "files" / "job.yaml").read_text()
    status, run = served.request("POST", "/api/v1/default/p/runs", token, {"content": job})
    assert status == 201, run
    run_path = f"/api/v1/default/p/runs/{run['uuid']}"
    status, body = _upload_chunked(served, token, run_path, b"z" * 25_000)
    assert status == 201 and b'"size":25000' in body
    status, tree = served.request("GET", f"{run_path}/artifacts/tree", token)
    assert tree["files"] == [{"path": "up.bin", "size": 25_000, "is_dir": False}]


def test_polyaxon_server_serves_the_api_with_authentication(home: Path) -> None:
    env = environment(home, POLYAXON_ORCHESTRATOR="external")
    with serving([str(BIN / "polyaxon"), "server", "--port", "0"], env, SERVER_LISTENING) as served:
        _exercise(served)
    assert "gunicorn" in "".join(served.output)  # it says how to serve in production


def test_the_gunicorn_command_of_the_docs_serves_the_same_application(home: Path) -> None:
    env = environment(home, POLYAXON_ORCHESTRATOR="external")
    command = [str(BIN / "gunicorn"), "-w", "2", "-k", GUNICORN_WORKER, "--threads", "4",
               "-b", "127.0.0.1:0", "polyaxon_core.api.app:create_app()"]
    with serving(command, env, GUNICORN_LISTENING) as served:
        _exercise(served)


def test_no_auth_serves_without_tokens_and_says_so_loudly(home: Path) -> None:
    env = environment(home, POLYAXON_ORCHESTRATOR="external")
    command = [str(BIN / "polyaxon"), "server", "--port", "0", "--no-auth"]
    with serving(command, env, SERVER_LISTENING) as served:
        status, me = served.request("GET", "/api/v1/users")
        assert (status, me["username"], me["role"]) == (200, "local", "owner")
    assert "AUTHENTICATION IS OFF" in "".join(served.output)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::"])
def test_no_auth_is_refused_unless_the_server_listens_on_localhost_only(
    home: Path, host: str
) -> None:
    result = subprocess.run([str(BIN / "polyaxon"), "server", "--no-auth", "--host", host],
                            env=environment(home), capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "--no-auth" in result.stderr and "only allowed on" in result.stderr
    assert "Traceback" not in result.stderr


def _modules_after(code: str) -> set[str]:
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, timeout=60)
    return set(json.loads(result.stdout.splitlines()[-1]))


WEB = {"flask", "werkzeug", "apispec", "gunicorn", "swagger_ui_bundle"}


def test_the_command_line_loads_no_web_framework_until_a_server_starts() -> None:
    for argv in (["--help"], ["server", "--help"]):
        loaded = _modules_after(
            "from polyaxon_core.cli import cli\n"
            f"try:\n    cli.main({argv!r}, standalone_mode=False)\nexcept SystemExit:\n    pass")
        assert not WEB & loaded, argv


def test_loading_the_plugins_loads_no_web_framework() -> None:
    # every process loads the default auth plugin; only a server needs Flask
    loaded = _modules_after("from polyaxon_core.plugins import get_plugin_manager\n"
                            "assert 'auth-default' in {p.name for p in get_plugin_manager().plugins}")
    assert not WEB & loaded
