"""`polyaxon run` hands its submission to the running orchestrator (its intake), which
makes the run as the command would have; anything it cannot take that way (another
configuration, a polyaxonfile with problems, another user) the command submits itself."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

from polyaxon_core.config import load_settings
from polyaxon_core.orchestrator import OrchestratorLock
from polyaxon_core.orchestrator.intake import REQUEST_LIMIT, STATUS_KEY, Intake, configuration
from polyaxon_core.testing.scheduler import wait_until
from tests.orchestrator.conftest import FILES, POLYAXON, Cli, wait_final

#: what a command that submits itself loads; the one handing its submission over does not
DATABASE_AND_SPEC = ["sqlalchemy", "marshmallow", "polyaxon_core.db", "polyaxon_core.spec",
                     "polyaxon_core.plugins", "pluggy"]
JOB = ("version: 1.1\nkind: component\nname: job\nrun:\n  kind: job\n  container:\n"
       "    image: python:3.11-slim\n    command: [python, -c, pass]\n")


def _intake_address() -> str:
    status = OrchestratorLock(load_settings()).holder_status()
    return str(status.get(STATUS_KEY) or "")


def _start_orchestrator(cli: Cli, tmp_path: Path) -> str:
    """An orchestrator started as `polyaxon run` starts one (its first run submitted by the
    command itself); the address of its intake."""
    job = tmp_path / "first.yaml"
    job.write_text(JOB)
    first = cli("run", "-f", str(job), "-o", "json")
    wait_final(json.loads(first.stdout)["uuid"])
    return wait_until(_intake_address, what="the orchestrator's intake")


def _run_loading(*args: str, cwd: Path, environment: dict[str, str] | None = None,
                 ) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """``polyaxon *args`` in this process's environment (with ``environment``), and the
    modules it had loaded when it ended."""
    script = ("import json, sys\nfrom polyaxon_core.cli import main\ntry:\n    main()\n"
              "finally:\n    print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                            cwd=cwd, env={**os.environ, **(environment or {})}, timeout=300)
    *messages, modules = result.stderr.splitlines()
    result.stderr = "\n".join(messages)
    return result, set(json.loads(modules))


def _orchestrator_log(home: Path) -> str:
    return (home / "logs" / "orchestrator.log").read_text()


def _run_count() -> int:
    from sqlalchemy import func, select

    from polyaxon_core.db.models import Run
    from polyaxon_core.db.session import session_scope

    with session_scope(load_settings().db_url) as session:
        return int(session.scalar(select(func.count()).select_from(Run)) or 0)


def test_polyaxon_run_hands_its_submission_to_the_running_orchestrator(
        home: Path, cli: Cli, tmp_path: Path) -> None:
    _start_orchestrator(cli, tmp_path)
    # a relative path from another folder: the component it refers to (pathRef) and the
    # run's context (the script its command runs) are the file's folder's
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    grid = os.path.relpath(FILES / "grid.yaml", elsewhere)
    result, loaded = _run_loading("run", "-f", grid, "--tags", "handed,over", cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert "queued: grid, sweep (grid), project tests." in result.stdout
    assert not [name for name in DATABASE_AND_SPEC if name in loaded]
    uuid = result.stdout.split()[1]
    state = wait_final(uuid)
    assert state["status"] == "succeeded"
    assert sorted(child["inputs"]["x"] for child in state["children"]) == [1, 2, 3, 4, 5, 6]
    assert state["tags"] == ["handed", "over"]
    assert f"run {uuid} submitted by a command ({FILES / 'grid.yaml'})" in _orchestrator_log(home)


def test_json_and_yaml_output_read_as_from_a_submission_in_the_command(
        home: Path, cli: Cli, tmp_path: Path) -> None:
    _start_orchestrator(cli, tmp_path)
    job = tmp_path / "job.yaml"
    job.write_text(JOB)
    import yaml

    document = yaml.safe_load(cli("run", "-f", str(job), "-o", "yaml", "-n", "named").stdout)
    assert document["name"] == "named" and document["status"] == "queued"
    assert type(document["created_at"]).__name__ == "datetime"  # a time, as YAML writes one
    as_json = json.loads(cli("run", "-f", str(job), "-o", "json").stdout)
    assert as_json["created_at"].startswith(str(document["created_at"].year))
    assert f"run {as_json['uuid']} submitted by a command" in _orchestrator_log(home)
    wait_final(document["uuid"])


def test_a_command_configured_otherwise_submits_in_its_own_process(
        home: Path, cli: Cli, tmp_path: Path) -> None:
    _start_orchestrator(cli, tmp_path)
    job = tmp_path / "job.yaml"
    job.write_text(JOB)
    result, loaded = _run_loading("run", "-f", str(job), cwd=tmp_path,
                                  environment={"POLYAXON_CONCURRENCY": "3"})
    assert result.returncode == 0, result.stderr
    assert "sqlalchemy" in loaded  # it wrote the run itself
    uuid = result.stdout.split()[1]
    assert wait_final(uuid)["status"] == "succeeded"  # the orchestrator ran it all the same
    assert f"run {uuid} submitted by a command" not in _orchestrator_log(home)


def test_a_polyaxonfile_with_problems_is_reported_as_without_an_orchestrator(
        home: Path, cli: Cli, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(JOB.replace("kind: job", "kind: jobb"))
    alone = cli("run", "-f", str(broken), check=False)
    assert not OrchestratorLock(load_settings()).is_held()
    _start_orchestrator(cli, tmp_path)
    runs = _run_count()
    served = cli("run", "-f", str(broken), check=False)
    assert (served.returncode, served.stderr) == (alone.returncode, alone.stderr) == (1, alone.stderr)
    assert "jobb" in served.stderr
    assert _run_count() == runs  # nothing written


# ------------------------------------------------------------- the intake on its own
def _ask(address: str, payload: bytes) -> dict[str, object]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.connect(address)
        connection.sendall(payload)
        connection.shutdown(socket.SHUT_WR)
        with connection.makefile("rb") as answers:
            return dict(json.loads(answers.readline()))


def _request(files: list[str], **changes: object) -> bytes:
    request: dict[str, object] = {
        "submit": {"files": files, "params": {}, "project": "tests", "name": None,
                   "description": None, "tags": [], "queue": None},
        "configuration": configuration(), **changes}
    return json.dumps(request).encode() + b"\n"


def test_the_intake_declines_what_is_no_submission_and_writes_nothing(
        home: Path, cli: Cli, tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(JOB)
    intake = Intake(load_settings())
    try:
        answers = [
            _ask(intake.address, b"not json\n"),
            _ask(intake.address, b'{"submit": {}}\n'),
            _ask(intake.address, _request([str(job)], configuration={"POLYAXON_HOME": "/elsewhere"})),
            _ask(intake.address, _request(["job.yaml"])),
            _ask(intake.address, _request([])),
            _ask(intake.address, b"x" * (REQUEST_LIMIT + 1)),  # read whole, then refused
            _ask(intake.address, _request([str(job)])[:-1]),  # cut before its end
        ]
        assert [list(answer) for answer in answers] == [["declined"]] * len(answers)
        reasons = " | ".join(str(answer["declined"]) for answer in answers)
        for reason in ("not a submission", "POLYAXON_* variables differ", "a relative path",
                       f"over {REQUEST_LIMIT} bytes"):
            assert reason in reasons
        assert _run_count() == 0
        made = _ask(intake.address, _request([str(job)]))
        assert made["what"] == "job" and _run_count() == 1
    finally:
        intake.close()
    assert not Path(intake.address).exists()


def test_a_run_whose_document_is_longer_than_a_request_reaches_the_command(
        home: Path, cli: Cli, tmp_path: Path) -> None:
    from polyaxon_core.orchestrator.intake import submit

    job = tmp_path / "job.yaml"
    job.write_text(JOB + "".join(f"# {index:07d} {'x' * 90}\n" for index in range(12_000)))
    settings = load_settings()
    intake = Intake(settings)
    lock = OrchestratorLock(settings)
    # what the orchestrator holding the home's lock publishes, this process's intake in it
    assert lock.acquire()
    try:
        lock.publish(**{STATUS_KEY: intake.address})
        taken = submit(settings, [job], {}, project="tests", name=None, description=None,
                       tags=[], queue=None)
    finally:
        lock.release()
        intake.close()
    assert taken is not None
    document, what = taken
    assert what == "job" and len(document["raw_content"]) > REQUEST_LIMIT
    assert document["raw_content"] == job.read_text()
    assert _run_count() == 1


def test_another_user_can_neither_reach_the_intake_nor_submit_through_it(
        home: Path, cli: Cli, tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(JOB)
    job.chmod(0o644)
    intake = Intake(load_settings())
    asking = ("import json, socket, sys\n"
              "connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
              "try:\n    connection.connect(sys.argv[1])\n"
              "except PermissionError:\n    print('refused'); sys.exit()\n"
              "connection.sendall(sys.stdin.buffer.read())\n"
              "print(connection.makefile('rb').readline().decode())\n")

    def as_nobody() -> str:
        # the system's interpreter: this one's may live in a folder nobody cannot open
        return subprocess.run(["/usr/bin/python3", "-c", asking, intake.address], user="nobody",
                              input=_request([str(job)]), capture_output=True, check=True,
                              timeout=60).stdout.decode().strip()

    try:
        assert as_nobody() == "refused"  # its folder is its user's alone
        # were the folder opened to others, its peer's credentials still say who asks
        Path(intake.address).parent.chmod(0o755)
        Path(intake.address).chmod(0o777)
        assert json.loads(as_nobody()) == {"declined": "a process of another user"}
        assert _run_count() == 0
    finally:
        intake.close()


def test_closing_the_intake_waits_for_the_submission_in_flight(
        home: Path, cli: Cli, tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(JOB)
    intake = Intake(load_settings())
    request = _request([str(job)])
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.connect(intake.address)
        connection.sendall(request[:20])
        closing = threading.Thread(target=intake.close)
        closing.start()
        wait_until(lambda: not Path(intake.address).exists(), what="the intake closing")
        closing.join(0.5)
        assert closing.is_alive()  # still waiting for the submission it took
        connection.sendall(request[20:])
        with connection.makefile("rb") as answers:
            answer = json.loads(answers.readline())
    closing.join(60)
    assert not closing.is_alive()
    assert answer["what"] == "job" and _run_count() == 1


def test_an_orchestrator_leaving_when_idle_leaves_a_late_run_to_a_successor(
        home: Path, cli: Cli, tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(JOB)
    log = tmp_path / "leaving.log"
    with open(log, "wb") as output:
        leaving = subprocess.Popen([POLYAXON, "scheduler", "--exit-when-idle", "1"],
                                   stdout=output, stderr=subprocess.STDOUT, env=os.environ.copy())
    try:
        address = wait_until(_intake_address, what="the orchestrator's intake")
        request = _request([str(job)])
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.connect(address)
            connection.sendall(request[:20])
            # idle, it leaves: it takes no more submissions, and finishes the one it took
            wait_until(lambda: not Path(address).exists(), what="the orchestrator leaving")
            connection.sendall(request[20:])
            with connection.makefile("rb") as answers:
                uuid = json.loads(answers.readline())["ok"]["uuid"]
        assert leaving.wait(timeout=120) == 0, log.read_text()
    finally:
        if leaving.poll() is None:
            leaving.kill()
            leaving.wait()
    assert wait_final(uuid)["status"] == "succeeded"  # run by the orchestrator it started
    successor = OrchestratorLock(load_settings())
    assert successor.is_held() and successor.holder_pid() != leaving.pid
