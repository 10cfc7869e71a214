"""The tracking SDK over HTTP against a real `polyaxon server`: everything it logs arrives,
a server killed and started again loses and duplicates no metric, and many concurrent
clients on PostgreSQL lose and duplicate nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from polyaxon_core import tracking
from polyaxon_core.client import ApiClient
from tests.client.conftest import Deployment

# never run by the orchestrator: these runs only receive what the SDK logs
QUEUED_ONLY = {"POLYAXON_ORCHESTRATOR": "external"}

COMPONENT = json.dumps({
    "version": 1.1, "kind": "component", "name": "tracked",
    "run": {"kind": "job", "container": {"image": "python", "command": ["true"]}},
})

LOGGER = """
import os, sys, time
from polyaxon_core import tracking

steps, name, progress = int(sys.argv[1]), sys.argv[2], sys.argv[3]
tracking.init()
for step in range(steps):
    tracking.log_metrics(step=step, **{name: step * 0.5})
    if step % 50 == 0:
        with open(progress, "w") as handle:
            handle.write(str(step))
    time.sleep(float(os.environ.get("STEP_PAUSE", "0")))
if not os.environ.get("SKIP_END"):
    tracking.end()
with open(progress, "w") as handle:
    handle.write("done")
"""


def _deployment(tmp_path: Path, db_url: str | None = None) -> Deployment:
    setup = Deployment(tmp_path, db_url, server_env=QUEUED_ONLY)
    setup.create_user("ada", "owner")
    setup.server.start()
    return setup


@pytest.fixture(scope="module")
def sqlite_deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    setup = _deployment(tmp_path_factory.mktemp("sdk"))
    yield setup
    setup.stop()


def _new_run(client: ApiClient, project: str = "mnist") -> str:
    try:
        client.create_project(project)
    except Exception as exc:  # created by an earlier call of the same test
        assert "already exists" in str(exc)
    return str(client.create_run(project, COMPONENT)["uuid"])


def _sdk_env(deployment: Deployment, token: str, uuid: str, project: str = "mnist") -> dict[str, str]:
    return {**deployment.client_env, "POLYAXON_HOST": deployment.url, "POLYAXON_AUTH_TOKEN": token,
            "POLYAXON_RUN_UUID": uuid, "POLYAXON_PROJECT": project}


def _series(client: ApiClient, uuid: str) -> dict[str, list[dict[str, object]]]:
    series: dict[str, list[dict[str, object]]] = client.get_metrics("mnist", uuid)["metrics"]
    return series


def test_everything_the_sdk_logs_arrives_through_the_api(
    sqlite_deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = sqlite_deployment.client()
    uuid = _new_run(client)
    for key, value in _sdk_env(sqlite_deployment, client.transport.token or "", uuid).items():
        monkeypatch.setenv(key, value)
    artifact = tmp_path / "model.bin"
    artifact.write_bytes(os.urandom(4096))

    run = tracking.init()
    assert type(run.backend).__name__ == "HttpBackend"
    tracking.log_inputs(dropout=0.2, layers=[64, 32])
    for step in range(1250):  # more than one batch of 1,000 points
        tracking.log_metrics(step=step, loss=1.0 / (step + 1), accuracy=step / 1250)
    tracking.log_outputs(best=0.97)
    tracking.log_tags("remote", "sdk")
    tracking.log_tags("sdk", "http")
    tracking.log_artifact(artifact, name="weights/model.bin")
    tracking.end()

    stored = client.get_run("mnist", uuid)
    assert stored["inputs"] == {"dropout": 0.2, "layers": [64, 32]}
    assert stored["outputs"] == {"best": 0.97}
    assert stored["tags"] == ["remote", "sdk", "http"]
    assert stored["metrics"]["accuracy"] == pytest.approx(1249 / 1250)
    series = _series(client, uuid)
    assert [point["step"] for point in series["loss"]] == list(range(1250))
    assert [point["step"] for point in series["accuracy"]] == list(range(1250))
    tree = client.artifacts_tree("mnist", uuid, "weights")
    assert [(entry.path, entry.size) for entry in tree] == [("weights/model.bin", 4096)]
    copy = client.download_artifact("mnist", uuid, "weights/model.bin", tmp_path / "copy.bin")
    assert copy.read_bytes() == artifact.read_bytes()
    # the SDK never opened a database of its own
    assert not (sqlite_deployment.client_home / "polyaxon.db").exists()


def test_a_refused_batch_is_reported_to_the_training_code(
    sqlite_deployment: Deployment, monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = sqlite_deployment.client()
    uuid = _new_run(client)
    for key, value in _sdk_env(sqlite_deployment, client.transport.token or "", uuid).items():
        monkeypatch.setenv(key, value)
    tracking.init()
    tracking.log_metrics(step=0, loss=1.0)
    client.stop_run("mnist", uuid)
    client.delete_run("mnist", uuid)  # every later batch is a 404
    tracking.log_metrics(step=1, loss=0.5)
    with pytest.raises(tracking.TrackingError, match="could not be stored.*no run"):
        tracking.end()


def test_tracking_an_unknown_run_fails_at_init(
    sqlite_deployment: Deployment, monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = sqlite_deployment.client()
    _new_run(client)
    for key, value in _sdk_env(sqlite_deployment, client.transport.token or "",
                               "0" * 32).items():
        monkeypatch.setenv(key, value)
    with pytest.raises(tracking.TrackingError, match="cannot track run 0{32}"):
        tracking.init()


def test_a_script_that_never_calls_end_still_stores_every_point(
    sqlite_deployment: Deployment, tmp_path: Path,
) -> None:
    client = sqlite_deployment.client()
    uuid = _new_run(client)
    script = tmp_path / "logger.py"
    script.write_text(textwrap.dedent(LOGGER))
    # a long interval: without the exit handler, the last points would never be sent
    env = {**_sdk_env(sqlite_deployment, client.transport.token or "", uuid),
           "SKIP_END": "1", "POLYAXON_METRICS_INTERVAL": "600"}
    done = subprocess.run([sys.executable, str(script), "2500", "loss", str(tmp_path / "progress")],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    points = _series(client, uuid)["loss"]
    assert sorted(point["step"] for point in points) == list(range(2500))


#: what a run that logs through the API has no use for
SERVER_SIDE = ("sqlalchemy", "alembic", "flask", "gunicorn", "polyaxon_core.db", "polyaxon_core.api")


def test_a_run_logging_through_the_api_loads_no_database_or_web_stack(
    sqlite_deployment: Deployment, tmp_path: Path,
) -> None:
    client = sqlite_deployment.client()
    uuid = _new_run(client)
    script = tmp_path / "logger.py"
    script.write_text(textwrap.dedent(LOGGER) + textwrap.dedent("""
        import json
        print(json.dumps(sorted(sys.modules)))
    """))
    env = _sdk_env(sqlite_deployment, client.transport.token or "", uuid)
    done = subprocess.run([sys.executable, str(script), "20", "loss", str(tmp_path / "progress")],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    loaded = set(json.loads(done.stdout.splitlines()[-1]))
    assert [name for name in SERVER_SIDE if name in loaded] == []
    assert sorted(point["step"] for point in _series(client, uuid)["loss"]) == list(range(20))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    """The module's server on SQLite, or a server of its own on PostgreSQL."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_deployment")
        return
    setup = _deployment(tmp_path, request.getfixturevalue("server_postgres_url"))
    yield setup
    setup.stop()


def test_a_server_restarted_while_a_run_logs_loses_and_duplicates_no_metric(
    any_deployment: Deployment, tmp_path: Path,
) -> None:
    deployment = any_deployment
    client = deployment.client()
    uuid = _new_run(client)
    script = tmp_path / "logger.py"
    script.write_text(textwrap.dedent(LOGGER))
    progress = tmp_path / "progress"
    steps = 4000
    env = {**_sdk_env(deployment, client.transport.token or "", uuid),
           "STEP_PAUSE": "0.001", "POLYAXON_METRICS_BUFFER": "1500",
           "POLYAXON_METRICS_INTERVAL": "0.05"}
    logger = subprocess.Popen([sys.executable, str(script), str(steps), "loss", str(progress)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def logged() -> int:
        text = progress.read_text() if progress.exists() else "0"
        return steps if text == "done" else int(text or 0)

    def stored() -> int:
        return len(_series(client, uuid).get("loss", []))

    deadline = time.monotonic() + 60
    while stored() < 300:  # some batches are in before the crash
        assert time.monotonic() < deadline and logger.poll() is None, "nothing was stored"
        time.sleep(0.05)
    deployment.server.kill()
    at_crash = logged()
    deadline = time.monotonic() + 60
    while logged() < at_crash + 500:  # the run keeps logging while the server is away
        assert time.monotonic() < deadline, f"logging stalled at step {logged()}"
        assert logger.poll() is None, logger.stdout.read().decode() if logger.stdout else ""
        time.sleep(0.05)
    deployment.server.start()
    output, _ = logger.communicate(timeout=180)
    assert logger.returncode == 0, output.decode()
    assert logged() == steps

    points = _series(client, uuid)["loss"]
    assert len(points) == steps
    assert sorted(point["step"] for point in points) == list(range(steps))
    assert {point["step"]: point["value"] for point in points} == {
        step: step * 0.5 for step in range(steps)}


@pytest.mark.postgres
def test_concurrent_clients_lose_and_duplicate_nothing_on_postgres(
    tmp_path: Path, server_postgres_url: str,
) -> None:
    deployment = _deployment(tmp_path, server_postgres_url)
    try:
        client = deployment.client()
        token = client.transport.token or ""
        shared = _new_run(client)
        own = [_new_run(client) for _ in range(8)]
        script = tmp_path / "logger.py"
        script.write_text(textwrap.dedent(LOGGER))
        steps = 1500
        # 8 processes log to one run (a metric each), 8 more to a run each
        jobs = [(shared, f"worker{index}") for index in range(8)] + [(uuid, "loss") for uuid in own]
        # a pause per step and a short interval: each client sends many batches, all at once
        env = {"STEP_PAUSE": "0.002", "POLYAXON_METRICS_INTERVAL": "0.25",
               "POLYAXON_RESOURCES_INTERVAL": "0"}  # only the metrics the workers log
        processes = [
            subprocess.Popen(
                [sys.executable, str(script), str(steps), name, str(tmp_path / f"progress{index}")],
                env={**_sdk_env(deployment, token, uuid), **env},
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            )
            for index, (uuid, name) in enumerate(jobs)
        ]
        for process in processes:
            output, _ = process.communicate(timeout=300)
            assert process.returncode == 0, output.decode()

        series = _series(client, shared)
        assert sorted(series) == [f"worker{index}" for index in range(8)]
        for name, points in series.items():
            assert sorted(point["step"] for point in points) == list(range(steps)), name
        for uuid in own:
            points = _series(client, uuid)["loss"]
            assert sorted(point["step"] for point in points) == list(range(steps))
    finally:
        deployment.stop()


@pytest.mark.postgres
def test_the_same_batch_sent_by_many_clients_at_once_is_stored_once(
    tmp_path: Path, server_postgres_url: str,
) -> None:
    deployment = _deployment(tmp_path, server_postgres_url)
    try:
        client = deployment.client()
        uuid = _new_run(client, "batches")
        batches = {f"batch-{number}": [{"name": "loss", "value": float(number * 100 + step),
                                        "step": number * 100 + step} for step in range(100)]
                   for number in range(10)}
        answers: list[tuple[str, bool]] = []
        lock = threading.Lock()
        start = threading.Barrier(16)

        def send_all() -> None:
            start.wait(30)
            for batch_id, points in batches.items():
                result = client.log_metrics("batches", uuid, batch_id, points)
                with lock:
                    answers.append((batch_id, result.duplicate))

        workers = [threading.Thread(target=send_all) for _ in range(16)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
        assert len(answers) == 16 * len(batches)
        for batch_id in batches:  # exactly one request per batch stored it
            assert [duplicate for sent, duplicate in answers if sent == batch_id].count(False) == 1
        points = client.get_metrics("batches", uuid)["metrics"]["loss"]
        assert sorted(point["step"] for point in points) == list(range(1000))
    finally:
        deployment.stop()
