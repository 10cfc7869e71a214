"""The nginx gateway `polyaxon gateway` writes, run by a real nginx in front of a real
gunicorn server: a service's requests go from nginx to the service once the server said
who may reach it; everything else, refusals included, is answered by the server."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import websocket

from polyaxon_core.client import ApiClient
from tests.api.servers import BIN, GUNICORN_WORKER, environment, serving, stop_orchestrator, stop_runs

from .conftest import PASSWORD, POLYAXON, Cli, _cli, free_port
from .test_services import APP, _request

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """gunicorn serving the API, nginx in front of it with `polyaxon gateway`'s
    configuration, an owner `ada` and a project `apps`; their URLs and ada's token."""
    tmp = tmp_path_factory.mktemp("gateway")
    api_port, gateway_port = free_port(), free_port()
    api = f"http://127.0.0.1:{api_port}"
    front = f"http://127.0.0.1:{gateway_port}"
    env = environment(tmp / "server", POLYAXON_API_HOST=api, POLYAXON_IDLE_EXIT="60")
    admin = _cli(env)
    admin("admin", "create-user", "ada", "--role", "owner", "--password-stdin", input=f"{PASSWORD}\n")
    admin("admin", "create-user", "eve", "--password-stdin", input=f"{PASSWORD}\n")
    admin("admin", "set-role", "eve", "none")  # an outsider: may read no project of these
    admin("project", "create", "apps")
    admin("project", "create", "other")
    # nginx's workers (`nobody` under root) write under its folder: one they can reach
    folder = Path(tempfile.mkdtemp(prefix="polyaxon-gateway-"))
    folder.chmod(0o755)
    conf = folder / "nginx.conf"
    conf.write_text(admin("gateway", "--api", f"127.0.0.1:{api_port}", "--listen",
                          f"127.0.0.1:{gateway_port}", "--standalone", str(folder)).stdout)
    tested = subprocess.run([NGINX, "-t", "-q", "-p", str(folder), "-c", str(conf)],
                            capture_output=True, text=True, timeout=60)
    assert tested.returncode == 0, tested.stderr
    command = [str(BIN / "gunicorn"), "-w", "1", "-k", GUNICORN_WORKER, "--threads", "4",
               "-b", f"127.0.0.1:{api_port}", "polyaxon_core.api.app:create_app()"]
    nginx = None
    try:
        with serving(command, env, r"Listening at: (http://\S+) "):
            nginx = subprocess.Popen([NGINX, "-p", str(folder), "-c", str(conf),
                                      "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
            _wait_listening(gateway_port, nginx)
            token = ApiClient(api).create_token("ada", PASSWORD)
            yield {"api": api, "front": front, "token": token,
                   "eve": ApiClient(api).create_token("eve", PASSWORD)}
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(30)
        stop_orchestrator(tmp / "server")
        stop_runs(tmp / "server")
        shutil.rmtree(folder, ignore_errors=True)


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"nginx did not listen on {port}") from None
            time.sleep(0.05)


def _client(gateway: dict[str, str], tmp_path: Path) -> Cli:
    return _cli(environment(tmp_path / "client", POLYAXON_HOST=gateway["front"],
                            POLYAXON_AUTH_TOKEN=gateway["token"]))


def test_a_service_is_reached_through_nginx_with_its_paths_redirects_cookies_and_websockets(
    gateway: dict[str, str], tmp_path: Path
) -> None:
    client = _client(gateway, tmp_path)
    path = tmp_path / "app.yaml"
    path.write_text(json.dumps({"kind": "component", "run": {
        "kind": "service", "ports": [8000], "rewritePath": True, "container": {"command": [
            sys.executable, str(APP), "--address", "{{ globals.bind_address }}",
            "--port", "{{ globals.ports[0] }}"]}}}))
    uuid = json.loads(client("run", "-f", str(path), "-p", "apps", "-o", "json").stdout)["uuid"]
    service = client("ops", "service", uuid, "-p", "apps", timeout=120).stdout.strip()
    token = gateway["token"]

    page = _request(service + "notes/a%20b.txt?x=1", token)
    redirect = _request(service + "folder", token)
    seen = json.loads(_request(service + "headers", token, headers={
        "Cookie": "theme=dark; session=web-session; remember_token=kept-me"})[2])
    cookie = dict((name.lower(), value) for name, value in _request(service + "set-cookie", token)[1])
    echoed = websocket.create_connection(service.replace("http://", "ws://") + "echo",
                                         header=[f"Authorization: Token {token}"], timeout=30)
    try:
        echoed.send("ping")
        answer = echoed.recv()
    finally:
        echoed.close()
    client("ops", "stop", uuid, "-p", "apps", "-y")
    client("ops", "get", uuid, "-p", "apps", "--watch", check=False, timeout=120)
    gone = _request(service + "notes", token)

    assert service.startswith(f"{gateway['front']}/rewrite-services/v1/local/default/apps/runs/{uuid}/8000/")
    assert page[0] == 200 and page[2] == b"hello from /notes/a%20b.txt"
    location = dict((name.lower(), value) for name, value in redirect[1])["location"]
    assert redirect[0] == 302
    assert location == f"/rewrite-services/v1/local/default/apps/runs/{uuid}/8000/folder/"
    # from nginx to the service, not through the server (which would add its own hop),
    # without the caller's credentials for the server
    assert seen["X-Forwarded-For"] == "127.0.0.1"
    assert seen["X-Forwarded-Prefix"] == f"/rewrite-services/v1/local/default/apps/runs/{uuid}/8000"
    assert "Authorization" not in seen
    assert seen["Cookie"].replace(" ", "") == "theme=dark;"
    # a cookie the service sets stays under its prefix: it cannot replace the server's session
    assert cookie["set-cookie"] == (f"session=from-the-service; "
                                    f"Path=/rewrite-services/v1/local/default/apps/runs/{uuid}/8000/")
    assert answer == "ping"
    # once stopped, the server says so (the port nginx was told of no longer answers)
    assert gone[0] == 410 and b"is stopped" in gone[2]


def test_what_nginx_does_not_pass_on_the_server_answers(gateway: dict[str, str], tmp_path: Path) -> None:
    client = _client(gateway, tmp_path)
    path = tmp_path / "app.yaml"
    path.write_text(json.dumps({"kind": "component", "run": {
        "kind": "service", "ports": [8000], "container": {"command": [
            sys.executable, str(APP), "--address", "{{ globals.bind_address }}",
            "--port", "{{ globals.ports[0] }}"]}}}))
    job = tmp_path / "job.yaml"
    job.write_text("kind: component\nrun: {kind: job, container: {command: [python, -c, 'print(1)']}}\n")
    uuid = json.loads(client("run", "-f", str(path), "-p", "apps", "-o", "json").stdout)["uuid"]
    service = client("ops", "service", uuid, "-p", "apps", timeout=120).stdout.strip()
    not_service = json.loads(client("run", "-f", str(job), "-p", "apps", "-o", "json").stdout)["uuid"]

    try:
        allowed = _request(service + "page", gateway["token"])
        anonymous = _request(service + "page")
        stranger = _request(service + "page", gateway["eve"])
        dotted = _request(service + "%2e%2e/8001/page", gateway["token"])
        job_page = _request(f"{gateway['front']}/services/v1/local/default/apps/runs/{not_service}/80/",
                            gateway["token"])
        api = _request(f"{gateway['front']}/api/v1/default/apps", gateway["token"])
    finally:
        client("ops", "stop", uuid, "-p", "apps", "-y")

    assert allowed[0] == 200
    assert allowed[2] == f"hello from /services/v1/local/default/apps/runs/{uuid}/8000/page".encode()
    assert anonymous[0] == 401 and b"authentication required" in anonymous[2]
    assert stranger[0] == 403 and b"eve may not" in stranger[2]
    assert dotted[0] == 400 and b"`..` segments" in dotted[2]
    assert job_page[0] == 404 and f"run {not_service} is a job, not a service".encode() in job_page[2]
    assert api[0] == 200 and json.loads(api[2])["name"] == "apps"


def test_the_gateway_command_refuses_what_nginx_could_not_read(tmp_path: Path) -> None:
    env = environment(tmp_path / "home")
    for args, message in [(("--api", "localhost"), "--api 'localhost' is not HOST:PORT"),
                          (("--listen", "127.0.0.1:99999"), "--listen '127.0.0.1:99999' is not HOST:PORT"),
                          (("--cache-dir", "cache; x"), "--cache-dir 'cache; x' is not an absolute path"),
                          (("--resolver", "10.0.0.1; x"), "--resolver '10.0.0.1; x' is not an address"),
                          (("--standalone", "gateway"), "--standalone 'gateway' is not an absolute path")]:
        refused = subprocess.run([POLYAXON, "gateway", *args], capture_output=True, text=True, env=env,
                                 timeout=60)
        assert refused.returncode == 1, args
        assert message in refused.stderr and "Traceback" not in refused.stderr
