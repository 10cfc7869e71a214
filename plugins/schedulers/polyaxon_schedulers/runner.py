"""Owning one attempt of one run on the local scheduler.

:func:`run` starts the user's command, copies its stdout and stderr into the run's log in
the artifact store as they come, serves the run's tracking calls
(:mod:`polyaxon_core.tracking.relay`) and writes ``exit.json`` when the command ends (then
wakes the orchestrator, so the next run does not wait for its next poll). It runs in a
thread (:func:`supervise`): of the local scheduler's supervisor
(:mod:`polyaxon_schedulers.supervisor`), which outlives the orchestrator, or of the Celery
worker's pool process that took the run's task, whose keeper of process groups kills what
the attempt started if that process dies (:mod:`polyaxon_schedulers.celery.worker`).
When the log cannot be written (a full disk, a read-only folder), the command is
killed, since its output would be lost, and the attempt ends with that error; if even
``exit.json`` cannot be written, the error is written over ``runner.pid`` in place (no
new disk block needed), where the scheduler finds it as well.
For a service, the runner also watches its first port: ``ready.json`` is written once it
accepts a connection (the scheduler reports the run ``running`` from then on), and a
service that does not answer within its start timeout is stopped and fails, saying so.
The attempt is owned by whoever holds its lock (``runner.lock``) for as long as it runs: a
second runner for the same attempt (a resubmission after an orchestrator crash) finds it
taken and leaves at once, so a run is never started twice, and a lock nobody holds with
no ``exit.json`` is an attempt whose owner died.

A stop reaches the attempt as a file, ``stop.json`` (the signal asked for), and as that
signal sent to the process group of the process running at that moment (an
initializer's, or the command's): the runner starts each of them in a session of its own
and records its group in ``runner.pid``; a process it starts after the stop was asked is
signalled at once.

With a run user (``POLYAXON_RUN_AS_USER``) the runner stays this process's user, to
write the log and the exit code where the run cannot, starts the command as the run
user, and takes the run's folders back when the command ends.

The command's environment reaches :func:`run` through the supervisor's pipe, never
through a file: it holds the run's token.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from polyaxon_core.config import ConfigurationError, Settings, load_settings
from polyaxon_schedulers.folders import files_of
from polyaxon_schedulers.processes import (
    give,
    process_start_time,
    read_json,
    take_back,
    write_json_atomically,
)

LAUNCH_FILE = "launch.json"
PID_FILE = "runner.pid"
EXIT_FILE = "exit.json"
LOCK_FILE = "runner.lock"
READY_FILE = "ready.json"
STOP_FILE = "stop.json"
#: how long a service that failed to open its port has to stop before it is killed
UNREACHABLE_GRACE_SECONDS = 5.0
#: a remote store's log gets what the run wrote at least this often, in one request
LOG_FLUSH_SECONDS = 1.0
LOG_FLUSH_BYTES = 1024 * 1024


def _finish(control_dir: Path, launch: Mapping[str, Any], outcome: Mapping[str, Any]) -> None:
    write_json_atomically(control_dir / EXIT_FILE, outcome)
    if launch.get("wakeup"):
        from polyaxon_core.wakeup import wake

        wake(launch["wakeup"])


def _fail(control_dir: Path, launch: Mapping[str, Any], error: str, terminated: bool) -> None:
    """End the attempt with ``error`` (reason ``storage error``), wherever it can be written."""
    outcome = {"exit_code": 1, "error": error, "reason": "storage error",
               "terminated": terminated, "finished_at": datetime.now(UTC).isoformat()}
    try:
        _finish(control_dir, launch, outcome)
    except OSError:
        with open(control_dir / PID_FILE, "r+") as pid_file:
            info = json.loads(pid_file.read() or "{}")
            pid_file.seek(0)
            pid_file.write(json.dumps({**info, "error": error}))
            pid_file.truncate()


def _log_write_error(exc: Exception) -> str:
    from polyaxon_core.storage_errors import describe_storage_error

    failure = describe_storage_error(exc)
    detail = failure.message if failure is not None else f"{type(exc).__name__}: {exc}"
    return f"the run's log could not be written, so the run was stopped: {detail}"


class _LogWriter:
    """The run's output into its log: each chunk at once to a local store; to a remote one,
    gathered for at most :data:`LOG_FLUSH_SECONDS` (or :data:`LOG_FLUSH_BYTES`)."""

    def __init__(self, store: Any, run_uuid: str, remote: bool) -> None:
        self.store, self.run_uuid, self.remote = store, run_uuid, remote
        self.pending = bytearray()
        self.since = time.monotonic()

    def write(self, chunk: bytes) -> None:
        if not self.remote:
            self.store.append_log(self.run_uuid, chunk)
            return
        if not self.pending:
            self.since = time.monotonic()
        self.pending += chunk
        if len(self.pending) >= LOG_FLUSH_BYTES or self.seconds_left() == 0:
            self.flush()

    def seconds_left(self) -> float:
        return max(0.0, self.since + LOG_FLUSH_SECONDS - time.monotonic())

    def flush(self) -> None:
        if self.pending:
            self.store.append_log(self.run_uuid, bytes(self.pending))
            self.pending.clear()


def _artifacts_folder(launch: Mapping[str, Any]) -> Path | None:
    """The run's local artifacts folder, when there is one."""
    recorded = str((launch.get("env") or {}).get("POLYAXON_RUN_ARTIFACTS_PATH") or "")
    folder = Path(recorded).resolve() if recorded else None
    return folder if folder is not None and folder.is_dir() else None


def _upload_artifacts(store: Any, run_uuid: str, launch: Mapping[str, Any]) -> str | None:
    """Copy what the run wrote into its local artifacts folder to the (remote) store;
    the error, if the store refused or could not be reached (the files stay). A symbolic
    link that leads out of the folder is not the run's and stays behind."""
    folder = _artifacts_folder(launch)
    if folder is None:
        return None
    for file in files_of(folder):
        try:
            store.put_file(run_uuid, file, file.relative_to(folder).as_posix())
        except Exception as exc:  # any store's failure: said, and the files are kept
            from polyaxon_core.storage_errors import describe_storage_error

            failure = describe_storage_error(exc)
            detail = failure.message if failure is not None else f"{type(exc).__name__}: {exc}"
            return (f"the run's artifacts could not be uploaded to the {store.name} store: "
                    f"{detail}; they are kept in {folder}")
    return None


def _store(launch: Mapping[str, Any], settings: Settings):  # type: ignore[no-untyped-def]
    """The artifact store the scheduler chose through the plugin manager, by the class it
    recorded (``module:qualname``): the runner starts fast, without discovering and
    importing every installed plugin again for each run."""
    from polyaxon_core.interfaces.base import class_at

    return class_at(str(launch["store_class"]))(settings)


class GroupKeeper(Protocol):
    """Told of each process group an attempt starts, and of its end: what kills the groups
    still running if the process the runners live in dies (a Celery pool process's)."""

    def watch(self, group: int) -> None: ...

    def forget(self, group: int) -> None: ...


def _relay(launch: Mapping[str, Any], environment: Mapping[str, str], settings: Settings) -> Any:
    """For a run of the embedded default (it writes to the database itself), a server of
    its tracking calls in this process (:mod:`polyaxon_core.tracking.relay`), so that the
    command need not load the database layer; None for a run that tracks through a
    server's API, that has its relay already (a Celery worker's pool process serves it),
    or that runs as another user (who cannot reach this user's socket). The runner
    serves on the settings of the process it runs in (``settings``), which are its
    scheduler's: a run of another database (none the scheduler starts) tracks by itself."""
    from polyaxon_core.tracking import relay

    if launch.get("run_as_user") or not relay.serves(environment):
        return None
    if environment.get("POLYAXON_DB_URL") != settings.db_url:
        return None
    return relay.start(environment["POLYAXON_RUN_UUID"], relay.attempt_of(environment))


class _Stops:
    """How a stop reaches the attempt (see the module's documentation): whether one was
    asked, and which process group of the attempt it is sent to."""

    def __init__(self, control_dir: Path, owner: dict[str, Any], keeper: GroupKeeper | None) -> None:
        self.control_dir, self.owner, self.keeper = control_dir, owner, keeper
        #: the signal the process the runner lives in was asked to pass on, if any
        self.signalled: int | None = None
        #: the process of this moment (a step's, the command's)
        self.running: list[subprocess.Popen[bytes]] = []

    @property
    def asked(self) -> bool:
        return self.signalled is not None or (self.control_dir / STOP_FILE).exists()

    def started(self, process: subprocess.Popen[bytes]) -> None:
        """``process`` (started in a session of its own) runs for the attempt: its group is
        what a stop signals from now on."""
        self.running.append(process)
        if self.keeper is not None:
            self.keeper.watch(process.pid)
        self.owner["group"] = process.pid
        write_json_atomically(self.control_dir / PID_FILE, self.owner)
        # a stop asked before this group was known: by a signal, else through stop.json
        number = self.signalled
        if number is None:
            asked = read_json(self.control_dir / STOP_FILE)
            if not isinstance(asked, dict):
                return
            number = int(asked.get("signal", signal.SIGTERM))
        with suppress(ProcessLookupError):
            os.killpg(process.pid, number)

    def on_signal(self, signum: int) -> None:
        """Pass ``signum`` on to what runs now (its whole group); the attempt then ends
        ``terminated``."""
        self.signalled = signum
        if not self.running or self.running[-1].poll() is not None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.running[-1].pid, signum)

    def ended(self) -> None:
        """The attempt is over: the keeper forgets the groups whose leaders have ended (one
        still running, after a failure of the runner, stays in its care)."""
        if self.keeper is None:
            return
        for process in self.running:
            if process.poll() is not None:
                self.keeper.forget(process.pid)


#: the attempts this process's runner threads own now (see :func:`stop_supervised`)
_SUPERVISED: set[_Stops] = set()
_SUPERVISED_LOCK = threading.Lock()


def stop_supervised(signum: int) -> None:
    """Pass ``signum`` on to every attempt this process supervises: each ends
    ``terminated`` (reported ``stopped``), as a runner of its own process does when it
    gets the signal itself."""
    with _SUPERVISED_LOCK:
        owned = list(_SUPERVISED)
    for stops in owned:
        stops.on_signal(signum)


def _switch_user(name: str | None) -> dict[str, Any]:
    """The ``Popen`` arguments that start the command as the user ``name`` (with its
    groups, as ``initgroups`` sets them); none for no user."""
    if not name:
        return {}
    from polyaxon_core.run_user import RUN_AS_USER_VARIABLE, run_as_user

    user = run_as_user({RUN_AS_USER_VARIABLE: name})
    assert user is not None
    return {"user": user.uid, "group": user.gid, "extra_groups": list(user.groups),
            "umask": 0o077}


def _pump(output: Any, log: _LogWriter) -> None:
    """Copy a process's output into the log until it closes."""
    poller = select.poll()  # not select: it refuses descriptors past 1023
    poller.register(output, select.POLLIN)
    while True:
        if log.pending and not poller.poll(log.seconds_left() * 1000):
            log.flush()
            continue
        try:
            chunk = output.read(65536)
        except InterruptedError:
            continue
        if not chunk:
            break
        log.write(chunk)
    log.flush()


def run(control_dir: Path, environment: Mapping[str, str],
        init_environments: Sequence[Mapping[str, str]] = (), keeper: GroupKeeper | None = None) -> int:
    """Own one attempt: ``environment`` is the command's whole environment (the launch
    record holds only its names), ``init_environments`` those of the run's initializers;
    ``keeper``: told of the process groups the attempt starts."""
    with open(control_dir / LOCK_FILE, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # another runner owns this attempt
        if (control_dir / EXIT_FILE).exists():
            return 0  # this attempt already ran to its end
        try:
            return _own(control_dir, environment, init_environments, keeper)
        except Exception as exc:  # whatever it is, the attempt ends (its lock still held)
            runner_failed(control_dir, exc)
            return 1


def _own(control_dir: Path, environment: Mapping[str, str],
         init_environments: Sequence[Mapping[str, str]], keeper: GroupKeeper | None) -> int:
    pid = os.getpid()
    owner: dict[str, Any] = {"pid": pid, "start_time": process_start_time(pid),
                             "supervised": True, "group": None}
    write_json_atomically(control_dir / PID_FILE, owner)

    launch = read_json(control_dir / LAUNCH_FILE)
    if launch is None:
        write_json_atomically(control_dir / EXIT_FILE, {"exit_code": 127, "error": "launch.json missing"})
        return 1
    # read once for the attempt: the store and the relay serve on the same settings
    settings = load_settings()
    store = _store(launch, settings)
    stops = _Stops(control_dir, owner, keeper)
    with _SUPERVISED_LOCK:
        _SUPERVISED.add(stops)
    try:
        return _attempt(control_dir, launch, settings, store, stops, environment, init_environments)
    finally:
        with _SUPERVISED_LOCK:
            _SUPERVISED.discard(stops)
        stops.ended()


def _attempt(control_dir: Path, launch: Mapping[str, Any], settings: Settings, store: Any, stops: _Stops,
             environment: Mapping[str, str], init_environments: Sequence[Mapping[str, str]]) -> int:
    run_uuid: str = launch["run_uuid"]
    handed_over = [Path(folder) for folder in launch.get("handed_over") or []]
    log = _LogWriter(store, run_uuid, remote=store.local_path(run_uuid) is None)

    def finish(outcome: dict[str, Any]) -> None:
        take_back(handed_over)
        _finish(control_dir, launch, {**outcome, "terminated": stops.asked,
                                      "finished_at": datetime.now(UTC).isoformat()})

    def start(command: Sequence[str], options: Mapping[str, Any]) -> int:
        """Run an initializer's process to its end, its output into the log."""
        process = subprocess.Popen(list(command), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, **options, start_new_session=True,
                                   **_switch_user(launch.get("run_as_user")))
        stops.started(process)
        assert process.stdout is not None
        _pump(process.stdout.raw if hasattr(process.stdout, "raw") else process.stdout, log)
        return process.wait()

    try:
        failed = _initialize(launch, init_environments, store, log, start, lambda: stops.asked)
    except Exception as exc:  # any store's failure: the output would be lost from here on
        for process in stops.running:
            if process.poll() is None:
                process.kill()
        take_back(handed_over)
        _fail(control_dir, launch, _log_write_error(exc), stops.asked)
        return 1
    if stops.asked:  # stopped during its initializers: stopped, not failed, and no command
        finish({"exit_code": 1})
        return 0
    if failed is not None:
        finish({"exit_code": 1, "error": failed, "reason": "init failed"})
        return 0
    relay = _relay(launch, environment, settings)
    child: subprocess.Popen[bytes] | None = None
    try:
        child = subprocess.Popen(
            launch["command"],
            cwd=launch["cwd"],
            env={**environment, **(relay.environment if relay is not None else {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **_switch_user(launch.get("run_as_user")),
        )
    except (OSError, ConfigurationError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        if relay is not None:
            relay.close()
        message = f"could not start {launch['command'][0]!r}: {reason}\n"
        store.append_log(run_uuid, message.encode())
        finish({"exit_code": 127, "error": message.strip()})
        return 0
    stops.started(child)
    unreachable: list[str] = []  # why the service was stopped, when it never answered
    if launch.get("service"):
        threading.Thread(target=_watch_service, daemon=True,
                         args=(child, launch, control_dir, unreachable)).start()
    assert child.stdout is not None
    # unbuffered reads: a chunk is logged as soon as the process writes it (to a remote
    # store, gathered for at most LOG_FLUSH_SECONDS: one request per line would be slow)
    output = child.stdout.raw if hasattr(child.stdout, "raw") else child.stdout
    try:
        _pump(output, log)
    except Exception as exc:  # any store's failure: the output would be lost from here on
        child.kill()
        child.wait()
        if relay is not None:
            relay.close()
        kept = _artifacts_folder(launch) if log.remote else None
        note = f"; its artifacts are kept in {kept}" if kept is not None else ""
        _fail(control_dir, launch, _log_write_error(exc) + note, stops.asked)
        return 1
    exit_code = child.wait()
    if relay is not None:  # no call is taken once the command ended
        relay.stop()
    try:
        take_back(handed_over)
        if unreachable:
            store.append_log(run_uuid, f"{unreachable[0]}\n".encode())
        if log.remote:
            uploaded = _upload_artifacts(store, run_uuid, launch)
            if uploaded is not None:
                _fail(control_dir, launch, uploaded, stops.asked)
                return 1
        _finish(control_dir, launch, {
            "exit_code": exit_code,
            "terminated": stops.asked,
            "finished_at": datetime.now(UTC).isoformat(),
            **({"error": unreachable[0], "reason": "service unreachable"} if unreachable else {}),
        })
        return 0
    finally:
        if relay is not None:  # its socket goes once the end is told: the next run need not wait
            relay.close()


def supervise(control_dir: Path, environment: Mapping[str, str],
              init_environments: Sequence[Mapping[str, str]], keeper: GroupKeeper | None = None) -> None:
    """Own the attempt in ``control_dir``, in a thread of the process the runners live in."""
    try:
        run(control_dir, environment, init_environments, keeper)
    except Exception as exc:  # before the attempt's lock was taken (its folder is gone)
        runner_failed(control_dir, exc)


def runner_failed(control_dir: Path, exc: Exception) -> None:
    """A failure of the runner itself: its traceback into the attempt's ``runner.log``,
    and the attempt ended with it rather than left running with nobody to report its end."""
    with suppress(OSError), open(control_dir / "runner.log", "a") as log:
        log.write(traceback.format_exc())
    if not (control_dir / EXIT_FILE).exists():
        with suppress(OSError):
            write_json_atomically(control_dir / EXIT_FILE, {
                "exit_code": 1, "reason": "runner error",
                "error": f"the run's runner failed: {type(exc).__name__}: {exc} "
                         f"(see {control_dir / 'runner.log'})",
                "finished_at": datetime.now(UTC).isoformat()})


def _watch_service(child: subprocess.Popen[bytes], launch: Mapping[str, Any], control_dir: Path,
                   unreachable: list[str]) -> None:
    """Write ``ready.json`` once the service's first port accepts a connection (and wake
    the orchestrator, which reports it running); stop the service (and say why in
    ``unreachable``) if it has not within its start timeout."""
    service = launch["service"]
    host, port = str(service["host"]), int(service["ports"][0])
    timeout = float(service["start_timeout"])
    deadline = time.monotonic() + timeout
    while child.poll() is None:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                write_json_atomically(control_dir / READY_FILE,
                                      {"at": datetime.now(UTC).isoformat(), "port": port})
                if launch.get("wakeup"):
                    from polyaxon_core.wakeup import wake

                    wake(launch["wakeup"])
                return
        except OSError:
            pass
        if time.monotonic() >= deadline:
            unreachable.append(
                f"the service did not answer on port {port} within {timeout:g}s "
                "(POLYAXON_SERVICE_START_TIMEOUT); its command must listen on "
                "{{ globals.bind_address }}:{{ globals.ports[0] }}")
            child.terminate()
            try:
                child.wait(UNREACHABLE_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                child.kill()
            return
        time.sleep(0.05)


def _initialize(launch: Mapping[str, Any], environments: Sequence[Mapping[str, str]], store: Any,
                log: _LogWriter, start: Any, terminated: Any) -> str | None:
    """Run the attempt's initializers in order (see :mod:`polyaxon_schedulers.initializers`);
    the error that ends the attempt, or None when the command may start."""
    steps = launch.get("init") or []
    if not steps:  # most runs: nothing to import, the command starts at once
        return None
    from polyaxon_schedulers import initializers

    account = None
    if launch.get("run_as_user"):
        from polyaxon_core.run_user import RUN_AS_USER_VARIABLE, run_as_user

        account = run_as_user({RUN_AS_USER_VARIABLE: launch["run_as_user"]})
    for index, step in enumerate(steps):
        if terminated():
            return None
        where = f"initializer {index + 1}/{len(steps)}"
        log.write(f"[{where}] {initializers.describe(step)}\n".encode())
        # the secret files of the step's connection, for this step only
        secrets = Path(launch["run_path"]) / f".init-{index + 1}"
        if account is not None and secrets.exists():
            give(secrets, account.uid, account.gid)
        try:
            done = initializers.run_step(step, environments[index] if index < len(environments)
                                         else {}, store, start)
        except Exception as exc:  # a step's failure (git, a store, a file): said, the run ends
            detail = _describe(exc)
            log.write(f"[{where}] failed: {detail}\n".encode())
            log.flush()
            return f"{where} ({step['kind']}) failed: {detail}"
        finally:
            shutil.rmtree(secrets, ignore_errors=True)
        if account is not None and step["kind"] in {"file", "dockerfile", "paths"}:
            give(Path(step["destination"]), account.uid, account.gid)
        log.write(f"[{where}] {done}\n".encode())
    log.flush()
    return None


def _describe(exc: Exception) -> str:
    """An initializer's failure in words: a store's own message, an OS error's reason."""
    from polyaxon_core.storage_errors import describe_storage_error
    from polyaxon_schedulers.initializers import StepFailed

    if isinstance(exc, StepFailed | ConfigurationError):
        return str(exc)
    failure = describe_storage_error(exc)
    if failure is not None:
        return failure.message
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return f"{type(exc).__name__}: {exc}"
