"""The local scheduler passes the scheduler contract every scheduler plugin runs."""

from __future__ import annotations

import dataclasses
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


def test_a_supervisor_killed_from_outside_has_its_runs_reported_lost(
    scheduler: LocalScheduler, make_launch: Callable[..., LaunchRequest], tmp_path: Path,
) -> None:
    import json
    import signal

    from polyaxon_core.testing.scheduler import start_long_run, wait_for_final

    launch, handle = start_long_run(scheduler, make_launch, tmp_path)
    runner = json.loads((Path(handle["control_dir"]) / "runner.pid").read_text())
    assert runner["supervised"] is True and runner["group"] != runner["pid"]
    os.kill(runner["pid"], signal.SIGKILL)
    update = wait_for_final(scheduler, launch, handle)
    assert update.status == "failed"
    assert update.reason == "lost"
    os.killpg(runner["group"], signal.SIGKILL)  # the command, which went on without it


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


@pytest.mark.parametrize("cut_short", [b"", b'{"control_dir": "/tmp", "environment": {"PATH": "/usr/b',
                                       b'{"control_dir": "/tmp", "environment": {}}'])
def test_a_request_cut_short_by_a_dying_scheduler_starts_no_runner(
    scheduler: LocalScheduler, make_launch: Callable[..., LaunchRequest], cut_short: bytes,
    polyaxon_settings: Settings,
) -> None:
    """The orchestrator killed while it wrote a request to the supervisor (even with only
    its end of line missing): no runner may run the command with an environment cut
    short; the resubmission starts it whole."""
    import subprocess

    from polyaxon_core.plugins import create
    from polyaxon_core.testing.scheduler import wait_for_final

    launch = make_launch("import os; print('PATH' in os.environ and 'whole environment')")
    control = scheduler.control_dir(launch.run_path, 1)
    control.mkdir(parents=True)
    server = subprocess.run([sys.executable, "-m", "polyaxon_schedulers.supervisor"],
                            input=cut_short, capture_output=True, check=False)
    assert server.returncode == 0
    assert b'"pid"' not in server.stdout
    assert list(control.iterdir()) == []

    update = wait_for_final(scheduler, launch, scheduler.submit(launch))
    assert update.status == "succeeded"
    log = create("store", "local", polyaxon_settings).read_log(launch.run.uuid).data.decode()
    assert "whole environment" in log


def test_a_killed_supervisor_is_started_again_for_the_next_run(
    scheduler: LocalScheduler, make_launch: Callable[..., LaunchRequest],
) -> None:
    from polyaxon_core.testing.scheduler import wait_for_final

    first = make_launch("print('first')")
    assert wait_for_final(scheduler, first, scheduler.submit(first)).status == "succeeded"
    server = scheduler._supervisor._process
    assert server is not None
    server.kill()
    server.wait()
    second = make_launch("print('second')")
    assert wait_for_final(scheduler, second, scheduler.submit(second)).status == "succeeded"
    assert scheduler._supervisor._process is not None
    assert scheduler._supervisor._process.pid != server.pid


def test_a_run_outlives_its_orchestrator(
    scheduler: LocalScheduler, make_launch: Callable[..., LaunchRequest], tmp_path: Path,
) -> None:
    """The orchestrator gone (the supervisor takes no more runs): the runs it started go
    on and report their end to the next one; the supervisor leaves after the last."""
    from polyaxon_core.testing.scheduler import wait_for_final, wait_until

    gate = tmp_path / "gate"
    os.mkfifo(gate)
    launch = make_launch(f"open({str(gate)!r}).read(); print('after the orchestrator left')")
    handle = scheduler.submit(launch)
    server = scheduler._supervisor._process
    assert server is not None
    scheduler._supervisor.close()
    assert scheduler.poll(launch.run, handle).status in ("starting", "running")
    assert _alive(server.pid)
    with open(gate, "w") as opened:
        opened.write("go")
    assert wait_for_final(scheduler, launch, handle).status == "succeeded"
    wait_until(lambda: not _alive(server.pid), what="the supervisor's end")


def test_the_supervisor_runs_in_a_session_of_its_own(
    scheduler: LocalScheduler, make_launch: Callable[..., LaunchRequest], tmp_path: Path,
) -> None:
    """A signal for the orchestrator's process group (a terminal's Ctrl-C, a service
    manager stopping it) does not reach the runs; nor does one run's stop reach another."""
    import signal

    from polyaxon_core.testing.scheduler import start_long_run, wait_for_final

    launch, handle = start_long_run(scheduler, make_launch, tmp_path)
    (tmp_path / "other").mkdir()
    other, other_handle = start_long_run(scheduler, make_launch, tmp_path / "other")
    server = scheduler._supervisor._process
    assert server is not None
    assert os.getsid(server.pid) == server.pid != os.getsid(0)
    stopping = dataclasses.replace(launch.run, status="stopping")
    scheduler.stop(stopping, handle, force=False)
    assert wait_for_final(scheduler, dataclasses.replace(launch, run=stopping), handle).status == "stopped"
    assert scheduler.poll(other.run, other_handle).status == "running"
    scheduler.stop(other.run, other_handle, force=True)
    assert wait_for_final(scheduler, other, other_handle).exit_code == -signal.SIGKILL


def test_a_supervisor_asked_to_end_stops_its_runs_and_the_next_run_gets_another(
    scheduler: LocalScheduler, make_launch: Callable[..., LaunchRequest], tmp_path: Path,
) -> None:
    """SIGTERM to the supervisor (a machine shutting down): its runs end stopped, as a
    runner of their own would have, rather than lost with their commands left running."""
    import signal

    from polyaxon_core.testing.scheduler import start_long_run, wait_for_final, wait_until

    launch, handle = start_long_run(scheduler, make_launch, tmp_path)
    (tmp_path / "other").mkdir()
    other, other_handle = start_long_run(scheduler, make_launch, tmp_path / "other")
    server = scheduler._supervisor._process
    assert server is not None
    server.send_signal(signal.SIGTERM)
    for each, each_handle in ((launch, handle), (other, other_handle)):
        update = wait_for_final(scheduler, each, each_handle)
        assert (update.status, update.exit_code) == ("stopped", -signal.SIGTERM)
    wait_until(lambda: server.poll() is not None, what="the supervisor's end")
    after = make_launch("print('after')")
    assert wait_for_final(scheduler, after, scheduler.submit(after)).status == "succeeded"


def test_a_stop_asked_before_the_command_started_is_not_missed(
    scheduler: LocalScheduler, make_launch: Callable[..., LaunchRequest], tmp_path: Path,
) -> None:
    """Asked while the runner has not started the command yet (its ``runner.pid`` names
    no process group to signal), the stop still ends the run, stopped."""
    from polyaxon_core.testing.scheduler import wait_for_final

    launch = make_launch("import time; time.sleep(600)")
    control = scheduler.control_dir(launch.run_path, 1)
    control.mkdir(parents=True)
    (control / "stop.json").write_text('{"signal": 15}')  # what ``stop`` writes first
    handle = scheduler.submit(launch)
    update = wait_for_final(scheduler, launch, handle)
    assert update.status == "stopped"


def test_a_runner_that_fails_itself_ends_its_attempt_saying_why(
    scheduler: LocalScheduler, make_launch: Callable[..., LaunchRequest],
) -> None:
    """A runner that fails on its own (here, on a launch record that is not an object)
    ends the attempt with its error instead of leaving it running, and says where the
    details are."""
    from polyaxon_core.testing.scheduler import wait_for_final

    launch = make_launch("print('never')")
    control = scheduler.control_dir(launch.run_path, 1)
    control.mkdir(parents=True)
    (control / "launch.json").write_text('["not", "a", "launch", "record"]')
    pid = scheduler._supervisor.start_runner(control, {"PATH": os.environ["PATH"]})
    handle = {"control_dir": str(control), "attempt": 1, "spawned_pid": pid}
    update = wait_for_final(scheduler, launch, handle)
    assert update.status == "failed" and update.reason == "runner error"
    assert str(control / "runner.log") in (update.message or "")
    assert "Traceback" in (control / "runner.log").read_text()


def test_an_attempt_whose_module_the_supervisor_cannot_load_ends_failed_saying_why(
    scheduler: LocalScheduler, make_launch: Callable[..., LaunchRequest],
) -> None:
    """Nothing is answered to a request: what the supervisor cannot do for it (here, load
    the module the request names) ends the attempt ``failed``, with the reason, and the
    next run is served as usual."""
    from polyaxon_core.testing.scheduler import wait_for_final

    launch = make_launch("print('never')")
    control = scheduler.control_dir(launch.run_path, 1)
    control.mkdir(parents=True)
    pid = scheduler._supervisor.start_runner(control, {"PATH": os.environ["PATH"]},
                                             preload="polyaxon_no_such_store")
    handle = {"control_dir": str(control), "attempt": 1, "spawned_pid": pid}
    update = wait_for_final(scheduler, launch, handle)
    assert update.status == "failed" and update.reason == "runner error"
    assert "No module named 'polyaxon_no_such_store'" in (update.message or "")
    after = make_launch("print('served')")
    assert wait_for_final(scheduler, after, scheduler.submit(after)).status == "succeeded"


def test_an_attempt_whose_thread_cannot_start_ends_failed_saying_why(
    scheduler: LocalScheduler, make_launch: Callable[..., LaunchRequest],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A thread the machine refuses (its limit of threads reached) ends the attempt
    ``failed``, with the reason, rather than leaving the run waiting for a runner that
    never comes: nobody waits on the supervisor to hear of it."""
    import threading

    from polyaxon_schedulers import supervisor

    from polyaxon_core.testing.scheduler import wait_for_final

    def refused(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    launch = make_launch("print('never')")
    control = scheduler.control_dir(launch.run_path, 1)
    control.mkdir(parents=True)
    monkeypatch.setattr(threading.Thread, "start", refused)
    supervisor._start(control, {"PATH": os.environ["PATH"]}, [])
    monkeypatch.undo()
    handle = {"control_dir": str(control), "attempt": 1, "spawned_pid": os.getpid()}
    update = wait_for_final(scheduler, launch, handle)
    assert update.status == "failed" and update.reason == "runner error"
    assert "can't start new thread" in (update.message or "")


def _alive(pid: int) -> bool:
    from polyaxon_schedulers.processes import is_alive

    return is_alive(pid, None)


def test_a_prepared_scheduler_has_its_supervisor_before_the_first_run(
    scheduler: LocalScheduler, make_launch: Callable[..., LaunchRequest],
) -> None:
    from polyaxon_core.testing.scheduler import wait_for_final

    assert scheduler._supervisor._process is None
    scheduler.prepare()
    server = scheduler._supervisor._process
    assert server is not None and server.poll() is None
    launch = make_launch("print('first')")
    assert wait_for_final(scheduler, launch, scheduler.submit(launch)).status == "succeeded"
    assert scheduler._supervisor._process is server
