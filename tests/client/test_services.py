"""Services through the server: a real JupyterLab from the hub, a kernel executing a cell
over a WebSocket passed on by the server's proxy, and who may reach it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid as uuid_module
from pathlib import Path

import psutil
import pytest
import websocket

from polyaxon_core.client import ApiClient
from tests.api.servers import BIN, GUNICORN_WORKER, environment, serving, stop_orchestrator, stop_runs

from .conftest import PASSWORD, POLYAXON, Deployment, _cli, free_port


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # the test looks at the redirect itself


OPENER = urllib.request.build_opener(_NoRedirects)


def _request(url: str, token: str | None = None, method: str = "GET", data: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, list[tuple[str, str]], bytes]:
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with OPENER.open(request, timeout=30) as answer:
            return answer.status, list(answer.headers.items()), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, list(error.headers.items()), error.read()


def _processes_of(uuid: str) -> list[psutil.Process]:
    """The processes whose command line names the run (a service's base URL does)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any(uuid in part for part in process.info["cmdline"] or []):
            found.append(process)
    return found


def _execute(url: str, token: str, kernel: str, cookies: str, code: str) -> str:
    """Run ``code`` in ``kernel`` over its WebSocket; what it printed."""
    ws_url = url.replace("http://", "ws://") + f"api/kernels/{kernel}/channels"
    socket = websocket.create_connection(
        ws_url, header=[f"Authorization: Token {token}", f"Cookie: {cookies}"], timeout=60)
    message_id = uuid_module.uuid4().hex
    socket.send(json.dumps({
        "header": {"msg_id": message_id, "username": "test", "session": uuid_module.uuid4().hex,
                   "msg_type": "execute_request", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False},
    }))
    printed = []
    # the reply (shell channel) may come before the output (iopub): done once the kernel
    # replied and went idle after this request
    replied = idle = False
    try:
        while not (replied and idle):
            message = json.loads(socket.recv())
            if message.get("parent_header", {}).get("msg_id") != message_id:
                continue
            if message["msg_type"] == "stream":
                printed.append(message["content"]["text"])
            if message["msg_type"] == "execute_reply":
                assert message["content"]["status"] == "ok", message["content"]
                replied = True
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                idle = True
        return "".join(printed)
    finally:
        socket.close()


PROBE = """\
import os, urllib.error, urllib.request
request = urllib.request.Request(os.environ["SERVICE_URL"] + "lab", headers={
    "Authorization": "Token " + os.environ["POLYAXON_AUTH_TOKEN"]})
try:
    code = urllib.request.urlopen(request, timeout=30).status
except urllib.error.HTTPError as error:
    code = error.code
print("answered", code)
"""


def test_a_jupyterlab_from_the_hub_runs_a_cell_through_the_proxy_for_its_readers_only(
    deployment: Deployment, project: str, tmp_path: Path
) -> None:
    viewer = f"eve-{uuid_module.uuid4().hex[:6]}"
    deployment.create_user(viewer, "viewer")
    started = deployment.cli("run", "--hub", "jupyterlab", "-p", project, "-o", "json")
    uuid = json.loads(started.stdout)["uuid"]

    url = deployment.cli("ops", "service", uuid, "-p", project, timeout=180).stdout.strip()
    token = deployment.token("ada")

    assert url.startswith(f"{deployment.url}/services/v1/local/")
    assert url.endswith(f"/{project}/runs/{uuid}/8888/")
    # JupyterLab's page, through the proxy; it sets the _xsrf cookie its API asks back
    status, headers, page = _request(url + "lab", token)
    assert status == 200 and b"JupyterLab" in page
    cookies = "; ".join(part.split(";")[0] for name, part in headers
                        if name.lower() == "set-cookie")
    xsrf = dict(pair.split("=", 1) for pair in cookies.split("; ") if "=" in pair)["_xsrf"]
    status, _, body = _request(url + "api/kernels", token, "POST", b"{}",
                               {"Content-Type": "application/json", "X-XSRFToken": xsrf,
                                "Cookie": cookies})
    assert status == 201, body
    kernel = json.loads(body)["id"]

    printed = _execute(url, token, kernel, cookies, "print(6 * 7)")

    assert printed == "42\n"
    # whoever may read the run gets in; nobody without credentials, over HTTP or WebSocket
    assert _request(url + "lab", deployment.token(viewer))[0] == 200
    assert _request(url + "lab")[0] == 401
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(url.replace("http://", "ws://") + f"api/kernels/{kernel}/channels",
                                    timeout=30)
    assert refused.value.status_code == 401
    # nor a run of another project, with the token the server gave it
    other = f"p-{uuid_module.uuid4().hex[:10]}"
    deployment.cli("project", "create", other)
    probe = tmp_path / "probe.yaml"
    probe.write_text(json.dumps({"kind": "component", "run": {"kind": "job", "container": {
        "command": [sys.executable, "-c", PROBE], "env": [{"name": "SERVICE_URL", "value": url}]}}}))
    prober = json.loads(deployment.cli("run", "-f", str(probe), "-p", other, "-o", "json").stdout)["uuid"]
    deployment.cli("ops", "get", prober, "-p", other, "--watch", timeout=120)
    assert "answered 403" in deployment.cli("ops", "logs", prober, "-p", other).stdout
    # a path leaving the prefix is refused before it reaches the service
    status, _, body = _request(url + "%2e%2e/8889/api/status", token)
    assert status == 400 and b"`..` segments" in body
    assert _processes_of(uuid)

    deployment.cli("ops", "stop", uuid, "-p", project, "-y")
    watched = deployment.cli("ops", "get", uuid, "-p", project, "--watch", check=False, timeout=120)

    assert "stopped" in watched.stdout
    assert _processes_of(uuid) == []
    status, _, body = _request(url + "lab", token)
    assert status == 410 and b"is stopped" in body


def test_what_the_proxy_cannot_reach_is_named(deployment: Deployment, project: str,
                                              tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text("kind: component\nrun: {kind: job, container: {command: [python, -c, 'print(1)']}}\n")
    uuid = json.loads(deployment.cli("run", "-f", str(job), "-p", project, "-o", "json").stdout)["uuid"]
    token = deployment.token("ada")

    status, _, body = _request(f"{deployment.url}/services/v1/local/default/{project}/runs/{uuid}/80/", token)

    assert status == 404
    assert f"run {uuid} is a job, not a service".encode() in body
    status, _, body = _request(f"{deployment.url}/services/v1/local/default/{project}/runs/{'0' * 32}/80/",
                               token)
    assert status == 404 and b"Traceback" not in body


def test_a_service_that_never_opens_its_port_fails_saying_so(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {key: value for key, value in os.environ.items() if not key.startswith("POLYAXON_")}
    env.update(POLYAXON_HOME=str(home), POLYAXON_POLL_INTERVAL="0.1",
               POLYAXON_SERVICE_START_TIMEOUT="2", POLYAXON_IDLE_EXIT="10")
    path = tmp_path / "deaf.yaml"
    path.write_text(
        "kind: component\n"
        "run:\n  kind: service\n  ports: [8000]\n"
        "  container: {command: [python, -c, 'import time; time.sleep(600)']}\n")

    def polyaxon(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([POLYAXON, *args], capture_output=True, text=True, env=env, timeout=120)

    assert polyaxon("project", "create", "demo").returncode == 0
    uuid = json.loads(polyaxon("run", "-f", str(path), "-p", "demo", "-o", "json").stdout)["uuid"]
    watched = polyaxon("ops", "get", uuid, "-p", "demo", "--watch")
    run = json.loads(polyaxon("ops", "get", uuid, "-p", "demo", "-o", "json").stdout)
    service = polyaxon("ops", "service", uuid, "-p", "demo")

    assert watched.returncode == 1
    assert run["status"] == "failed"
    assert run["message"].startswith("the service did not answer on port ")
    assert "within 2s (POLYAXON_SERVICE_START_TIMEOUT)" in run["message"]
    assert service.returncode == 1 and "Traceback" not in service.stderr
    assert f"run {uuid[:12]} is failed (the service did not answer" in service.stderr


APP = Path(__file__).with_name("service_app.py")


def test_a_rewritten_service_under_gunicorn_gets_its_paths_its_redirects_and_websockets(
    tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = environment(tmp_path / "server", POLYAXON_API_HOST=url, POLYAXON_IDLE_EXIT="20",
                      POLYAXON_MAX_SERVICE_SOCKETS_PER_USER="1")
    admin = _cli(env)
    admin("admin", "create-user", "ada", "--role", "owner", "--password-stdin", input=f"{PASSWORD}\n")
    admin("project", "create", "apps")
    command = [str(BIN / "gunicorn"), "-w", "1", "-k", GUNICORN_WORKER, "--threads", "4",
               "-b", f"127.0.0.1:{port}", "polyaxon_core.api.app:create_app()"]
    path = tmp_path / "app.yaml"
    path.write_text(json.dumps({"kind": "component", "run": {
        "kind": "service", "ports": [8000], "rewritePath": True, "container": {"command": [
            sys.executable, str(APP), "--address", "{{ globals.bind_address }}",
            "--port", "{{ globals.ports[0] }}"]}}}))
    try:
        with serving(command, env, r"Listening at: (http://\S+) "):
            token = ApiClient(url).create_token("ada", PASSWORD)
            client = _cli(environment(tmp_path / "client", POLYAXON_HOST=url, POLYAXON_AUTH_TOKEN=token))
            uuid = json.loads(client("run", "-f", str(path), "-p", "apps", "-o", "json").stdout)["uuid"]
            service = client("ops", "service", uuid, "-p", "apps", timeout=120).stdout.strip()

            page = _request(service + "notes/a%20b.txt?x=1", token)
            redirect = _request(service + "folder", token)
            echoed = websocket.create_connection(service.replace("http://", "ws://") + "echo",
                                                 header=[f"Authorization: Token {token}"], timeout=30)
            try:
                echoed.send("ping")
                answer = echoed.recv()
                echoed.send_binary(b"\x00\x01")
                binary = echoed.recv()
                with pytest.raises(websocket.WebSocketBadStatusException) as refused:
                    websocket.create_connection(service.replace("http://", "ws://") + "echo",
                                                header=[f"Authorization: Token {token}"], timeout=30)
            finally:
                echoed.close()
            client("ops", "stop", uuid, "-p", "apps", "-y")
            client("ops", "get", uuid, "-p", "apps", "--watch", check=False, timeout=120)
    finally:
        stop_orchestrator(tmp_path / "server")
        stop_runs(tmp_path / "server")

    assert service.startswith(f"{url}/rewrite-services/v1/local/default/apps/runs/{uuid}/8000/")
    # the service sees its own paths, still encoded, with the query
    assert page[0] == 200 and page[2] == b"hello from /notes/a%20b.txt"
    # its redirects to its own paths stay under its prefix
    location = dict((name.lower(), value) for name, value in redirect[1])["location"]
    assert redirect[0] == 302
    assert location == f"/rewrite-services/v1/local/default/apps/runs/{uuid}/8000/folder/"
    assert answer == "ping" and binary == b"\x00\x01"
    # one WebSocket per user here (POLYAXON_MAX_SERVICE_SOCKETS_PER_USER=1): the second waits
    assert refused.value.status_code == 429


def test_culling_stops_an_idle_notebook_and_says_so(deployment: Deployment, project: str,
                                                     tmp_path: Path) -> None:
    operation = tmp_path / "notebook.yaml"
    operation.write_text("kind: operation\nhubRef: jupyterlab\ntermination: {culling: {timeout: 3}}\n")
    uuid = json.loads(deployment.cli("run", "-f", str(operation), "-p", project, "-o", "json").stdout)["uuid"]
    url = deployment.cli("ops", "service", uuid, "-p", project, timeout=180).stdout.strip()
    assert _request(url + "api/status", deployment.token("ada"))[0] == 200

    watched = deployment.cli("ops", "get", uuid, "-p", project, "--watch", check=False, timeout=120)
    timeline = json.loads(deployment.cli("ops", "statuses", uuid, "-p", project, "-o", "json").stdout)

    assert "stopped" in watched.stdout
    conditions = [(c["status"], c["reason"], c["message"]) for c in timeline["status_conditions"]]
    stopping = [c for c in conditions if c[0] == "stopping"]
    assert len(stopping) == 1 and stopping[0][1] == "culled"
    idle = int(stopping[0][2].split("idle for ")[1].split("s,")[0])
    assert idle >= 3
    assert stopping[0][2].endswith("longer than its termination.culling.timeout of 3s")
    assert conditions[-1][0] == "stopped"
    assert _processes_of(uuid) == []


SWEEP = """
version: 1.1
kind: operation
name: lr-sweep
matrix:
  kind: grid
  params:
    lr: {kind: choice, value: [0.1, 0.2]}
component:
  inputs: [{name: lr, type: float}]
  run:
    kind: job
    container:
      command: [python, "SCRIPT", "{{ lr }}"]
"""
TRAIN = """\
import sys
from polyaxon_core import tracking
tracking.init(tensorboard=True)
lr = float(sys.argv[1])
for step in range(3):
    tracking.log_metrics(step=step, loss=lr * step, accuracy=1 - lr)
"""


def test_a_tensorboard_over_a_sweep_lists_what_each_trial_logged(
    deployment: Deployment, project: str, tmp_path: Path
) -> None:
    (tmp_path / "train.py").write_text(TRAIN)
    path = tmp_path / "sweep.yaml"
    path.write_text(SWEEP.replace("SCRIPT", str(tmp_path / "train.py")))
    sweep = json.loads(deployment.cli("run", "-f", str(path), "-p", project, "-o", "json").stdout)["uuid"]
    deployment.cli("ops", "get", sweep, "-p", project, "--watch", timeout=180)
    listed = json.loads(deployment.cli("ops", "ls", "-p", project, "-o", "json").stdout)["results"]
    trials = [run for run in listed if run["uuid"] != sweep]
    names = {trial["name"] for trial in trials}
    assert len(names) == 2 and {trial["status"] for trial in trials} == {"succeeded"}

    board = json.loads(deployment.cli("run", "--hub", "tensorboard", "-P", f"uuids={sweep}", "-p", project,
                                      "-o", "json").stdout)["uuid"]
    url = deployment.cli("ops", "service", board, "-p", project, timeout=180).stdout.strip()
    token = deployment.token("ada")
    deadline = time.monotonic() + 60
    while True:  # TensorBoard loads the event files in the background
        status, _, body = _request(url + "data/plugin/scalars/tags", token)
        assert status == 200, body
        tags = {run: set(found) for run, found in json.loads(body).items()}
        if tags == {name: {"loss", "accuracy"} for name in names} or time.monotonic() > deadline:
            break
        time.sleep(0.2)  # polling TensorBoard until it has read the files, bounded above
    deployment.cli("ops", "stop", board, "-p", project, "-y")

    assert tags == {name: {"loss", "accuracy"} for name in names}
