"""Runs tracked from any Python process (``managed_by: user``): created by the SDK, never
launched by the orchestrator, ended by the code that tracks them; through the database
and through a real `polyaxon server`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from polyaxon_core import tracking
from polyaxon_core.config import load_settings
from polyaxon_core.db.models import Run
from polyaxon_core.db.session import session_scope
from polyaxon_core.domain.projects import create_project
from polyaxon_core.orchestrator.loop import Orchestrator
from polyaxon_core.tracking import TrackingError
from tests.client.conftest import Deployment
from tests.conftest import stop_background_orchestrator

POLYAXON = str(Path(sys.executable).parent / "polyaxon")
FAILING = textwrap.dedent("""
    from polyaxon_core import tracking
    tracking.init(project="laptop", is_new=True, name="diverging", track_code=False)
    tracking.log_metrics(step=0, loss=3.0)
    raise ArithmeticError("loss is nan")
""")


def _timeline(db_url: str, uuid: str) -> list[tuple[str, str | None, str | None]]:
    with session_scope(db_url) as session:
        run = session.scalars(select(Run).where(Run.uuid == uuid)).one()
        return [(c.status, c.reason, c.message) for c in run.conditions]


@pytest.fixture
def laptop(db_url: str, polyaxon_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("POLYAXON_DB_URL", db_url)
    monkeypatch.setenv("POLYAXON_RESOURCES_INTERVAL", "0")
    monkeypatch.delenv("POLYAXON_RUN_UUID", raising=False)
    with session_scope(db_url) as session:
        create_project(session, "laptop")
    yield db_url
    # `ops stop` and `ops push` may start one; the next test empties the database
    stop_background_orchestrator(polyaxon_home)


def test_a_run_tracked_from_a_script_is_created_running_and_ends_succeeded(laptop: str) -> None:
    run = tracking.init(project="laptop", is_new=True, name="notebook", tags=["laptop"],
                        track_code=False)
    tracking.log_metrics(step=0, loss=0.5)
    Orchestrator(load_settings()).tick()  # an orchestrator about leaves the run alone
    assert [c[0] for c in _timeline(laptop, run.uuid)] == ["running"]
    tracking.end()
    with session_scope(laptop) as session:
        stored = session.scalars(select(Run).where(Run.uuid == run.uuid)).one()
        assert (stored.managed_by, stored.status, stored.name, stored.tags) == (
            "user", "succeeded", "notebook", ["laptop"])
        assert stored.last_metrics == {"loss": 0.5} and stored.content is None
    listed = subprocess.run([POLYAXON, "ops", "ls", "-p", "laptop", "-o", "json"], check=True,
                            capture_output=True, text=True, env=os.environ.copy()).stdout
    assert [(r["uuid"], r["managed_by"]) for r in json.loads(listed)["results"]] == [(run.uuid, "user")]


def test_an_uncaught_exception_fails_the_run_with_its_message(laptop: str, tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(FAILING)
    answer = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            env=os.environ.copy(), timeout=120, check=False)
    assert answer.returncode == 1 and "ArithmeticError: loss is nan" in answer.stderr
    assert "Exception ignored" not in answer.stderr  # the end at exit went through
    with session_scope(laptop) as session:
        uuid = session.scalars(select(Run.uuid).where(Run.name == "diverging")).one()
    assert _timeline(laptop, uuid) == [
        ("running", "tracked", "tracked by the SDK from a process of the user's"),
        ("failed", "exception", "ArithmeticError: loss is nan")]


def test_a_tracked_run_stopped_from_outside_stays_stopped(
    laptop: str, caplog: pytest.LogCaptureFixture,
) -> None:
    run = tracking.init(project="laptop", is_new=True, track_code=False)
    stopped = subprocess.run([POLYAXON, "ops", "stop", run.uuid, "-p", "laptop", "-y"],
                             capture_output=True, text=True, env=os.environ.copy(), check=False)
    assert stopped.returncode == 0, stopped.stderr
    tracking.end()
    assert [c[0] for c in _timeline(laptop, run.uuid)] == ["running", "stopped"]
    assert "cannot become succeeded" in caplog.text


def test_a_tracked_run_cannot_be_restarted_or_resumed(laptop: str) -> None:
    run = tracking.init(project="laptop", is_new=True, track_code=False)
    tracking.end()
    for command in ("restart", "resume"):
        answer = subprocess.run([POLYAXON, "ops", command, run.uuid, "-p", "laptop"],
                                capture_output=True, text=True, env=os.environ.copy(), check=False)
        assert answer.returncode == 1, answer.stdout
        assert "no polyaxonfile" in answer.stderr and "Traceback" not in answer.stderr


def test_new_runs_need_a_project_that_exists(laptop: str) -> None:
    with pytest.raises(TrackingError, match="project 'default/nowhere' does not exist"):
        tracking.init(project="nowhere", is_new=True)
    with pytest.raises(TrackingError, match="needs its project"):
        tracking.init(is_new=True)
    with pytest.raises(TrackingError, match="no run_uuid"):
        tracking.init(run_uuid="0" * 32, project="laptop", is_new=True)
    with session_scope(laptop) as session:
        assert session.scalars(select(Run)).all() == []


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    setup = Deployment(tmp_path_factory.mktemp("tracked"), None)
    setup.create_user("ada", "owner")
    setup.server.start()
    yield setup
    setup.stop()


def _post(url: str, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def test_a_laptop_tracks_a_run_on_a_server(deployment: Deployment, tmp_path: Path) -> None:
    client = deployment.client()
    client.create_project("laptop")
    token = client.transport.token or ""
    env = {**deployment.client_env, "POLYAXON_HOST": deployment.url, "POLYAXON_AUTH_TOKEN": token,
           "POLYAXON_RESOURCES_INTERVAL": "0"}
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent("""
        from polyaxon_core import tracking
        run = tracking.init(project="laptop", is_new=True, name="remote", tags=["laptop"])
        for step in range(5):
            tracking.log_metrics(step=step, loss=1.0 / (step + 1))
        tracking.log_text("hello", "notes")
        print(run.uuid)
    """))
    answer = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env,
                            timeout=120, check=False, cwd=tmp_path)
    assert answer.returncode == 0, answer.stderr
    uuid = answer.stdout.strip()
    run = client.get_run("laptop", uuid)
    assert (run["managed_by"], run["status"], run["name"], run["metrics"]) == (
        "user", "succeeded", "remote", {"loss": 0.2})
    assert [row["name"] for row in client.lineage("laptop", uuid)] == ["texts/notes"]
    assert uuid in [r["uuid"] for r in client.list_runs("laptop")["results"]]
    # the same code failing: the server hears the exception
    script.write_text(FAILING)
    answer = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env,
                            timeout=120, check=False, cwd=tmp_path)
    assert answer.returncode == 1
    failed = client.list_runs("laptop", query="name:diverging")["results"][0]
    assert failed["status"] == "failed"
    timeline = client.get_statuses("laptop", failed["uuid"])["status_conditions"]
    assert timeline[-1]["message"] == "ArithmeticError: loss is nan"


def test_only_tracked_runs_take_a_status_from_a_client(deployment: Deployment) -> None:
    client = deployment.client()
    try:
        client.create_project("statuses")
    except Exception as exc:  # created by an earlier run of the test
        assert "already exists" in str(exc)
    token = client.transport.token or ""
    runs = f"{deployment.url}/api/v1/default/statuses/runs"
    status, tracked = _post(runs, token, {"managed_by": "user", "name": "t"})
    assert status == 201 and tracked["status"] == "running"
    done = {"condition": {"type": "succeeded", "status": True}}
    assert _post(f"{runs}/{tracked['uuid']}/statuses", token, done)[0] == 200
    status, answer = _post(f"{runs}/{tracked['uuid']}/statuses", token,
                           {"condition": {"type": "running"}})
    assert status == 409 and "cannot become running" in json.dumps(answer)
    status, answer = _post(f"{runs}/{tracked['uuid']}/statuses", token,
                           {"condition": {"type": "queued"}})
    assert status == 400 and "reports one of" in json.dumps(answer)
    status, answer = _post(runs, token, {"name": "no content"})
    assert status == 400 and "content" in answer.get("errors", {})
    # a time given for what happened: in the past, and after the run's last status
    status, earlier = _post(runs, token, {"managed_by": "user", "created_at": FLIGHT[0]})
    assert status == 201 and earlier["created_at"] == FLIGHT[0]
    for moment, said in (("2999-01-01T00:00:00+00:00", "is in the future"),
                         ("2025-12-31T00:00:00+00:00", "is before the run's last status")):
        status, answer = _post(f"{runs}/{earlier['uuid']}/statuses", token, {"condition": {
            "type": "succeeded", "last_transition_time": moment}})
        assert status == 422 and said in json.dumps(answer), answer
    status, answer = _post(runs, token, {"content": "{}", "created_at": FLIGHT[0]})
    assert status == 400 and "created_at" in answer.get("errors", {})
    component = json.dumps({"version": 1.1, "kind": "component", "run": {
        "kind": "job", "container": {"image": "python", "command": ["true"]}}})
    status, managed = _post(runs, token, {"content": component})
    assert status == 201 and managed["managed_by"] == "agent"
    status, answer = _post(f"{runs}/{managed['uuid']}/statuses", token, done)
    assert status == 409 and "managed by the orchestrator" in json.dumps(answer)


OFFLINE = textwrap.dedent("""
    import sys
    from polyaxon_core import tracking
    run = tracking.init(is_offline=True, name="on-a-plane", tags=["offline"], track_code=False)
    tracking.log_inputs(lr=0.1)
    for step in range(6000):  # more than one batch of the database and of the API
        tracking.log_metrics(step=step, loss=1.0 / (step + 1))
    tracking.log_text("no network", "notes")
    print(run.backend.folder)
    if sys.argv[1:] == ["die"]:
        import os
        tracking.flush()
        os._exit(3)  # killed: the run was never ended
""")


def _offline_run(tmp_path: Path, env: dict[str, str], *args: str) -> Path:
    script = tmp_path / "offline.py"
    script.write_text(OFFLINE)
    answer = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                            env=env, timeout=120, check=False, cwd=tmp_path)
    assert answer.returncode == (3 if args else 0), answer.stderr
    return Path(answer.stdout.strip().splitlines()[-1])


#: when the offline runs of these tests say they ran: a flight of an hour and a half
FLIGHT = ("2026-01-01T10:00:00+00:00", "2026-01-01T11:30:00+00:00")


def _backdate(folder: Path) -> None:
    """Make the offline run one that ran before (its record's times), as if pushed later."""
    record = json.loads((folder / "run.json").read_text())
    record["created_at"], record["finished_at"] = FLIGHT
    (folder / "run.json").write_text(json.dumps(record))


def _push(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([POLYAXON, "ops", "push", *args], capture_output=True, text=True, env=env,
                          timeout=300, check=False)


def test_an_offline_run_is_pushed_once_however_often_it_is_pushed(
    laptop: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POLYAXON_DB_URL", "sqlite:///" + str(tmp_path / "unused.db"))
    folder = _offline_run(tmp_path, {**os.environ, "POLYAXON_OFFLINE_ROOT": str(tmp_path / "off")})
    assert not (tmp_path / "unused.db").exists()  # nothing but the folder was written
    assert json.loads((folder / "run.json").read_text())["status"] == "succeeded"
    _backdate(folder)
    env = {**os.environ, "POLYAXON_DB_URL": laptop}
    for _ in range(2):
        pushed = _push(env, str(folder), "-p", "laptop", "-o", "json")
        assert pushed.returncode == 0, pushed.stderr
        assert json.loads(pushed.stdout) == {"uuid": folder.name, "points": 6000, "files": 1,
                                             "lineage": 1, "status": "succeeded"}
    with session_scope(laptop) as session:
        run = session.scalars(select(Run).where(Run.uuid == folder.name)).one()
        assert (run.managed_by, run.status, run.name, run.inputs) == (
            "user", "succeeded", "on-a-plane", {"lr": 0.1})
        assert run.last_metrics == {"loss": pytest.approx(1 / 6000)}
        # the times the run had, not the push's
        assert (run.created_at.isoformat(), run.started_at.isoformat(),
                run.finished_at.isoformat(), run.duration) == (*FLIGHT[:1], *FLIGHT, 5400)
    metrics = subprocess.run([POLYAXON, "ops", "metrics", folder.name, "-o", "json"], env=env,
                             capture_output=True, text=True, check=True).stdout
    assert [p["step"] for p in json.loads(metrics)["metrics"]["loss"]] == list(range(6000))


def test_pushing_what_is_not_an_ended_offline_run_says_what_to_do(laptop: str, tmp_path: Path) -> None:
    env = {**os.environ, "POLYAXON_OFFLINE_ROOT": str(tmp_path / "off")}
    folder = _offline_run(tmp_path, env, "die")
    refused = _push(env, str(folder), "-p", "laptop")
    assert refused.returncode == 1 and "still running" in refused.stderr and "--force" in refused.stderr
    with session_scope(laptop) as session:
        assert session.scalars(select(Run)).all() == []
    forced = _push(env, str(folder), "-p", "laptop", "--force")
    assert forced.returncode == 0, forced.stderr
    assert _timeline(laptop, folder.name)[-1] == (
        "failed", "failed", "pushed before its tracking process ended it")
    nothing = _push(env, str(tmp_path), "-p", "laptop")
    assert nothing.returncode == 1 and "not an offline run" in nothing.stderr
    assert "Traceback" not in nothing.stderr + refused.stderr


def test_an_offline_run_is_pushed_to_a_server(deployment: Deployment, tmp_path: Path) -> None:
    client = deployment.client()
    try:
        client.create_project("flights")
    except Exception as exc:  # created by an earlier run of the test
        assert "already exists" in str(exc)
    folder = _offline_run(tmp_path, {**deployment.client_env,
                                     "POLYAXON_OFFLINE_ROOT": str(tmp_path / "off")})
    _backdate(folder)
    env = {**deployment.client_env, "POLYAXON_HOST": deployment.url,
           "POLYAXON_AUTH_TOKEN": client.transport.token or ""}
    for _ in range(2):
        pushed = _push(env, str(folder), "-p", "flights")
        assert pushed.returncode == 0, pushed.stderr
        assert "6000 metric points, 1 files, 1 lineage records" in pushed.stdout
    run = client.get_run("flights", folder.name)
    assert (run["managed_by"], run["status"], run["name"], run["tags"]) == (
        "user", "succeeded", "on-a-plane", ["offline"])
    assert (run["created_at"], run["started_at"], run["finished_at"]) == (*FLIGHT[:1], *FLIGHT)
    assert len(client.get_metrics("flights", folder.name)["metrics"]["loss"]) == 6000
    notes = client.download_artifact("flights", folder.name, "texts/notes/0.txt", tmp_path / "n")
    assert notes.read_text() == "no network"
    assert [row["kind"] for row in client.lineage("flights", folder.name)] == ["text"]
