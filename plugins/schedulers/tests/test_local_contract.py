"""The local scheduler passes the scheduler contract every scheduler plugin runs."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from polyaxon_schedulers.local import LocalScheduler

from polyaxon_core.config import Settings
from polyaxon_core.entities import ContainerSpec, LaunchRequest, RunEntity
from polyaxon_core.testing import SchedulerContract


@pytest.fixture
def scheduler(polyaxon_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> LocalScheduler:
    # the runner process builds its store from the environment, like in production
    monkeypatch.setenv("POLYAXON_HOME", str(polyaxon_settings.home))
    monkeypatch.setenv("POLYAXON_STORE", "local")
    return LocalScheduler(polyaxon_settings)


@pytest.fixture
def make_launch(polyaxon_settings: Settings) -> Callable[..., LaunchRequest]:
    def make(script: str, env: dict[str, str] | None = None) -> LaunchRequest:
        run_uuid = uuid.uuid4().hex
        run = RunEntity(uuid=run_uuid, project="contract", owner="default", name="contract",
                        kind="job", runtime="job", status="scheduled",
                        meta_info={"attempts": 1})
        run_path = polyaxon_settings.runs_path / run_uuid
        return LaunchRequest(
            run=run,
            container=ContainerSpec(image=None, command=(sys.executable, "-c", script)),
            env={"POLYAXON_RUN_UUID": run_uuid, **(env or {})},
            run_path=str(run_path),
        )

    return make


class TestLocalScheduler(SchedulerContract):
    pass


def test_output_of_the_process_lands_in_the_run_log(
    scheduler: LocalScheduler, make_launch: Callable[..., LaunchRequest],
    polyaxon_settings: Settings,
) -> None:
    from polyaxon_core.plugins import create
    from polyaxon_core.testing.scheduler import wait_for_final

    launch = make_launch("import sys; print('to stdout'); print('to stderr', file=sys.stderr)")
    assert wait_for_final(scheduler, launch, scheduler.submit(launch)).status == "succeeded"
    log = create("store", "local", polyaxon_settings).read_log(launch.run.uuid).data.decode()
    assert "to stdout" in log and "to stderr" in log


def test_a_missing_command_fails_with_a_clear_message(
    scheduler: LocalScheduler, polyaxon_settings: Settings, make_launch: Callable[..., LaunchRequest],
) -> None:
    import dataclasses

    from polyaxon_core.testing.scheduler import wait_for_final

    launch = make_launch("")
    launch = dataclasses.replace(
        launch, container=ContainerSpec(image=None, command=("no-such-command-here",))
    )
    update = wait_for_final(scheduler, launch, scheduler.submit(launch))
    assert update.status == "failed"
    assert "no-such-command-here" in (update.message or "")


def test_a_runner_killed_from_outside_is_reported_lost(
    scheduler: LocalScheduler, make_launch: Callable[..., LaunchRequest], tmp_path: Path,
) -> None:
    import json
    import os
    import signal

    from polyaxon_core.testing.scheduler import start_long_run, wait_for_final

    launch, handle = start_long_run(scheduler, make_launch, tmp_path)
    runner = json.loads((Path(handle["control_dir"]) / "runner.pid").read_text())
    os.killpg(runner["pid"], signal.SIGKILL)
    update = wait_for_final(scheduler, launch, handle)
    assert update.status == "failed"
    assert update.reason == "lost"
