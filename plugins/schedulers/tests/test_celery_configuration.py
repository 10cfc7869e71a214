"""The Celery scheduler's configuration: what it refuses, and how it says so."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from polyaxon_schedulers.celery.options import CeleryOptions, celery_queue, redacted
from polyaxon_schedulers.celery.scheduler import CeleryScheduler

from polyaxon_core.config import ConfigurationError, Settings
from polyaxon_core.entities import ContainerSpec, LaunchRequest, RunEntity
from polyaxon_core.interfaces.scheduler import SchedulerUnavailable

POLYAXON = str(Path(sys.executable).parent / "polyaxon")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_missing_broker_says_which_variable_and_what_to_put_in_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("POLYAXON_BROKER_URL", raising=False)
    with pytest.raises(ConfigurationError, match="set POLYAXON_BROKER_URL to redis://"):
        CeleryOptions.from_environment()


def test_a_broker_of_another_kind_is_refused_without_showing_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POLYAXON_BROKER_URL", "sqs://key:s3cret@127.0.0.1/queue")
    with pytest.raises(ConfigurationError, match="is not a Redis or RabbitMQ URL") as raised:
        CeleryOptions.from_environment()
    assert "s3cret" not in str(raised.value) and "key:***@127.0.0.1" in str(raised.value)


def test_a_heartbeat_timeout_shorter_than_two_heartbeats_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POLYAXON_BROKER_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("POLYAXON_HEARTBEAT_INTERVAL", "5")
    monkeypatch.setenv("POLYAXON_HEARTBEAT_TIMEOUT", "8")
    with pytest.raises(ConfigurationError, match="at least twice POLYAXON_HEARTBEAT_INTERVAL"):
        CeleryOptions.from_environment()


def test_queues_map_to_prefixed_celery_queues_and_urls_lose_their_passwords() -> None:
    assert (celery_queue("gpu"), celery_queue(None)) == ("polyaxon.gpu", "polyaxon.default")
    assert redacted("amqp://guest:guest@127.0.0.1:5672//") == "amqp://guest:***@127.0.0.1:5672//"
    assert redacted("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_services_and_operator_kinds_are_refused_before_they_are_queued() -> None:
    assert [path for path, _ in CeleryScheduler.check_run({"kind": "service"})] == ["run.kind"]
    assert "POLYAXON_SCHEDULER=kubernetes" in CeleryScheduler.check_run({"kind": "tfjob"})[0][1]
    assert CeleryScheduler.check_run({"kind": "job"}) == []


def test_an_unreachable_broker_keeps_the_run_for_the_next_pass(
    polyaxon_settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POLYAXON_BROKER_URL", f"redis://:pw@127.0.0.1:{_closed_port()}/0")
    scheduler = CeleryScheduler(polyaxon_settings)
    run = RunEntity(uuid="0" * 32, project="p", owner="default", name="n", kind="job",
                    runtime="job", status="scheduled", meta_info={"attempts": 1})
    launch = LaunchRequest(run=run, container=ContainerSpec(image=None, command=("true",)),
                           env={}, run_path=str(polyaxon_settings.runs_path / run.uuid))
    with pytest.raises(SchedulerUnavailable, match="the Celery broker redis://:\\*\\*\\*@127.0.0.1"):
        scheduler.submit(launch)


def _polyaxon(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([POLYAXON, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env}, check=False)


def test_a_worker_of_a_scheduler_without_workers_says_which_has_them(polyaxon_settings: Settings) -> None:
    answer = _polyaxon("worker", POLYAXON_HOME=str(polyaxon_settings.home), POLYAXON_SCHEDULER="local")
    assert answer.returncode == 2, answer.stderr  # a configuration error
    assert "the local scheduler starts runs itself" in answer.stderr
    assert "POLYAXON_SCHEDULER=celery" in answer.stderr and "Traceback" not in answer.stderr


def test_a_worker_without_a_broker_or_queues_is_refused(polyaxon_settings: Settings) -> None:
    home = str(polyaxon_settings.home)
    answer = _polyaxon("worker", POLYAXON_HOME=home, POLYAXON_SCHEDULER="celery", POLYAXON_BROKER_URL="")
    assert answer.returncode == 2 and "set POLYAXON_BROKER_URL" in answer.stderr, answer.stderr
    answer = _polyaxon("worker", "--queues", " , ", POLYAXON_HOME=home, POLYAXON_SCHEDULER="celery",
                       POLYAXON_BROKER_URL="redis://127.0.0.1:6379/0")
    assert answer.returncode == 1 and "--queues names no queue" in answer.stderr, answer.stderr
