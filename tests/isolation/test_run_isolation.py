"""A run cannot take over the server: a real `polyaxon server` with POLYAXON_API_HOST and
POLYAXON_RUN_AS_USER, a project member's run that tries everything it must not do, and
the outcome of every attempt, recorded by the run itself, checked here.

The run's command is the system's Python (``/usr/bin/python3``) with nothing but the
standard library: the test's own interpreter lives under a folder only root can enter,
and the attempts need no SDK. The OS user runs switch to is created when missing
(``useradd``; the tests run as root, as CI does).
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from polyaxon_core import accounts
from polyaxon_core.client import ApiClient
from polyaxon_core.db.models import ApiToken, OrganizationMember, ProjectMember
from polyaxon_core.db.session import session_scope
from tests.client.conftest import Deployment

RUN_USER = "polyaxon-run"
SYSTEM_PYTHON = "/usr/bin/python3"
SERVER_SECRET = "connections-secret-value"
BETA_SECRET = "beta-artifact-secret"

SECRET_RUN = """
import os, pathlib
pathlib.Path(os.environ["POLYAXON_RUN_OUTPUTS_PATH"], "secret.txt").write_text({secret!r})
"""

# every attempt records "denied: ..." when it fails, "ALLOWED: ..." when it succeeds
PROBE = """
import json, os, pathlib, pwd, sqlite3, urllib.error, urllib.request

home, beta_run, db_file = {home!r}, {beta_run!r}, {db_file!r}
host, token = os.environ["POLYAXON_HOST"], os.environ["POLYAXON_AUTH_TOKEN"]
outcomes = {{}}

def attempt(name, action):
    try:
        outcomes[name] = "ALLOWED: " + repr(action())[:200]
    except Exception as exc:
        outcomes[name] = "denied: " + type(exc).__name__ + ": " + str(exc)[:200]

def api(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(host + "/api/v1" + path, data=data, method=method)
    request.add_header("Authorization", "Token " + token)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()

def refused(method, path, body=None):
    def call():
        status, answer = api(method, path, body)
        if status in (401, 403):
            raise PermissionError(f"{{status}} {{answer[:120]!r}}")
        return status, answer[:120]
    return call

def environment_credentials():
    found = {{name: value for name, value in os.environ.items()
             if name in ("POLYAXON_DB_URL", "POLYAXON_HOME", "POLYAXON_STORE")
             or "sqlite" in value or "postgres" in value or home in value and "artifacts" not in value
             and "runs" not in value}}
    if found:
        return found
    raise LookupError("no database credential in the environment")

def environ_of_other_processes():
    readable = []
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if b"POLYAXON_HOME=" in (entry / "environ").read_bytes():
                    readable.append(entry.name)
            except OSError:
                pass
    if readable:
        return readable
    raise PermissionError("no process environment with the server's settings is readable")

def write_database():
    connection = sqlite3.connect(f"file:{{db_file}}?mode=rw", uri=True)
    connection.execute("UPDATE organization_members SET role = 'owner'")
    connection.commit()
    return "written"

own = "/default/alpha/runs/" + os.environ["POLYAXON_RUN_UUID"]
beta = "/default/beta/runs/" + beta_run
attempt("environment_has_database_credentials", environment_credentials)
attempt("other_processes_environment", environ_of_other_processes)
attempt("open_database_file", lambda: open(db_file, "rb").read(16))
attempt("write_database", write_database)
attempt("list_server_home", lambda: os.listdir(home))
attempt("read_server_secrets", lambda: open(os.path.join(home, "connections.yaml")).read())
attempt("list_artifacts_root", lambda: os.listdir(os.path.join(home, "artifacts")))
attempt("read_beta_artifact_on_disk",
        lambda: open(os.path.join(home, "artifacts", beta_run, "outputs", "secret.txt")).read())
attempt("read_beta_log_on_disk",
        lambda: open(os.path.join(home, "run-logs", beta_run + ".log")).read())
attempt("list_beta_run_folder", lambda: os.listdir(os.path.join(home, "runs", beta_run)))
attempt("read_beta_artifact_through_api",
        refused("GET", beta + "/artifacts/download?path=outputs/secret.txt"))
attempt("read_beta_run_through_api", refused("GET", beta))
attempt("list_beta_runs_through_api", refused("GET", "/default/beta/runs"))
attempt("create_run_in_beta", refused("POST", "/default/beta/runs", {{"content": "{{}}"}}))
attempt("list_own_project_runs", refused("GET", "/default/alpha/runs"))
attempt("read_own_project_members", refused("GET", "/default/alpha/members"))
attempt("make_itself_project_owner",
        refused("POST", "/default/alpha/members", {{"user": "mia", "role": "owner"}}))
attempt("join_beta", refused("POST", "/default/beta/members", {{"user": "mia", "role": "owner"}}))
attempt("whoami", refused("GET", "/users"))
attempt("revoke_token", refused("DELETE", "/users/token"))
attempt("stop_itself", refused("POST", own + "/stop"))
attempt("change_own_meta_info",
        refused("PATCH", own, {{"meta_info": {{"matrix": {{"resume_from": beta_run}}}}}}))
attempt("delete_beta_project", refused("DELETE", "/default/beta"))

status, _ = api("PATCH", own, {{"outputs": {{"probe": "done"}}}})
result = {{"outcomes": outcomes, "uid": os.getuid(), "user": pwd.getpwuid(os.getuid()).pw_name,
          "own_patch": status}}
pathlib.Path(os.environ["POLYAXON_RUN_OUTPUTS_PATH"], "outcomes.json").write_text(json.dumps(result))
print(json.dumps(result, indent=1))
"""


def _ensure_run_user() -> None:
    try:
        pwd.getpwnam(RUN_USER)
    except KeyError:
        subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", RUN_USER], check=True)


@pytest.fixture
def isolated(tmp_path: Path) -> Iterator[Deployment]:
    """A server whose runs execute as RUN_USER, in a home that user can reach only
    through folders it may cross (pytest's own temporary folders are root's only)."""
    _ensure_run_user()
    base = Path(tempfile.mkdtemp(prefix="polyaxon-isolation-", dir="/tmp"))
    os.chmod(base, 0o711)
    setup = Deployment(base, None, server_env={"POLYAXON_RUN_AS_USER": RUN_USER})
    # a secret of the server's home, readable by anyone until the server secures it
    secret = setup.server_home / "connections.yaml"
    secret.write_text(f"- name: store\n  secret: {SERVER_SECRET}\n")
    secret.chmod(0o644)
    setup.create_user("ada", "owner")
    setup.create_user("mia", "member")
    with session_scope(_db_url(setup)) as session:  # mia: an outsider, member of one project
        accounts.set_organization_role(session, accounts.get_user(session, "mia"), None)
    setup.server.start()
    try:
        yield setup
    finally:
        setup.stop()
        shutil.rmtree(base, ignore_errors=True)


def _db_url(setup: Deployment) -> str:
    return f"sqlite:///{setup.server_home / 'polyaxon.db'}"


def _component(folder: Path, name: str, script: str) -> str:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(script))
    path.chmod(0o644)
    return json.dumps({"version": 1.1, "kind": "component", "name": name, "run": {
        "kind": "job", "container": {"image": "python", "command": [SYSTEM_PYTHON, str(path)]}}})


def _finished(client: ApiClient, project: str, uuid: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = client.get_run(project, uuid)
        if run["status"] in {"succeeded", "failed", "stopped"}:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {uuid} stayed {run['status']}")
        time.sleep(0.2)  # polling the run's status, bounded by the deadline


def _access_rows(setup: Deployment) -> dict[str, Any]:
    with session_scope(_db_url(setup)) as session:
        return {
            "organization": sorted((m.user_id, m.role) for m in session.scalars(select(OrganizationMember))),
            "projects": sorted((m.project_id, m.user_id, m.role)
                               for m in session.scalars(select(ProjectMember))),
            "user_tokens": sorted(
                (t.id, t.user_id, t.revoked_at is None)
                for t in session.scalars(select(ApiToken).where(ApiToken.run_id.is_(None)))),
        }


def test_a_members_run_fails_every_attempt_to_reach_beyond_its_own_run(
    isolated: Deployment,
) -> None:
    setup = isolated
    scripts = setup.server_home.parent / "scripts"
    scripts.mkdir(mode=0o755)
    scripts.chmod(0o755)
    ada, mia = setup.client("ada"), setup.client("mia")
    ada.create_project("alpha")
    ada.create_project("beta")
    ada.transport.request("POST", "/api/v1/default/alpha/members",
                          json_body={"user": "mia", "role": "member"})

    secret_run = ada.create_run("beta", _component(scripts, "secret", SECRET_RUN.format(secret=BETA_SECRET)))
    assert _finished(ada, "beta", secret_run["uuid"])["status"] == "succeeded"
    before = _access_rows(setup)

    probe = mia.create_run("alpha", _component(scripts, "probe", PROBE.format(
        home=str(setup.server_home), beta_run=secret_run["uuid"],
        db_file=str(setup.server_home / "polyaxon.db"))))
    finished = _finished(mia, "alpha", probe["uuid"])
    log = mia.read_logs("alpha", probe["uuid"]).data
    assert finished["status"] == "succeeded", log
    downloaded = setup.server_home.parent / "outcomes.json"
    mia.download_artifact("alpha", probe["uuid"], "outputs/outcomes.json", downloaded)
    result = json.loads(downloaded.read_text())

    assert result["user"] == RUN_USER and result["uid"] == pwd.getpwnam(RUN_USER).pw_uid
    outcomes = result["outcomes"]
    assert len(outcomes) == 23  # every attempt of the script ran
    allowed = {name: outcome for name, outcome in outcomes.items() if not outcome.startswith("denied")}
    assert allowed == {}
    # the token still did what a run needs: log to its own run
    assert result["own_patch"] == 200 and finished["outputs"] == {"probe": "done"}
    # nothing changed: roles, memberships, users' tokens; the run's own token is revoked
    assert _access_rows(setup) == before
    with session_scope(_db_url(setup)) as session:
        run_tokens = session.scalars(select(ApiToken).where(ApiToken.run_id.is_not(None))).all()
        assert run_tokens and all(token.revoked_at is not None for token in run_tokens)
    # the beta run's artifact is intact and still the server's to serve
    kept = setup.server_home.parent / "secret.txt"
    ada.download_artifact("beta", secret_run["uuid"], "outputs/secret.txt", kept)
    assert kept.read_text() == BETA_SECRET
    assert SERVER_SECRET in (setup.server_home / "connections.yaml").read_text()
    assert (setup.server_home / "connections.yaml").stat().st_mode & 0o077 == 0
    # the launch records hold no token and no database address
    records = list(setup.server_home.glob("runs/*/.polyaxon/attempt-*/launch.json"))
    assert len(records) == 2  # the beta run's and the probe's
    for record in records:
        text = record.read_text()
        assert "POLYAXON_AUTH_TOKEN" in json.loads(text)["env_names"]
        assert "polyaxon.db" not in text and "POLYAXON_DB_URL" not in text


def test_the_server_warns_when_runs_are_not_isolated(tmp_path: Path) -> None:
    setup = Deployment(tmp_path, None)
    del setup.server_env["POLYAXON_API_HOST"]
    setup.server.start()
    try:
        output = setup.server.log_path.read_text()
    finally:
        setup.stop()
    assert "POLYAXON_RUN_AS_USER is not set: runs execute as this server's own OS user" in output
    assert "POLYAXON_API_HOST is not set" in output


def test_the_server_refuses_a_run_user_it_cannot_use(tmp_path: Path) -> None:
    setup = Deployment(tmp_path, None, server_env={"POLYAXON_RUN_AS_USER": "no-such-user-here"})
    result = setup.admin("server", "--port", "0", check=False, timeout=60)
    assert result.returncode == 2
    assert "POLYAXON_RUN_AS_USER='no-such-user-here' is not a user of this machine" in result.stderr
    assert "Traceback" not in result.stderr
