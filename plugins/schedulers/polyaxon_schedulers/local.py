"""``scheduler-local``: every run is a process on this machine.

Each attempt of a run gets a control folder ``<run_path>/.polyaxon/attempt-<n>`` and a
runner (see :mod:`polyaxon_schedulers.runner`), a thread of the supervisor this scheduler
keeps (:mod:`polyaxon_schedulers.supervisor`, a process that outlives the orchestrator),
that starts the command in the run's working directory with the run context in its
environment. The handle kept in the database names that folder, so an orchestrator
started later can poll and stop runs its predecessor launched: a run is alive while its
attempt's lock is held, and ended when its ``exit.json`` is there. Stopping writes the
attempt's ``stop.json`` and sends SIGTERM to the process group of what the run runs; the
base class escalates to SIGKILL after the grace period.

A service (``run.kind: service``) listens on free ports of the loopback
(``globals.ports``, ``globals.bind_address``); it is ``starting`` until the runner sees
its first port answer, then ``running``. The handle says where the server's proxy
reaches it.

Commands run with the Python environment polyaxon itself runs in first on ``PATH``, so
``python`` in a polyaxonfile means an interpreter that can import the tracking SDK.

A run for a server (``LaunchRequest.isolated``) or any run with ``POLYAXON_RUN_AS_USER``
gets a clean environment instead of this process's; with a run user, the command runs
as that user and gets its folders only while it runs (:mod:`polyaxon_core.run_user`,
:func:`~polyaxon_schedulers.processes.hand_over`). The launch record keeps variable
names, and values only of the non-secret run context.
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import sys
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from polyaxon_core.connections.exposure import expose
from polyaxon_core.connections.secrets import is_connection_variable
from polyaxon_core.entities import InitStep, LaunchRequest, RunEntity, StatusUpdate
from polyaxon_core.hookspecs import hookimpl
from polyaxon_core.interfaces import Scheduler
from polyaxon_core.run_user import RunAsUser, isolate_process
from polyaxon_core.services import declared_ports
from polyaxon_core.wakeup import wakeup_path
from polyaxon_schedulers import runner
from polyaxon_schedulers.processes import hand_over, is_alive, read_json, write_json_atomically
from polyaxon_schedulers.supervisor import Supervisor

#: what an isolated run inherits from this process's environment
INHERITED = ("PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "HOME")
#: where services listen: the loopback only, reached from outside through the server
SERVICE_HOST = "127.0.0.1"
#: the variables whose values the launch record keeps (the rest: names only)
RECORDED_VALUES = ("POLYAXON_RUN_UUID", "POLYAXON_PROJECT", "POLYAXON_OWNER", "POLYAXON_HOST",
                   "POLYAXON_RUN_ARTIFACTS_PATH", "POLYAXON_RUN_OUTPUTS_PATH",
                   "POLYAXON_CONTEXT_PATH", "PATH", "HOME", "USER", "PYTHONUNBUFFERED")


class LocalScheduler(Scheduler):
    name = "local"
    description = "Runs each operation as a process on this machine."
    supports_services: ClassVar[bool] = True
    survives_orchestrator_restart: ClassVar[bool] = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: POLYAXON_RUN_AS_USER, checked now: a scheduler that cannot switch users refuses
        #: to start rather than failing every run
        self.run_as: RunAsUser | None = isolate_process(self.settings)
        self._supervisor = Supervisor()
        weakref.finalize(self, self._supervisor.close)

    def prepare(self) -> None:
        """Start the supervisor now: it imports what runs need while the orchestrator
        starts, rather than while the first run waits."""
        self._supervisor.start()

    @classmethod
    def check_run(cls, run: Mapping[str, Any]) -> list[tuple[str, str]]:
        kind = str(run.get("kind") or "job")
        if kind in {"tfjob", "pytorchjob", "mpijob"}:
            return [("run.kind", f"a `{kind}` runs its replicas as pods of the Kubeflow training "
                                 "operator: use POLYAXON_SCHEDULER=kubernetes")]
        return []

    @staticmethod
    def control_dir(run_path: str | Path, attempt: int) -> Path:
        return Path(run_path) / ".polyaxon" / f"attempt-{attempt}"

    def service_ports(self, declared: Sequence[int]) -> list[int]:
        """Free ports of this machine's loopback, one per declared port: services share
        the machine, so two notebooks never both get 8888."""
        sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in declared]
        try:
            for sock in sockets:
                sock.bind((SERVICE_HOST, 0))
            return [int(sock.getsockname()[1]) for sock in sockets]
        finally:
            for sock in sockets:
                sock.close()

    def submit(self, launch: LaunchRequest) -> Mapping[str, Any]:
        attempt = int(launch.run.meta_info.get("attempts", 1))
        control = self.control_dir(launch.run_path, attempt)
        handle: dict[str, Any] = {"control_dir": str(control), "attempt": attempt}
        if (control / runner.PID_FILE).exists() or (control / runner.EXIT_FILE).exists():
            # this attempt was already started (resubmission after a crash): it listens
            # where its launch record says
            service = (read_json(control / runner.LAUNCH_FILE) or {}).get("service")
            return {**handle, **({"service": self._service_handle(service)} if service else {})}
        control.mkdir(parents=True, exist_ok=True)
        container = launch.container
        command = [*container.command, *container.args]
        if not command:
            raise ValueError("the container has neither `command` nor `args`; nothing to run")
        cwd = Path(container.working_dir or launch.run_path)
        if not cwd.is_absolute():
            cwd = Path(launch.context_path or launch.run_path) / cwd
        cwd.mkdir(parents=True, exist_ok=True)
        env = self._environment(launch)
        handed: list[Path] = []
        if self.run_as is not None:
            handed = hand_over(self.run_as, Path(launch.run_path),
                               Path(launch.env["POLYAXON_RUN_ARTIFACTS_PATH"]))
        store_class = self._store_class()
        service = None
        if launch.ports:
            service = {"host": SERVICE_HOST, "ports": list(launch.ports),
                       "declared": declared_ports(launch.run_section),
                       "start_timeout": self.settings.service_start_timeout}
            handle["service"] = self._service_handle(service)
        write_json_atomically(control / runner.LAUNCH_FILE, {
            "command": command,
            "cwd": str(cwd),
            "run_path": str(launch.run_path),
            # names only: values may be secrets (the run's token, a database URL)
            "env_names": sorted(env),
            "env": {name: env[name] for name in RECORDED_VALUES if name in env},
            "run_uuid": launch.run.uuid,
            "store": self.settings.store,
            "store_class": store_class,
            "wakeup": str(wakeup_path(self.settings)),
            "run_as_user": self.run_as.name if self.run_as is not None else None,
            "handed_over": [str(path) for path in handed],
            "init": [self._init_record(launch, step) for step in launch.init],
            "service": service,
        })
        handle["spawned_pid"] = self._start_runner(
            control, env, store_class.partition(":")[0],
            [self._init_environment(launch, index) for index in range(len(launch.init))])
        return handle

    def _start_runner(self, control: Path, environment: Mapping[str, str], preload: str,
                      init_environments: Sequence[Mapping[str, str]]) -> int:
        """Start the runner of the attempt in ``control``; the pid of the process that owns
        it. The environments go to it through a pipe, never through a file."""
        return self._supervisor.start_runner(control, environment, preload=preload,
                                             init_environments=init_environments)

    @staticmethod
    def _service_handle(service: Mapping[str, Any]) -> dict[str, Any]:
        """Where the server's proxy reaches a service: its host, and the port it listens
        on for each declared one."""
        return {"host": service["host"],
                "ports": {str(declared): int(port)
                          for declared, port in zip(service["declared"], service["ports"], strict=True)}}

    @staticmethod
    def _init_record(launch: LaunchRequest, step: InitStep) -> dict[str, Any]:
        """What the runner needs of an initializer (no secret: see :meth:`_init_environment`)."""
        record: dict[str, Any] = {"kind": step.kind, "destination": step.destination,
                                  "value": dict(step.value),
                                  "sources": [list(pair) for pair in step.sources]}
        if step.container is not None:
            record["command"] = [*step.container.command, *step.container.args]
            working_dir = Path(step.container.working_dir or launch.run_path)
            record["working_dir"] = str(Path(launch.run_path) / working_dir)
            if not record["command"]:
                raise ValueError("an initializer's container has neither `command` nor `args`; "
                                 "nothing to run")
        return record

    def _init_environment(self, launch: LaunchRequest, index: int) -> dict[str, str]:
        """The environment of initializer ``index``: the basics, its own connection (its
        secret's files in ``<run folder>/.init-<n>``, removed when the step ends) and, for a
        container, its ``env`` and the run context; never the connections of the run."""
        step = launch.init[index]
        if step.kind not in {"git", "container"}:
            return {}  # written by the runner itself
        env = self._base_environment(launch)
        if step.container is not None:
            env.update(step.container.env)
            env.update(launch.env)
        if step.connection is not None:
            env.update(expose([step.connection], Path(launch.run_path) / f".init-{index + 1}"))
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        return env

    def _store_class(self) -> str:
        """``module:qualname`` of the store plugin selected by name, for the runner."""
        from polyaxon_core.interfaces.base import class_path
        from polyaxon_core.plugins import get_plugin_manager

        return class_path(get_plugin_manager().get("store", self.settings.store))

    def _environment(self, launch: LaunchRequest) -> dict[str, str]:
        """The run's environment: for a run of the embedded default, this process's own
        plus the run's; for a run on behalf of a server or as another user, only the
        basics (``PATH``, locale, ``HOME``) plus the run's."""
        env = self._base_environment(launch)
        env.update(launch.container.env)
        # the connections the run names, and only those: their secrets resolved now,
        # handed to the run through its environment (a pipe) or its private folder
        env.update(expose(launch.connections, Path(launch.run_path)))
        env.update(launch.env)
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def _base_environment(self, launch: LaunchRequest) -> dict[str, str]:
        if launch.isolated or self.run_as is not None:
            env = {name: os.environ[name] for name in INHERITED if name in os.environ}
            if self.run_as is not None:
                env.update(HOME=self.run_as.home, USER=self.run_as.name,
                           LOGNAME=self.run_as.name)
            return env
        return {name: value for name, value in os.environ.items()
                if not is_connection_variable(name)}

    def poll(self, run: RunEntity, handle: Mapping[str, Any]) -> StatusUpdate:
        control = Path(handle["control_dir"])
        stopping = run.status == "stopping"
        result = read_json(control / runner.EXIT_FILE)
        if isinstance(result, dict):
            return self._final_update(run, result, stopping)
        info = _runner_pid(control)
        if info is not None and info.get("error"):  # the runner could not write exit.json
            return StatusUpdate(run.uuid, "failed", reason="storage error", message=str(info["error"]))
        if info is not None and _owns_attempt(control, info):
            if stopping:
                return StatusUpdate(run.uuid, "stopping")
            if handle.get("service") and not (control / runner.READY_FILE).exists():
                return StatusUpdate(run.uuid, "starting")  # running once its port answers
            return StatusUpdate(run.uuid, "running")
        if info is None:
            spawned = handle.get("spawned_pid")
            if spawned is not None and is_alive(int(spawned), None):
                return StatusUpdate(run.uuid, "starting" if not stopping else "stopping")
        # the runner is gone without writing its result; read again in case it just finished
        result = read_json(control / runner.EXIT_FILE)
        if isinstance(result, dict):
            return self._final_update(run, result, stopping)
        if stopping:
            return StatusUpdate(run.uuid, "stopped", reason="killed",
                                message="the run's processes were killed after the grace period")
        return StatusUpdate(run.uuid, "failed", reason="lost",
                            message="the run's process exited without reporting a result "
                                    "(killed from outside, or the machine restarted)")

    @staticmethod
    def _final_update(run: RunEntity, result: Mapping[str, Any], stopping: bool) -> StatusUpdate:
        code = int(result.get("exit_code", 1))
        if result.get("error"):
            return StatusUpdate(run.uuid, "failed", reason=str(result.get("reason") or "launch error"),
                                message=str(result["error"]), exit_code=code)
        if result.get("terminated") or (stopping and code != 0):
            return StatusUpdate(run.uuid, "stopped", reason="stopped", exit_code=code)
        if code == 0:
            return StatusUpdate(run.uuid, "succeeded", exit_code=0)
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
            return StatusUpdate(run.uuid, "failed", reason="signal",
                                message=f"the process was killed by {name}", exit_code=code)
        return StatusUpdate(run.uuid, "failed", reason="exit code",
                            message=f"the process exited with code {code}", exit_code=code)

    def stop(self, run: RunEntity, handle: Mapping[str, Any], force: bool) -> None:
        stop_attempt(Path(handle["control_dir"]), force)


def stop_attempt(control: Path, force: bool) -> None:
    """Stop the attempt whose control folder is ``control``: SIGTERM, or SIGKILL with
    ``force``, to the process group of what it runs, said first in its ``stop.json`` so
    that a process its runner starts from now on is signalled too."""
    number = signal.SIGKILL if force else signal.SIGTERM
    write_json_atomically(control / runner.STOP_FILE, {"signal": int(number)})
    info = _runner_pid(control)
    if info is None or not _owns_attempt(control, info):
        return
    # a runner's processes run in groups of their own, the one running now is signalled
    # (none yet: the runner signals the first itself)
    group = info.get("group")
    if group is None:
        return
    try:
        os.killpg(int(group), number)
    except ProcessLookupError:
        return


def _runner_pid(control: Path) -> dict[str, Any] | None:
    info = read_json(control / runner.PID_FILE)
    return info if isinstance(info, dict) else None


def _owns_attempt(control: Path, info: Mapping[str, Any]) -> bool:
    """Whether the runner ``info`` (its ``runner.pid``) still owns its attempt: the process
    it is a thread of runs, and the attempt's lock is held."""
    return is_alive(int(info["pid"]), info.get("start_time")) and _lock_held(control / runner.LOCK_FILE)


def _lock_held(path: Path) -> bool:
    """Whether some process holds the ``flock`` of ``path`` (an attempt's lock, taken by
    its runner for as long as it owns the attempt)."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)  # a lock taken here is let go with it
    return False


@hookimpl
def polyaxon_register_schedulers() -> list[type[Scheduler]]:
    return [LocalScheduler]
