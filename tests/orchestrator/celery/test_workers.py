"""The Celery scheduler: runs on workers over each broker, routing, redelivery, stops."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from polyaxon_core.testing.scheduler import wait_until
from tests.orchestrator.celery.conftest import RabbitMQ, Redis, Worker, _leases
from tests.orchestrator.conftest import FILES, Cli, run_state, wait_for
from tests.orchestrator.test_replicas import Replica, _assert_every_trial_ran_once, _submit
from tests.orchestrator.test_tracking_relay import assert_tracked_through_a_relay, submit_tracking_job
from tests.orchestrator.test_wakeup import _listener_backends

pytestmark = pytest.mark.postgres


def test_a_sweep_runs_on_two_workers_once_each_over_each_broker(
    broker: Redis | RabbitMQ, cli: Cli, workers: Callable[..., Worker], orchestrator: Replica,
    home: Path,
) -> None:
    record = home / "record"
    workers()
    workers()
    uuid = _submit(cli, "-f", str(FILES / "sweep8.yaml"), "-P", f"record_dir={record}")
    wait_for(uuid, lambda state: state["status"] in {"succeeded", "failed", "stopped"}, 180)
    _assert_every_trial_ran_once(uuid, record, 8)
    children = [child["uuid"] for child in run_state(uuid)["children"]]
    leases = _leases()
    assert sorted(lease[0] for lease in leases) == sorted(children)
    assert {lease[3] for lease in leases} == {"succeeded"}
    assert {lease[2].split(" ")[0] for lease in leases} <= {"w1", "w2"}
    # the logs reach the store, and the API, like a local run's
    logs = cli("ops", "logs", children[0]).stdout
    assert f"task {children[0]} x=" in logs


def test_a_run_on_a_worker_tracks_through_its_pool_process(
    redis: Redis, cli: Cli, pg: str, workers: Callable[..., Worker], orchestrator: Replica,
    tmp_path: Path,
) -> None:
    workers()
    assert_tracked_through_a_relay(cli, submit_tracking_job(cli, tmp_path), pg)


def test_queues_route_runs_to_their_pool_of_workers(
    redis: Redis, cli: Cli, workers: Callable[..., Worker], orchestrator: Replica, home: Path,
) -> None:
    workers(queues="gpu")
    workers(queues="default,cpu")
    on_gpu = _submit(cli, "-f", str(FILES / "task.yaml"), "-q", "gpu")
    on_cpu = _submit(cli, "-f", str(FILES / "task.yaml"), "-q", "cpu")
    elsewhere = _submit(cli, "-f", str(FILES / "task.yaml"))
    for uuid in (on_gpu, on_cpu, elsewhere):
        assert wait_for(uuid, lambda state: state["status"] == "succeeded", 120)
    pools = {run: worker.split(" ")[0] for run, _attempt, worker, _status in _leases()}
    assert pools == {on_gpu: "w1", on_cpu: "w2", elsewhere: "w2"}


def test_a_task_delivered_three_times_starts_its_run_once(
    redis: Redis, cli: Cli, workers: Callable[..., Worker], orchestrator: Replica, home: Path,
) -> None:
    from polyaxon_schedulers.celery.options import TASK, CeleryOptions, make_app

    record = home / "record"
    uuid = _submit(cli, "-f", str(FILES / "task.yaml"), "-P", f"record_dir={record}")
    # sent by the orchestrator; no worker yet: two more deliveries of the same attempt
    wait_for(uuid, lambda state: state["status"] == "starting", 60)
    app = make_app(CeleryOptions.from_environment())
    for _ in range(2):
        app.send_task(TASK, args=[uuid, 1], queue="polyaxon.default")
    worker = workers()
    assert wait_for(uuid, lambda state: state["status"] == "succeeded", 120)
    wait_until(lambda: worker.log.read_text().count("polyaxon.execute_run") >= 6, 60, what="three deliveries")
    assert (record / f"{uuid}.starts").read_text().count("\n") == 1
    results = Counter(line.rsplit(": ", 1)[1].strip().strip("'")
                      for line in worker.log.read_text().splitlines() if "succeeded in" in line)
    # the orchestrator may have sent it once more meanwhile (no worker took it for a while)
    assert results["succeeded"] == 1 and set(results) <= {"succeeded", "duplicate", "not current"}
    assert results["duplicate"] + results["not current"] >= 2, results
    assert [lease[:2] for lease in _leases()] == [(uuid, 1)]


def test_stops_reach_the_worker_and_a_run_stopped_before_any_worker_never_starts(
    redis: Redis, cli: Cli, workers: Callable[..., Worker], orchestrator: Replica, home: Path,
) -> None:
    record = home / "record"
    waiting = _submit(cli, "-f", str(FILES / "task.yaml"), "-P", f"record_dir={record}")
    wait_for(waiting, lambda state: state["status"] == "starting", 60)
    cli("ops", "stop", waiting, "-y")
    state = wait_for(waiting, lambda state: state["status"] == "stopped", 60)
    assert ("stopped", "stopped", "stopped before a worker started it") in state["conditions"]
    worker = workers()
    running = _submit(cli, "-f", str(FILES / "task.yaml"), "-P", "sleep=600",
                      "-P", f"record_dir={record}")
    wait_for(running, lambda state: state["status"] == "running", 120)
    cli("ops", "stop", running, "-y")
    assert wait_for(running, lambda state: state["status"] == "stopped", 60)
    # the task of the run stopped early was delivered too, and started nothing
    wait_until(lambda: "'not current'" in worker.log.read_text(), 60, what="the early task's delivery")
    assert not (record / f"{waiting}.starts").exists()
    assert (record / f"{running}.starts").read_text().count("\n") == 1


def test_a_worker_on_another_machine_wakes_the_orchestrator_through_the_database(
    redis: Redis, cli: Cli, pg: str, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A minute between the orchestrator's polls, and the worker's home (where its named
    # pipe would be) is not the orchestrator's: each run goes from its submission to its
    # end within the timeout only if the database carries both wake-ups.
    monkeypatch.setenv("POLYAXON_POLL_INTERVAL", "60")
    orchestrator = Replica(home, 1)
    other_machine = tmp_path / "worker-machine"
    other_machine.mkdir()
    monkeypatch.setenv("POLYAXON_HOME", str(other_machine))
    worker = Worker(other_machine, "w1", "default", 2)
    monkeypatch.setenv("POLYAXON_HOME", str(home))
    try:
        # the orchestrator listens once its first pass is done
        wait_until(lambda: _listener_backends(pg) != [], 60, what="the orchestrator to listen")
        for x in (1, 2):
            uuid = _submit(cli, "-f", str(FILES / "task.yaml"), "-P", f"x={x}")
            state = wait_for(uuid, lambda state: state["status"] in {"succeeded", "failed"}, 45)
            assert state["status"] == "succeeded"
        assert [lease[2].split(" ")[0] for lease in _leases()] == ["w1", "w1"]
    finally:
        worker.kill()
        orchestrator.kill()
