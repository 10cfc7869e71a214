"""The CLI against a real `polyaxon server`: login, projects, runs end to end, errors."""

from __future__ import annotations

import json
import stat
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from polyaxon_core.client.errors import Unauthenticated
from tests.client.conftest import PASSWORD, Deployment, free_port

TRAIN = """
import os
from polyaxon_core import tracking

print("host", os.environ.get("POLYAXON_HOST"), flush=True)
tracking.init()
tracking.log_inputs(dropout=0.2)
for step in range({steps}):
    tracking.log_metrics(step=step, loss=1.0 / (step + 1), accuracy=step / {steps})
tracking.log_outputs(best=0.99)
tracking.end()
print("training done", flush=True)
"""


def _polyaxonfile(folder: Path, name: str, script: str) -> Path:
    """A component running ``script``; paths are absolute, since the run executes on the
    server's side (the polyaxonfile's folder is not uploaded)."""
    script_path = folder / f"{name}.py"
    script_path.write_text(textwrap.dedent(script))
    path = folder / f"{name}.yaml"
    path.write_text(textwrap.dedent(f"""\
        version: 1.1
        kind: component
        name: {name}
        run:
          kind: job
          container:
            image: python
            command: [{sys.executable}, {script_path}]
        """))
    return path


def _wait_status(deployment: Deployment, project: str, uuid: str, statuses: set[str],
                 timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = json.loads(deployment.cli("ops", "get", uuid, "-p", project, "-o", "json").stdout)
        if run["status"] in statuses:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {uuid} stayed {run['status']}, expected {statuses}")
        time.sleep(0.2)  # polling the run's status, bounded by the deadline


# ------------------------------------------------------------------------------ login


def test_login_saves_a_private_token_and_whoami_shows_the_user(deployment: Deployment) -> None:
    auth = deployment.client_home / "auth.json"
    assert stat.S_IMODE(auth.stat().st_mode) == 0o600
    saved = json.loads(auth.read_text())
    assert saved["host"] == deployment.url and saved["username"] == "ada" and saved["token"]
    shown = deployment.cli("whoami")
    assert shown.stdout.strip() == f"ada (owner) on {deployment.url}"
    assert json.loads(deployment.cli("whoami", "-o", "json").stdout)["role"] == "owner"


def test_logout_revokes_the_token_and_forgets_it(deployment: Deployment) -> None:
    from polyaxon_core.client import ApiClient

    token = json.loads((deployment.client_home / "auth.json").read_text())["token"]
    out = deployment.cli("logout")
    assert "token revoked" in out.stdout
    assert not (deployment.client_home / "auth.json").exists()
    with pytest.raises(Unauthenticated):
        ApiClient(deployment.url, token).whoami()
    after = deployment.cli("whoami", check=False)
    assert after.returncode == 1 and "not logged in" in after.stderr
    assert "Not logged in" in deployment.cli("logout").stdout


def test_a_wrong_password_is_refused_and_nothing_is_saved(deployment: Deployment) -> None:
    deployment.cli("logout")
    refused = deployment.cli("login", "--host", deployment.url, "-u", "ada", "--password-stdin",
                             input="not the password\n", check=False)
    assert refused.returncode == 1
    assert "wrong username or password" in refused.stderr and "Traceback" not in refused.stderr
    assert not (deployment.client_home / "auth.json").exists()


def test_a_server_that_is_not_there_is_named(deployment: Deployment) -> None:
    port = free_port()
    failed = deployment.cli("login", "--host", f"127.0.0.1:{port}", "-u", "ada",
                            "--password-stdin", input=f"{PASSWORD}\n", check=False)
    assert failed.returncode == 1
    assert f"http://127.0.0.1:{port}" in failed.stderr and "connection refused" in failed.stderr
    listed = deployment.cli("project", "ls", check=False,
                            extra_env={"POLYAXON_HOST": f"http://127.0.0.1:{port}"})
    assert listed.returncode == 1 and "cannot reach" in listed.stderr


def test_a_revoked_token_in_the_environment_says_how_to_log_in(deployment: Deployment) -> None:
    token = deployment.token("ada")
    deployment.cli("logout")
    env = {"POLYAXON_HOST": deployment.url, "POLYAXON_AUTH_TOKEN": token}
    assert deployment.cli("project", "ls", extra_env=env).returncode == 0
    from polyaxon_core.client import ApiClient

    ApiClient(deployment.url, token).revoke_token()
    refused = deployment.cli("project", "ls", extra_env=env, check=False)
    assert refused.returncode == 1 and "polyaxon login" in refused.stderr


def test_admin_create_user_errors_are_messages(deployment: Deployment) -> None:
    again = deployment.admin("admin", "create-user", "ada", "--password-stdin",
                             input=f"{PASSWORD}\n", check=False)
    assert again.returncode == 1 and "already exists" in again.stderr
    short = deployment.admin("admin", "create-user", "bob", "--password-stdin",
                             input="short\n", check=False)
    assert short.returncode == 1 and "at least 8 characters" in short.stderr
    empty = deployment.admin("admin", "create-user", "bob", "--password-stdin", input="",
                             check=False)
    assert empty.returncode == 1 and "no password" in empty.stderr
    role = deployment.admin("admin", "create-user", "bob", "--role", "emperor",
                            "--password-stdin", input=f"{PASSWORD}\n", check=False)
    assert role.returncode == 2 and "emperor" in role.stderr
    for output in (again, short, empty, role):
        assert "Traceback" not in output.stderr


def test_a_viewer_cannot_create_projects(deployment: Deployment) -> None:
    deployment.create_user("vic", "viewer")
    deployment.login("vic")
    assert "vic (viewer)" in deployment.cli("whoami").stdout
    refused = deployment.cli("project", "create", "theirs", check=False)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr


# --------------------------------------------------------------------------- projects


def test_projects_are_managed_on_the_server(deployment: Deployment) -> None:
    deployment.cli("project", "create", "mnist", "--description", "digits", "--tags", "a,b")
    listed = json.loads(deployment.cli("project", "ls", "-o", "json").stdout)
    assert "mnist" in [project["name"] for project in listed["results"]]
    shown = json.loads(deployment.cli("project", "get", "mnist", "-o", "json").stdout)
    assert shown["description"] == "digits" and shown["tags"] == ["a", "b"]
    again = deployment.cli("project", "create", "mnist", check=False)
    assert again.returncode == 1 and "already exists" in again.stderr
    assert deployment.cli("project", "delete", "mnist", "-y").returncode == 0
    missing = deployment.cli("project", "get", "mnist", check=False)
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    listed = json.loads(deployment.cli("project", "ls", "-o", "json").stdout)
    assert "mnist" not in [project["name"] for project in listed["results"]]
    # everything happened on the server: the client's home has no database
    assert not (deployment.client_home / "polyaxon.db").exists()
    assert (deployment.server_home / "polyaxon.db").exists()


def test_run_commands_need_a_project_on_a_server(deployment: Deployment) -> None:
    refused = deployment.cli("ops", "ls", check=False)
    assert refused.returncode == 1 and "no project given" in refused.stderr


def test_init_creates_the_project_on_the_server(deployment: Deployment, tmp_path: Path) -> None:
    import subprocess

    from tests.client.conftest import POLYAXON

    folder = tmp_path / "work"
    folder.mkdir()
    result = subprocess.run([POLYAXON, "init", "-p", "from-init"], cwd=folder,
                            capture_output=True, text=True, env=deployment.client_env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"server {deployment.url}" in result.stdout and "from-init (created)" in result.stdout
    assert json.loads((folder / ".polyaxon" / "project.json").read_text()) == {"name": "from-init"}
    listed = subprocess.run([POLYAXON, "ops", "ls", "-o", "json"], cwd=folder,
                            capture_output=True, text=True, env=deployment.client_env, timeout=60)
    assert json.loads(listed.stdout)["count"] == 0


# ------------------------------------------------------------------------------- runs


def test_a_run_goes_end_to_end_through_the_server(deployment: Deployment, project: str,
                                                  tmp_path: Path) -> None:
    polyaxonfile = _polyaxonfile(tmp_path, "train", TRAIN.format(steps=1500))
    watched = deployment.cli("run", "-f", str(polyaxonfile), "-p", project, "--watch",
                             timeout=180)
    # --watch followed the log through the API's stream to the end
    assert f"host {deployment.url}" in watched.stdout
    assert "training done" in watched.stdout and "succeeded" in watched.stdout
    listed = json.loads(deployment.cli("ops", "ls", "-p", project, "-q", "status:succeeded",
                                       "-s", "-metrics.accuracy", "-o", "json").stdout)
    assert listed["count"] == 1
    run = listed["results"][0]
    uuid = run["uuid"]
    assert run["metrics"]["loss"] == pytest.approx(1.0 / 1500)
    shown = json.loads(deployment.cli("ops", "get", uuid[:8], "-p", project, "-o", "json").stdout)
    assert shown["inputs"]["dropout"] == 0.2 and shown["outputs"] == {"best": 0.99}
    metrics = json.loads(deployment.cli("ops", "metrics", uuid, "-p", project, "-o", "json").stdout)
    assert sorted(metrics["metrics"]) == ["accuracy", "loss"]
    assert [point["step"] for point in metrics["metrics"]["loss"]] == list(range(1500))
    assert (metrics["attempt"], metrics["attempts"]) == (1, [1])
    tail = deployment.cli("ops", "metrics", uuid[:12], "-p", project, "-n", "loss", "--tail", "2")
    assert [line.split()[0] for line in tail.stdout.splitlines()[3:]] == ["1498", "1499"]
    statuses = json.loads(deployment.cli("ops", "statuses", uuid, "-p", project, "-o", "json").stdout)
    timeline = [condition["status"] for condition in statuses["status_conditions"]]
    assert timeline[0] == "created" and "running" in timeline and timeline[-1] == "succeeded"
    logs = deployment.cli("ops", "logs", uuid, "-p", project).stdout
    assert "training done" in logs
    # the metrics came through the API in batches (the database transport writes none)
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{deployment.server_home / 'polyaxon.db'}")
    with engine.connect() as connection:
        batches = connection.execute(text(
            "SELECT count(*), sum(points) FROM metric_batches JOIN runs ON runs.id = run_id "
            "WHERE runs.uuid = :uuid"), {"uuid": uuid}).one()
    engine.dispose()
    assert batches[0] >= 3 and batches[1] == 3000
    archived = deployment.cli("ops", "archive", uuid[:12], "-p", project)
    assert f"Run {uuid[:12]} archived" in archived.stdout
    assert json.loads(deployment.cli("ops", "ls", "-p", project, "-o", "json").stdout)["count"] == 0
    shelved = json.loads(deployment.cli("ops", "ls", "-p", project, "--archived", "-o", "json").stdout)
    assert [run["uuid"] for run in shelved["results"]] == [uuid]
    deployment.cli("ops", "restore", uuid[:12], "-p", project)
    assert json.loads(deployment.cli("ops", "ls", "-p", project, "-o", "json").stdout)["count"] == 1


def test_stop_restart_resume_and_delete_through_the_server(deployment: Deployment, project: str,
                                                           tmp_path: Path) -> None:
    polyaxonfile = _polyaxonfile(tmp_path, "sleeper", """
        import time
        print("sleeping", flush=True)
        time.sleep(600)
        """)
    created = json.loads(deployment.cli("run", "-f", str(polyaxonfile), "-p", project,
                                        "-o", "json").stdout)
    uuid = created["uuid"]
    _wait_status(deployment, project, uuid, {"running"})
    busy = deployment.cli("ops", "delete", uuid, "-p", project, "-y", check=False)
    assert busy.returncode == 1 and "stop it first" in busy.stderr
    stopped = deployment.cli("ops", "stop", uuid, "-p", project, "-y")
    assert f"Run {uuid[:12]} is stopping." in stopped.stdout
    assert _wait_status(deployment, project, uuid, {"stopped", "failed"})["status"] == "stopped"
    again = deployment.cli("ops", "stop", uuid, "-p", project, "-y", check=False)
    assert again.returncode == 1 and "nothing to stop" in again.stderr

    restarted = json.loads(deployment.cli("ops", "restart", uuid, "-p", project, "-o",
                                          "json").stdout)
    assert restarted["uuid"] != uuid and restarted["cloning_kind"] == "restart"
    assert restarted["original"]["uuid"] == uuid
    _wait_status(deployment, project, restarted["uuid"], {"running"})
    deployment.cli("ops", "stop", restarted["uuid"], "-p", project, "-y")

    resumed = deployment.cli("ops", "resume", uuid[:10], "-p", project)
    assert f"Run {uuid[:12]} resumed" in resumed.stdout
    _wait_status(deployment, project, uuid, {"running"})
    deployment.cli("ops", "stop", uuid, "-p", project, "-y")
    _wait_status(deployment, project, uuid, {"stopped"})
    _wait_status(deployment, project, restarted["uuid"], {"stopped"})

    deleted = deployment.cli("ops", "delete", uuid, "-p", project, "-y")
    assert f"Deleted run {uuid[:12]}" in deleted.stdout
    gone = deployment.cli("ops", "get", uuid, "-p", project, check=False)
    assert gone.returncode == 1 and "no run" in gone.stderr
    remaining = json.loads(deployment.cli("ops", "ls", "-p", project, "-o", "json").stdout)
    assert [run["uuid"] for run in remaining["results"]] == [restarted["uuid"]]


def test_an_invalid_polyaxonfile_is_reported_before_anything_is_sent(
    deployment: Deployment, project: str, tmp_path: Path,
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1.1\nkind: component\nrun:\n  kind: job\n  container: 3\n")
    failed = deployment.cli("run", "-f", str(broken), "-p", project, check=False)
    assert failed.returncode == 1 and "broken.yaml" in failed.stderr
    assert json.loads(deployment.cli("ops", "ls", "-p", project, "-o", "json").stdout)["count"] == 0


def test_a_bad_query_is_shown_with_its_position(deployment: Deployment, project: str) -> None:
    failed = deployment.cli("ops", "ls", "-p", project, "-q", "metrics.loss:<<1", check=False)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert "metrics.loss" in failed.stderr


def test_following_logs_survives_a_server_restart(deployment: Deployment, project: str,
                                                  tmp_path: Path) -> None:
    import subprocess

    from tests.client.conftest import POLYAXON

    polyaxonfile = _polyaxonfile(tmp_path, "talker", """
        import time
        for line in range(60):
            print(f"line {line}", flush=True)
            time.sleep(0.1)
        """)
    uuid = json.loads(deployment.cli("run", "-f", str(polyaxonfile), "-p", project,
                                     "-o", "json").stdout)["uuid"]
    _wait_status(deployment, project, uuid, {"running"})
    followed = tmp_path / "followed.txt"
    with open(followed, "w") as sink:
        follower = subprocess.Popen([POLYAXON, "ops", "logs", uuid, "-p", project, "--follow"],
                                    stdout=sink, stderr=subprocess.PIPE, env=deployment.client_env)
    deadline = time.monotonic() + 60
    while "line 5\n" not in followed.read_text():
        assert time.monotonic() < deadline and follower.poll() is None, followed.read_text()
        time.sleep(0.05)
    deployment.server.kill()
    deployment.server.start()
    _, errors = follower.communicate(timeout=120)
    assert follower.returncode == 0, errors.decode()
    assert followed.read_text().splitlines() == [f"line {line}" for line in range(60)]


def test_ops_ls_past_the_servers_page_size_takes_several_pages(deployment: Deployment,
                                                               project: str) -> None:
    from unittest import mock

    from polyaxon_core.config import load_settings
    from polyaxon_core.db.models import Run
    from polyaxon_core.db.session import session_scope
    from polyaxon_core.domain.projects import get_project

    with mock.patch.dict("os.environ", deployment.server_env, clear=True):
        db_url = load_settings().db_url
    with session_scope(db_url) as session:
        project_id = get_project(session, project).id
        session.add_all(Run(project_id=project_id, kind="job", status="succeeded", name=f"r{i}")
                        for i in range(1_205))

    listed = json.loads(deployment.cli("ops", "ls", "-p", project, "-l", "1200", "-o", "json").stdout)
    tail = json.loads(deployment.cli("ops", "ls", "-p", project, "-l", "5000", "--offset", "1200",
                                     "-o", "json").stdout)

    assert listed["count"] == 1_205 and len(listed["results"]) == 1_200
    assert len({run["uuid"] for run in listed["results"]}) == 1_200
    assert len(tail["results"]) == 5
    assert not {run["uuid"] for run in tail["results"]} & {run["uuid"] for run in listed["results"]}
