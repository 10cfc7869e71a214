"""A run's initializers (``run.init``) on the local scheduler: a git clone (with a git
connection's credentials, which reach git and nothing else), files, a Dockerfile, an init
container, other runs' artifacts and a connection's folder, all before the command, in
order, in the run's log; a step that fails ends the run before its command."""

from __future__ import annotations

import base64
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import stop_background_orchestrator
from tests.connections.conftest import Cli, WriteCatalog
from tests.orchestrator.conftest import wait_final, wait_for

TOKEN = "s3cret-token-42"


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", "-c", "user.email=t@example.org", "-c", "user.name=t", *args],
                   cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A git repository whose tag v1 prints "version one" and whose main prints "two"."""
    source = tmp_path / "model-code"
    source.mkdir()
    _git("init", "-q", "-b", "main", cwd=source)
    (source / "train.py").write_text("print('version one')\n")
    _git("add", ".", cwd=source)
    _git("commit", "-qm", "one", cwd=source)
    _git("tag", "v1", cwd=source)
    (source / "train.py").write_text("print('version two')\n")
    _git("commit", "-qam", "two", cwd=source)
    return source


class _GitOverHttp(BaseHTTPRequestHandler):
    """git's smart HTTP protocol (``git http-backend``) behind a basic-auth login."""

    root: Path
    login = "Basic " + base64.b64encode(f"alice:{TOKEN}".encode()).decode()

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        if self.headers.get("Authorization") != self.login:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        env = {"GIT_PROJECT_ROOT": str(self.root), "GIT_HTTP_EXPORT_ALL": "1",
               "PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": self.command,
               "CONTENT_TYPE": self.headers.get("Content-Type", ""),
               "CONTENT_LENGTH": str(len(body)), "REMOTE_USER": "alice",
               "PATH": os.environ["PATH"]}
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        out = subprocess.run(["git", "http-backend"], input=body, env=env,
                             capture_output=True, check=True).stdout
        separator = b"\r\n\r\n" if b"\r\n\r\n" in out else b"\n\n"
        head, _, payload = out.partition(separator)
        status, headers = 200, []
        for line in head.decode().splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            else:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def git_server(repository: Path, tmp_path: Path) -> Iterator[str]:
    """The repository served at ``http://127.0.0.1:PORT/model-code.git`` to alice only."""
    served = tmp_path / "served"
    served.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(repository), str(served / "model-code.git")],
                   check=True)
    handler = type("Handler", (_GitOverHttp,), {"root": served})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/model-code.git"
    server.shutdown()
    server.server_close()


def _last_run(cli: Cli, project: str = "p") -> dict:
    uuid = json.loads(cli("ops", "ls", "-p", project, "-o", "json").stdout)["results"][0]["uuid"]
    return json.loads(cli("ops", "get", uuid, "-o", "json").stdout)


def _logs(cli: Cli, uuid: str) -> str:
    return cli("ops", "logs", uuid).stdout


def test_the_initializers_prepare_the_run_folder_in_order_before_the_command(
    home: Path, cli: Cli, tmp_path: Path, repository: Path,
) -> None:
    (tmp_path / "p.yaml").write_text(f"""
version: 1.1
kind: component
run:
  kind: job
  init:
  - git: {{url: "file://{repository}", revision: v1}}
  - file: {{content: "lr: 0.1", filename: conf/params.yaml, chmod: "600"}}
  - dockerfile: {{image: "python:3.11-slim", env: {{A: "1"}}, run: ["pip install numpy"],
                  copy: [requirements.txt]}}
  - container:
      image: busybox
      command: [sh, -c, "ls model-code conf > listing.txt"]
  container:
    command: [sh, -c, "python model-code/train.py && cat listing.txt"]
""")
    cli("project", "create", "p")
    ran = cli("run", "-f", str(tmp_path / "p.yaml"), "-p", "p", "--watch")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    run = _last_run(cli)
    folder = home / "runs" / run["uuid"]
    logs = _logs(cli, run["uuid"])
    assert logs.index("[initializer 1/4] git: cloning") < logs.index("[initializer 4/4] done") \
        < logs.index("version one")
    assert "version two" not in logs  # the revision was checked out
    assert "params.yaml" in logs and "train.py" in logs  # the init container saw what came before
    params = folder / "conf" / "params.yaml"
    assert params.read_text() == "lr: 0.1" and params.stat().st_mode & 0o777 == 0o600
    dockerfile = (folder / "Dockerfile").read_text().splitlines()
    assert dockerfile[0] == "FROM python:3.11-slim"
    assert dockerfile.index('ENV A="1"') < dockerfile.index("WORKDIR /code") \
        < dockerfile.index("COPY requirements.txt /code") < dockerfile.index("RUN pip install numpy")


def test_a_git_connection_logs_git_in_and_its_token_reaches_no_one_else(
    home: Path, cli: Cli, tmp_path: Path, write_catalog: WriteCatalog, git_server: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_catalog(f"""
        connections:
          - name: code
            kind: git
            schema: {{url: "{git_server}", revision: v1}}
            secret: {{name: git-login}}
          - name: code-wrong-login
            kind: git
            schema: {{url: "{git_server}"}}
            secret: {{name: git-wrong}}
    """)
    monkeypatch.setenv("POLYAXON_SECRET_GIT_LOGIN__POLYAXON_GIT_CREDENTIALS", f"alice:{TOKEN}")
    monkeypatch.setenv("POLYAXON_SECRET_GIT_WRONG__POLYAXON_GIT_CREDENTIALS", "alice:wrong")
    (tmp_path / "p.yaml").write_text("""
version: 1.1
kind: component
run:
  kind: job
  init:
  - connection: code
  container:
    command: [sh, -c, "python model-code/train.py; env; ls -a"]
""")
    cli("project", "create", "p")
    ran = cli("run", "-f", str(tmp_path / "p.yaml"), "-p", "p", "--watch")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    run = _last_run(cli)
    logs = _logs(cli, run["uuid"])
    assert "version one" in logs
    assert TOKEN not in logs and "POLYAXON_GIT_CREDENTIALS" not in logs  # the command's env
    assert ".init-1" not in logs  # the step's secret folder is gone before the command
    folder = home / "runs" / run["uuid"]
    assert TOKEN not in (folder / "model-code" / ".git" / "config").read_text()
    launch = next(folder.glob(".polyaxon/attempt-*/launch.json")).read_text()
    assert TOKEN not in launch

    (tmp_path / "p.yaml").write_text((tmp_path / "p.yaml").read_text().replace(
        "connection: code", "connection: code-wrong-login"))
    refused = cli("run", "-f", str(tmp_path / "p.yaml"), "-p", "p", "--watch")
    assert refused.returncode == 1
    failed = _last_run(cli)
    assert failed["status"] == "failed"
    assert "initializer 1/1 (git) failed: git clone exited with 128" in failed["message"]
    assert "version one" not in _logs(cli, failed["uuid"])  # the command never started


@pytest.mark.slow
def test_paths_copy_artifacts_of_the_projects_runs_and_of_a_folder_connection(
    home: Path, cli: Cli, tmp_path: Path, write_catalog: WriteCatalog,
) -> None:
    shared = tmp_path / "shared"
    (shared / "data").mkdir(parents=True)
    (shared / "data" / "train.csv").write_text("x,y\n1,2\n")
    (shared / "outside").symlink_to(tmp_path)
    write_catalog(f"""
        connections:
          - {{name: datasets, kind: host_path, schema: {{hostPath: "{shared}", mountPath: /data}}}}
          - {{name: bucket, kind: s3, schema: {{bucket: "s3://b"}}}}
    """)
    cli("project", "create", "p")
    cli("project", "create", "q")
    (tmp_path / "producer.yaml").write_text("""
version: 1.1
kind: component
run:
  kind: job
  container:
    command: [sh, -c, "cd $POLYAXON_RUN_OUTPUTS_PATH && mkdir model && echo weights > model/w.bin"]
""")
    assert cli("run", "-f", str(tmp_path / "producer.yaml"), "-p", "p", "--watch").returncode == 0
    producer = _last_run(cli)["uuid"]

    def consume(project: str, init: str) -> dict:
        (tmp_path / "consumer.yaml").write_text(f"""
version: 1.1
kind: component
run:
  kind: job
  init:
{init}
  container:
    command: [sh, -c, "cat model/w.bin; cat data/train.csv"]
""")
        cli("run", "-f", str(tmp_path / "consumer.yaml"), "-p", project, "--watch")
        return _last_run(cli, project)

    run = consume("p", f"""  - paths: [["{producer}/outputs/model", model]]
  - connection: datasets
    paths: [data/train.csv]""")
    assert run["status"] == "succeeded", run
    assert "weights" in _logs(cli, run["uuid"]) and "x,y" in _logs(cli, run["uuid"])

    elsewhere = consume("q", f"  - paths: [{producer}/outputs/model]")
    assert elsewhere["status"] == "failed"
    assert "is not in the artifacts of a run of this project" in elsewhere["message"]

    climbing = consume("p", "  - {connection: datasets, paths: [../secrets]}")
    assert climbing["status"] == "failed"
    assert "'../secrets' is not a path inside" in climbing["message"]

    linked = consume("p", "  - {connection: datasets, paths: [outside]}")
    assert linked["status"] == "failed"
    assert "initializer 1/1 (paths) failed: " in linked["message"] and "leads out of" in linked["message"]

    bucket = consume("p", "  - {connection: bucket, paths: [x]}")
    assert bucket["status"] == "failed"
    assert "name a host_path or volume_claim connection" in bucket["message"]

    escaping = consume("p", f"  - {{paths: [{producer}/outputs], path: /etc}}")
    assert escaping["status"] == "failed"
    assert "`path: /etc` leads out of the run's folders" in escaping["message"]


def test_initializers_that_would_not_act_are_refused_when_submitted(
    home: Path, cli: Cli, tmp_path: Path,
) -> None:
    (tmp_path / "p.yaml").write_text("""
version: 1.1
kind: component
run:
  kind: job
  init:
  - modelRef: d0c1a7e3a1f54bbc8fbf8c5b9b0a8d53
  container:
    command: [echo, never]
""")
    cli("project", "create", "p")
    refused = cli("run", "-f", str(tmp_path / "p.yaml"), "-p", "p")
    assert refused.returncode != 0
    assert "`run.init[0].modelRef` does not act yet" in refused.stderr + refused.stdout
    listed = json.loads(cli("ops", "ls", "-p", "p", "-o", "json").stdout)["results"]
    assert listed == []


def test_with_a_run_user_the_command_owns_what_the_initializers_wrote(
    cli: Cli, tmp_path: Path, write_catalog: WriteCatalog, git_server: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_user = "polyaxon-run"
    try:
        pwd.getpwnam(run_user)
    except KeyError:
        subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", run_user], check=True)
    # a home the run user can cross (pytest's temporary folders are root's only)
    base = Path(tempfile.mkdtemp(prefix="polyaxon-init-", dir="/tmp"))
    os.chmod(base, 0o711)
    monkeypatch.setenv("POLYAXON_HOME", str(base / "home"))
    monkeypatch.setenv("POLYAXON_RUN_AS_USER", run_user)
    monkeypatch.setenv("POLYAXON_SECRET_GIT_LOGIN__POLYAXON_GIT_CREDENTIALS", f"alice:{TOKEN}")
    (base / "home").mkdir()
    (base / "home" / "connections.yaml").write_text(f"""
connections:
  - name: code
    kind: git
    schema: {{url: "{git_server}"}}
    secret: {{name: git-login, mountPath: /etc/git-login}}
""")
    (tmp_path / "p.yaml").write_text("""
version: 1.1
kind: component
run:
  kind: job
  init:
  - connection: code
    git: {revision: v1}
  - file: {content: "lr: 0.1", filename: params.yaml}
  container:
    command: [sh, -c, "id -un && echo 'epochs: 3' >> params.yaml && touch model-code/mine && cat params.yaml"]
""")
    try:
        cli("project", "create", "p")
        ran = cli("run", "-f", str(tmp_path / "p.yaml"), "-p", "p", "--watch")
        assert ran.returncode == 0, ran.stdout + ran.stderr
        run = _last_run(cli)
        logs = _logs(cli, run["uuid"])
        assert f"{run_user}\nlr: 0.1epochs: 3" in logs
        assert (base / "home" / "runs" / run["uuid"] / "model-code" / "mine").exists()
    finally:
        stop_background_orchestrator(base / "home")
        shutil.rmtree(base, ignore_errors=True)


def test_a_run_stopped_during_an_initializer_is_stopped_and_its_command_never_starts(
    home: Path, cli: Cli, tmp_path: Path,
) -> None:
    (tmp_path / "p.yaml").write_text("""
version: 1.1
kind: component
run:
  kind: job
  init:
  - container: {image: busybox, command: [sh, -c, "touch init-started; exec sleep 300"]}
  container:
    command: [touch, command-started]
""")
    cli("project", "create", "p")
    assert cli("run", "-f", str(tmp_path / "p.yaml"), "-p", "p").returncode == 0
    uuid = json.loads(cli("ops", "ls", "-p", "p", "-o", "json").stdout)["results"][0]["uuid"]
    folder = home / "runs" / uuid
    wait_for(uuid, lambda _state: (folder / "init-started").exists())
    assert cli("ops", "stop", uuid, "-y").returncode == 0
    final = wait_final(uuid)
    assert final["status"] == "stopped"
    assert not (folder / "command-started").exists()
