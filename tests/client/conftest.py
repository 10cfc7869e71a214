"""A real `polyaxon server` process for the client tests, and clients logged in to it.

The server runs in a home of its own (its database, artifacts and logs); the CLI under
test runs in another home (``client_home``), as it would on a laptop talking to a remote
server. Users are created with `polyaxon admin create-user` on the server's side and the
client logs in with `polyaxon login`, the way a person sets it up.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid as uuid_module
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import create_engine, text

if TYPE_CHECKING:
    from polyaxon_core.client import ApiClient

POLYAXON = str(Path(sys.executable).parent / "polyaxon")
PASSWORD = "correct horse battery"

Cli = Callable[..., subprocess.CompletedProcess[str]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _base_env(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("POLYAXON_") or key == "POLYAXON_TEST_PG_URL"}
    env.update({"POLYAXON_HOME": str(home), "POLYAXON_POLL_INTERVAL": "0.1",
                "POLYAXON_STOP_GRACE_PERIOD": "2", "POLYAXON_IDLE_EXIT": "20"})
    return env


class ServerProcess:
    """`polyaxon server --port PORT` in its own process group, killable and restartable."""

    def __init__(self, home: Path, env: dict[str, str], port: int) -> None:
        self.home = home
        self.env = env
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = home / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it open
        self.process = subprocess.Popen(
            [POLYAXON, "server", "--port", str(self.port)], env=self.env, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited with {self.process.returncode}:\n"
                                     f"{self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.05)  # polling for readiness, bounded by the deadline
        raise AssertionError(f"the server never answered /healthz:\n{self.log_path.read_text()}")

    def kill(self) -> None:
        """SIGKILL the server's whole process group, as a crash or `kill -9` would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(15)
        self.process = None


def _cli(env: dict[str, str]) -> Cli:
    def run(*args: str, input: str | None = None, check: bool = True,
            extra_env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([POLYAXON, *args], capture_output=True, text=True, input=input,
                                env={**env, **(extra_env or {})}, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"polyaxon {' '.join(args)} exited {result.returncode}\n"
                                 f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
        return result

    return run


class Deployment:
    """A running server, the CLI on its side (``admin``) and on a client's (``cli``)."""

    def __init__(self, tmp: Path, db_url: str | None, server_env: dict[str, str] | None = None) -> None:
        self.server_home = tmp / "server-home"
        self.client_home = tmp / "client-home"
        self.server_home.mkdir()
        self.client_home.mkdir()
        self.port = free_port()
        self.server_env = _base_env(self.server_home)
        # the orchestrator the server starts gives each run this address and a token
        self.server_env["POLYAXON_API_HOST"] = f"http://127.0.0.1:{self.port}"
        if db_url:
            self.server_env["POLYAXON_DB_URL"] = db_url
        self.server_env.update(server_env or {})
        self.server = ServerProcess(self.server_home, self.server_env, self.port)
        self.admin = _cli(self.server_env)
        self.client_env = _base_env(self.client_home)
        self.cli = _cli(self.client_env)
        self.url = self.server.url

    def create_user(self, username: str, role: str = "member") -> None:
        self.admin("admin", "create-user", username, "--role", role, "--password-stdin",
                   input=f"{PASSWORD}\n")

    def login(self, username: str) -> None:
        self.cli("login", "--host", self.url, "-u", username, "--password-stdin",
                 input=f"{PASSWORD}\n")

    def token(self, username: str) -> str:
        from polyaxon_core.client import ApiClient

        return ApiClient(self.url).create_token(username, PASSWORD)

    def client(self, username: str = "ada") -> ApiClient:
        from polyaxon_core.client import ApiClient

        return ApiClient(self.url, self.token(username))

    def stop(self) -> None:
        """Stop the server, the orchestrator it may have started and the runs still
        running (services)."""
        from tests.api.servers import stop_runs

        self.server.stop()
        stop_runs(self.server_home)
        lock = self.server_home / "orchestrator.lock"
        if lock.exists():
            import fcntl

            with open(lock, "a+") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    # the holder writes its status there: {"pid": ..., ...}
                    try:
                        pid = json.loads(lock.read_text() or "{}").get("pid")
                    except ValueError:
                        pid = None
                    if isinstance(pid, int):
                        os.kill(pid, signal.SIGTERM)


@pytest.fixture(scope="module")
def shared_deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """One server on SQLite for a module, with an owner `ada`."""
    setup = Deployment(tmp_path_factory.mktemp("deployment"), None)
    setup.create_user("ada", "owner")
    setup.server.start()
    yield setup
    setup.stop()


@pytest.fixture
def deployment(shared_deployment: Deployment) -> Deployment:
    """The module's server, with the client logged in as `ada` (again, if a test logged
    out or in as someone else)."""
    auth = shared_deployment.client_home / "auth.json"
    if not auth.exists() or '"username": "ada"' not in auth.read_text():
        shared_deployment.login("ada")
    return shared_deployment


@pytest.fixture
def project(deployment: Deployment) -> str:
    """A new project for this test on the shared server."""
    name = f"p-{uuid_module.uuid4().hex[:10]}"
    deployment.cli("project", "create", name)
    return name


@pytest.fixture
def server_postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database of its own for a test's server."""
    from tests.conftest import PG_SERVER_URL

    name = f"polyaxon_client_{uuid_module.uuid4().hex[:10]}"
    admin = create_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_SERVER_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
