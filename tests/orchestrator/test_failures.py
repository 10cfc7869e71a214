"""Failures reach the user: a wrong backend is refused before anything is queued, an
orchestrator or scheduler that fails marks the runs it affects, storage that cannot be
written (a full disk, a read-only home) is one line naming the path and the cause, and
``--watch`` says why instead of waiting forever. All through the real ``polyaxon``
executable; full disks are real tmpfs mounts and read-only files real read-only bind
mounts (the tests run as root, for whom permission bits alone would not refuse a write).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from polyaxon_core.testing import install_distribution
from polyaxon_core.testing.scheduler import wait_until
from tests.orchestrator.conftest import FILES, POLYAXON, Cli, run_state, wait_final, wait_for

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="session")
def faulty_schedulers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the ``unreachable`` and ``refusing`` scheduler plugins installed."""
    return install_distribution(FIXTURES / "faulty_schedulers", tmp_path_factory.mktemp("faulty"))


@pytest.fixture
def with_faulty_schedulers(faulty_schedulers: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(faulty_schedulers))


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


@pytest.fixture
def mounts() -> Iterator[list[Path]]:
    """Mount points a test adds to; each is detached (lazily: processes may still be in
    it) when the test ends."""
    mounted: list[Path] = []
    yield mounted
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", str(point)], check=True)


def _tmpfs(mounts: list[Path], point: Path, size: str) -> None:
    point.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point))
    mounts.append(point)


def _read_only(mounts: list[Path], path: Path) -> None:
    _mount("--bind", str(path), str(path))
    mounts.append(path)
    _mount("-o", "remount,ro,bind", str(path))


def _submit(cli: Cli, *args: str) -> str:
    return str(json.loads(cli("run", *args, "-o", "json").stdout)["uuid"])


def _runs(cli: Cli) -> int:
    return int(json.loads(cli("ops", "ls", "-o", "json").stdout)["count"])


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr and "bug in polyaxon" not in result.stderr
    assert "SQL" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# --- backends --------------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["POLYAXON_SCHEDULER", "POLYAXON_STORE"])
def test_an_unknown_backend_is_refused_at_submission_with_the_installed_ones(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, "kubernetz")
    result = cli("run", "-f", str(FILES / "task.yaml"), "--watch", check=False)
    assert result.returncode == 2
    error = _one_line_error(result)
    assert f"{variable}='kubernetz'" in error and "local" in _installed(error)
    monkeypatch.delenv(variable)
    assert _runs(cli) == 0


def test_the_scheduler_command_refuses_an_unknown_backend(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYAXON_SCHEDULER", "kubernetz")
    result = cli("scheduler", "--once", check=False)
    assert result.returncode == 2
    assert "local" in _installed(_one_line_error(result))


def _installed(error: str) -> list[str]:
    """The backends an error lists as installed."""
    found = re.search(r"installed: ([a-z0-9-]+(?:, [a-z0-9-]+)*)", error)
    assert found, error
    return found.group(1).split(", ")


def test_a_server_refuses_to_start_with_an_unknown_backend(tmp_path: Path) -> None:
    from tests.api.servers import BIN, environment

    env = environment(tmp_path / "home", POLYAXON_STORE="s4")
    result = subprocess.run([str(BIN / "polyaxon"), "server", "--port", "0", "--no-auth"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    error = _one_line_error(result)
    assert "POLYAXON_STORE='s4'" in error and "local" in _installed(error)


def test_a_backend_other_than_the_running_orchestrators_is_refused_naming_both(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, with_faulty_schedulers: None
) -> None:
    busy = _submit(cli, "-f", str(FILES / "task.yaml"), "-P", "sleep=120")
    wait_for(busy, lambda s: s["status"] == "running")
    monkeypatch.setenv("POLYAXON_SCHEDULER", "refusing")
    result = cli("run", "-f", str(FILES / "task.yaml"), check=False)
    assert result.returncode == 2
    error = _one_line_error(result)
    assert "POLYAXON_SCHEDULER='refusing'" in error and "uses the scheduler 'local'" in error
    monkeypatch.delenv("POLYAXON_SCHEDULER")
    assert _runs(cli) == 1
    cli("ops", "stop", busy, "-y")


# --- orchestrator and scheduler failures ----------------------------------------------


def test_a_scheduler_that_fails_to_start_fails_the_queued_runs_and_watch_says_why(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, with_faulty_schedulers: None
) -> None:
    monkeypatch.setenv("POLYAXON_SCHEDULER", "unreachable")
    result = cli("run", "-f", str(FILES / "task.yaml"), "--watch", check=False)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "refused the credentials" in output and "Traceback" not in output
    runs = json.loads(cli("ops", "ls", "-o", "json").stdout)["results"]
    state = wait_final(runs[0]["uuid"])
    assert state["status"] == "failed"
    status, reason, message = state["conditions"][-1]
    assert reason == "orchestrator error"
    assert "the orchestrator could not start: ConnectionError" in message


def test_a_sweep_watched_while_its_scheduler_fails_to_start_ends_with_the_reason(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, with_faulty_schedulers: None
) -> None:
    monkeypatch.setenv("POLYAXON_SCHEDULER", "unreachable")
    result = cli("run", "-f", str(FILES / "random.yaml"), "--watch", check=False)
    assert result.returncode == 1
    assert "refused the credentials" in result.stdout + result.stderr
    sweep = json.loads(cli("ops", "ls", "-o", "json").stdout)["results"][0]
    assert wait_final(sweep["uuid"])["conditions"][-1][:2] == ("failed", "orchestrator error")


def test_a_scheduler_that_raises_while_launching_fails_the_run_with_its_error(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, with_faulty_schedulers: None
) -> None:
    monkeypatch.setenv("POLYAXON_SCHEDULER", "refusing")
    result = cli("run", "-f", str(FILES / "task.yaml"), "--watch", check=False)
    assert result.returncode == 1
    assert "quota exceeded in namespace ml" in result.stdout
    uuid = json.loads(cli("ops", "ls", "-o", "json").stdout)["results"][0]["uuid"]
    assert run_state(uuid)["conditions"][-1][:2] == ("failed", "launch failed")


def test_watch_says_why_when_no_orchestrator_can_start(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYAXON_ORCHESTRATOR", "external")  # queued, and nothing runs it yet
    uuid = _submit(cli, "-f", str(FILES / "task.yaml"))
    monkeypatch.setenv("POLYAXON_ORCHESTRATOR", "auto")
    monkeypatch.setenv("POLYAXON_SCHEDULER", "kubernetz")  # what the orchestrator it starts sees
    result = cli("ops", "get", uuid, "--watch", check=False, timeout=120)
    assert result.returncode == 1
    error = result.stderr.strip().splitlines()[-1]
    assert "exited at start" in error and "POLYAXON_SCHEDULER='kubernetz'" in error
    assert "orchestrator.log" in error
    assert run_state(uuid)["status"] == "queued"  # it never ran: nothing pretends otherwise


def test_watch_says_when_no_external_orchestrator_runs_and_goes_on_once_one_does(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLYAXON_ORCHESTRATOR", "external")
    uuid = _submit(cli, "-f", str(FILES / "task.yaml"))
    watching = subprocess.Popen([POLYAXON, "ops", "get", uuid, "--watch"], env=os.environ.copy(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert watching.stderr is not None
    notice = watching.stderr.readline()
    assert "no orchestrator is running" in notice and "polyaxon scheduler" in notice
    monkeypatch.setenv("POLYAXON_ORCHESTRATOR", "auto")
    from polyaxon_core.config import load_settings
    from polyaxon_core.orchestrator import ensure_orchestrator

    ensure_orchestrator(load_settings())
    assert watching.wait(timeout=120) == 0
    assert run_state(uuid)["status"] == "succeeded"


# --- storage ---------------------------------------------------------------------------


def test_a_read_only_database_is_one_line_naming_it(cli: Cli, home: Path, mounts: list[Path]) -> None:
    _read_only(mounts, home / "polyaxon.db")
    result = cli("run", "-f", str(FILES / "task.yaml"), check=False)
    assert result.returncode == 2
    error = _one_line_error(result)
    assert f"cannot write {home / 'polyaxon.db'}: Read-only file system" in error
    assert "task.py" not in error  # nothing of the polyaxonfile


def test_a_read_only_home_is_one_line_naming_it(cli: Cli, home: Path, mounts: list[Path]) -> None:
    _read_only(mounts, home)
    result = cli("run", "-f", str(FILES / "task.yaml"), check=False)
    assert result.returncode == 2
    assert f"{home / 'polyaxon.db'}: Read-only file system" in _one_line_error(result)


def test_a_full_disk_is_one_line_naming_the_database(
    polyaxon_home: Path, mounts: list[Path], cli: Cli
) -> None:
    _tmpfs(mounts, polyaxon_home, "1m")  # an empty home on a disk about to be full
    with open(polyaxon_home / "filler", "wb") as filler, pytest.raises(OSError):
        while True:
            filler.write(b"\0" * 65536)
    result = cli("project", "create", "other", check=False)
    assert result.returncode == 1
    assert f"cannot write {polyaxon_home / 'polyaxon.db'}: No space left on device" in _one_line_error(result)


def _noisy_operation(tmp_path: Path) -> Path:
    """A job that prints about 10 MB."""
    path = tmp_path / "noisy.yaml"
    path.write_text(
        "version: 1.1\nkind: component\nname: noisy\nrun:\n  kind: job\n  container:\n"
        "    image: python:3.11-slim\n"
        f"    command: [{json.dumps(sys.executable)}, -c, "
        "\"for i in range(100000): print('x' * 100)\"]\n"
    )
    return path


def test_a_full_log_disk_fails_the_run_with_the_path_and_cause(
    cli: Cli, home: Path, mounts: list[Path], tmp_path: Path
) -> None:
    _tmpfs(mounts, home / "run-logs", "1m")  # the logs' disk fills up; the database's does not
    result = cli("run", "-f", str(_noisy_operation(tmp_path)), "--watch", check=False)
    assert result.returncode == 1
    uuid = json.loads(cli("ops", "ls", "-o", "json").stdout)["results"][0]["uuid"]
    state = wait_final(uuid)
    status, reason, message = state["conditions"][-1]
    assert (status, reason) == ("failed", "storage error")
    assert f"cannot write {home / 'run-logs' / uuid}.log: No space left on device" in message
    assert message in " ".join(result.stdout.split())


def test_a_full_home_disk_ends_watch_with_the_cause_and_the_run_failed_once_space_is_back(
    polyaxon_home: Path, mounts: list[Path], cli: Cli, tmp_path: Path
) -> None:
    _tmpfs(mounts, polyaxon_home, "2m")
    cli("project", "create", "noisy")  # the database is on the small disk too
    result = cli("run", "-p", "noisy", "-f", str(_noisy_operation(tmp_path)), "--watch", check=False)
    assert result.returncode == 1
    error = result.stderr.strip().splitlines()[-1]
    assert f"cannot write {polyaxon_home / 'polyaxon.db'}: No space left on device" in error
    uuid = json.loads(cli("ops", "ls", "-p", "noisy", "-o", "json").stdout)["results"][0]["uuid"]
    (polyaxon_home / "run-logs" / f"{uuid}.log").unlink()  # what the user would do: free space
    state = wait_final(uuid)
    status, reason, message = state["conditions"][-1]
    assert (status, reason) == ("failed", "storage error")
    assert "No space left on device" in message and f"{uuid}.log" in message
    from polyaxon_core.config import load_settings
    from polyaxon_core.orchestrator import orchestrator_error

    wait_until(lambda: orchestrator_error(load_settings()) is None)  # it writes again


def test_a_server_on_a_full_disk_answers_with_the_cause_not_a_500(
    tmp_path: Path, mounts: list[Path]
) -> None:
    from tests.api.servers import BIN, environment, serving

    home = tmp_path / "served"
    _tmpfs(mounts, home, "1m")
    env = environment(home, POLYAXON_ORCHESTRATOR="external")
    command = [str(BIN / "polyaxon"), "server", "--port", "0", "--no-auth"]
    with serving(command, env, r"serving the API on (http://\S+)/api/v1") as served:
        with open(home / "filler", "wb") as filler, pytest.raises(OSError):
            while True:
                filler.write(b"\0" * 65536)
        status, error = served.request("POST", "/api/v1/default/projects/create",
                                       body={"name": "full"})
        assert status == 507, "".join(served.output)[-3000:]
        assert error["message"].startswith("the server cannot write its storage "
                                           "(No space left on device)")
    assert f"cannot write {home / 'polyaxon.db'}: No space left on device" in "".join(served.output)
