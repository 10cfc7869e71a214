"""The local scheduler passes the scheduler contract every scheduler plugin runs."""

from __future__ import annotations

import os
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


def test_a_run_for_a_server_gets_its_own_environment_and_no_secret_is_recorded(
    scheduler: LocalScheduler, make_launch: Callable[..., LaunchRequest], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dataclasses
    import json

    from polyaxon_core.testing.scheduler import wait_for_final

    # what the scheduler's own process holds: never the run's
    monkeypatch.setenv("POLYAXON_DB_URL", "postgresql://server:db-password@127.0.0.1/polyaxon")
    monkeypatch.setenv("SERVER_SECRET", "server-secret-value")
    seen = tmp_path / "environment.json"
    launch = make_launch(f"import json, os; open({str(seen)!r}, 'w').write(json.dumps(dict(os.environ)))",
                         env={"POLYAXON_HOST": "http://127.0.0.1:1",
                              "POLYAXON_AUTH_TOKEN": "run-token-value"})
    launch = dataclasses.replace(launch, isolated=True)
    handle = scheduler.submit(launch)
    assert wait_for_final(scheduler, launch, handle).status == "succeeded"
    environment = json.loads(seen.read_text())
    assert environment["POLYAXON_AUTH_TOKEN"] == "run-token-value"
    assert "POLYAXON_DB_URL" not in environment and "SERVER_SECRET" not in environment
    record_folder = Path(handle["control_dir"])
    recorded = (record_folder / "launch.json").read_text()
    launch_record = json.loads(recorded)
    assert "POLYAXON_AUTH_TOKEN" in launch_record["env_names"]
    assert "run-token-value" not in recorded and "db-password" not in recorded
    assert "server-secret-value" not in recorded
    for path in record_folder.iterdir():  # nor anywhere else the runner writes
        assert "run-token-value" not in path.read_text(errors="replace")


def test_an_embedded_run_keeps_the_launching_environment_but_records_no_values(
    scheduler: LocalScheduler, make_launch: Callable[..., LaunchRequest], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    from polyaxon_core.testing.scheduler import wait_for_final

    monkeypatch.setenv("USER_SETTING", "kept")
    seen = tmp_path / "environment.json"
    launch = make_launch(f"import json, os; open({str(seen)!r}, 'w').write(json.dumps(dict(os.environ)))",
                         env={"POLYAXON_DB_URL": "sqlite:////home/me/.polyaxon/polyaxon.db"})
    handle = scheduler.submit(launch)
    assert wait_for_final(scheduler, launch, handle).status == "succeeded"
    assert json.loads(seen.read_text())["USER_SETTING"] == "kept"
    recorded = (Path(handle["control_dir"]) / "launch.json").read_text()
    assert "POLYAXON_DB_URL" in json.loads(recorded)["env_names"]
    assert "polyaxon.db" not in recorded


def test_a_run_user_that_does_not_exist_is_refused_at_start(
    polyaxon_settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from polyaxon_core.config import ConfigurationError

    monkeypatch.setenv("POLYAXON_RUN_AS_USER", "no-such-user-here")
    with pytest.raises(ConfigurationError, match="'no-such-user-here' is not a user of this machine"):
        LocalScheduler(polyaxon_settings)
    monkeypatch.setenv("POLYAXON_RUN_AS_USER", "root")
    with pytest.raises(ConfigurationError, match="is root"):
        LocalScheduler(polyaxon_settings)


@pytest.mark.parametrize("cut_short", [b"", b'{"control_dir": "/tmp", "environment": {"PATH": "/usr/b'])
def test_a_request_cut_short_by_a_dying_scheduler_forks_no_runner(
    scheduler: LocalScheduler, make_launch: Callable[..., LaunchRequest], cut_short: bytes,
    polyaxon_settings: Settings,
) -> None:
    """The orchestrator killed while it wrote a request to the fork server: no runner may
    run the command with an environment cut short; the resubmission starts it whole."""
    import subprocess

    from polyaxon_core.plugins import create
    from polyaxon_core.testing.scheduler import wait_for_final

    launch = make_launch("import os; print('PATH' in os.environ and 'whole environment')")
    control = scheduler.control_dir(launch.run_path, 1)
    control.mkdir(parents=True)
    server = subprocess.run([sys.executable, "-m", "polyaxon_schedulers.forkserver"],
                            input=cut_short, capture_output=True, check=False)
    assert server.returncode == 0
    assert b'"pid"' not in server.stdout
    assert list(control.iterdir()) == []

    update = wait_for_final(scheduler, launch, scheduler.submit(launch))
    assert update.status == "succeeded"
    log = create("store", "local", polyaxon_settings).read_log(launch.run.uuid).data.decode()
    assert "whole environment" in log


def test_a_killed_fork_server_is_started_again_for_the_next_run(
    scheduler: LocalScheduler, make_launch: Callable[..., LaunchRequest],
) -> None:
    from polyaxon_core.testing.scheduler import wait_for_final

    first = make_launch("print('first')")
    assert wait_for_final(scheduler, first, scheduler.submit(first)).status == "succeeded"
    server = scheduler._forks._process
    assert server is not None
    server.kill()
    server.wait()
    second = make_launch("print('second')")
    assert wait_for_final(scheduler, second, scheduler.submit(second)).status == "succeeded"
    assert scheduler._forks._process is not None and scheduler._forks._process.pid != server.pid


def test_a_runner_outlives_its_fork_server(
    scheduler: LocalScheduler, make_launch: Callable[..., LaunchRequest], tmp_path: Path,
) -> None:
    """The orchestrator gone (its fork server leaves with it): the runs it started go on
    and report their end to the next one."""
    from polyaxon_core.testing.scheduler import wait_for_final

    gate = tmp_path / "gate"
    os.mkfifo(gate)
    launch = make_launch(f"open({str(gate)!r}).read(); print('after the server left')")
    handle = scheduler.submit(launch)
    scheduler._forks.close()
    assert scheduler.poll(launch.run, handle).status in ("starting", "running")
    with open(gate, "w") as opened:
        opened.write("go")
    assert wait_for_final(scheduler, launch, handle).status == "succeeded"


def _spare_after_a_run(scheduler: LocalScheduler, make_launch: Callable[..., LaunchRequest]) -> int:
    """Run one run to its end; the pid of the runner the fork server forked for the next
    (its one child that is no run's runner: a runner starts a session of its own)."""
    import psutil

    from polyaxon_core.testing.scheduler import wait_for_final, wait_until

    first = make_launch("print('first')")
    assert wait_for_final(scheduler, first, scheduler.submit(first)).status == "succeeded"
    server = scheduler._forks._process
    assert server is not None

    def waiting() -> int | None:
        children = [child.pid for child in psutil.Process(server.pid).children()
                    if child.is_running() and child.status() != psutil.STATUS_ZOMBIE
                    and os.getsid(child.pid) == os.getsid(server.pid)]
        return children[0] if len(children) == 1 else None

    return wait_until(waiting, what="the fork server's spare runner")


def test_the_next_runner_is_forked_before_its_request(
    scheduler: LocalScheduler, make_launch: Callable[..., LaunchRequest],
) -> None:
    """A request hands its run to the runner forked after the one before: the fork is
    not on the way of the run."""
    from polyaxon_core.testing.scheduler import wait_for_final

    spare = _spare_after_a_run(scheduler, make_launch)
    second = make_launch("print('second')")
    handle = scheduler.submit(second)
    assert handle["spawned_pid"] == spare
    assert wait_for_final(scheduler, second, handle).status == "succeeded"


def test_a_spare_runner_killed_from_outside_costs_no_run(
    scheduler: LocalScheduler, make_launch: Callable[..., LaunchRequest],
) -> None:
    import signal

    from polyaxon_core.testing.scheduler import wait_for_final, wait_until

    spare = _spare_after_a_run(scheduler, make_launch)
    os.kill(spare, signal.SIGKILL)
    wait_until(lambda: not _alive(spare), what="the spare's end")
    second = make_launch("print('second')")
    handle = scheduler.submit(second)
    assert handle["spawned_pid"] != spare
    assert wait_for_final(scheduler, second, handle).status == "succeeded"


def test_the_spare_runner_leaves_with_its_server(
    scheduler: LocalScheduler, make_launch: Callable[..., LaunchRequest],
) -> None:
    from polyaxon_core.testing.scheduler import wait_until

    spare = _spare_after_a_run(scheduler, make_launch)
    scheduler._forks.close()
    wait_until(lambda: not _alive(spare), what="the spare's end")


def _alive(pid: int) -> bool:
    from polyaxon_schedulers.processes import is_alive

    return is_alive(pid, None)


def test_a_prepared_scheduler_has_its_fork_server_before_the_first_run(
    scheduler: LocalScheduler, make_launch: Callable[..., LaunchRequest],
) -> None:
    from polyaxon_core.testing.scheduler import wait_for_final

    assert scheduler._forks._process is None
    scheduler.prepare()
    server = scheduler._forks._process
    assert server is not None and server.poll() is None
    launch = make_launch("print('first')")
    assert wait_for_final(scheduler, launch, scheduler.submit(launch)).status == "succeeded"
    assert scheduler._forks._process is server
