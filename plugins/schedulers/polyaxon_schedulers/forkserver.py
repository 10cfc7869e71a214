"""A warm process that forks the local scheduler's runners.

Starting a runner as a new interpreter costs the interpreter's start and the runner's
imports, about 80 ms a run, more than a short command itself takes: a DAG of a hundred
quick steps would spend most of its time starting Python. The local scheduler starts
this server once instead; it imports the runner and what the runner needs, then forks a
runner per request in a couple of milliseconds. It forks the next runner as soon as it
has answered a request (a *spare*, waiting on a pipe of its own), so that a request only
hands the spare its request: the fork is paid while nothing waits for it.

The server is single-threaded (forking a process with threads can copy a held lock),
and it runs nothing but the request loop. Each forked runner starts a session of its
own, takes the environment and working directory the scheduler sends, resets the
server's signal handling and writes into its attempt's ``runner.log``: it is then the
same detached runner a new interpreter would have been, and it outlives the server and
the orchestrator alike.

Protocol, one JSON object per line: the scheduler writes ``{"control_dir", "environment"
(the command's), "init_environments" (one per initializer of the run),
"process_environment" (the runner's own), "cwd", "preload" (a module to import once in
the server, so that every runner after the first finds it loaded)}``
to stdin; the server answers ``{"pid": N}`` (or ``{"error": "..."}``) on stdout. The
command's environment (it holds the run's token) travels through the pipe only, never
through a file. The server leaves when its stdin closes: when the scheduler's process
ends, whichever way.

Usage: ``python -m polyaxon_schedulers.forkserver`` (started by
:class:`~polyaxon_schedulers.local.LocalScheduler`).
"""

from __future__ import annotations

import importlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, BinaryIO, NoReturn

from polyaxon_core.tracking import relay
from polyaxon_schedulers import runner

#: the signals whose handling a runner must not inherit from the server
RESET_SIGNALS = (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGPIPE)


def _reap(_signum: int = 0, _frame: FrameType | None = None) -> None:
    """Collect the runners that ended, so that none lingers as a zombie."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _runner(request: dict[str, Any]) -> int:
    """In the forked child: become a detached runner and own the attempt. The server's
    pipes are its stdin and stdout, which the runner's own replace."""
    for number in RESET_SIGNALS:
        signal.signal(number, signal.SIG_DFL)
    os.setsid()
    control = Path(request["control_dir"])
    null = os.open(os.devnull, os.O_RDONLY)
    log = os.open(control / "runner.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)
    os.environ.clear()
    os.environ.update(request["process_environment"])
    os.chdir(request["cwd"])
    return runner.run(control, request["environment"], request.get("init_environments") or [])


def _child(request: dict[str, Any] | None = None, channel: int | None = None) -> NoReturn:
    """The forked child's whole life: the runner of ``request`` (or of the one read from
    ``channel``, a spare's pipe: none when it closes empty), then its exit."""
    code = 1
    try:
        if channel is not None:
            with os.fdopen(channel, "rb") as readable:
                line = readable.readline()
            request = json.loads(line) if line else None
        code = _runner(request) if request is not None else 0
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _fork_spare() -> tuple[int, int]:
    """Fork a runner ahead of its request: it waits for the request on a pipe of its own
    (and leaves when that pipe closes without one: the server left). Its pid, and the
    pipe's end the server writes the request to."""
    readable, writable = os.pipe()
    pid = os.fork()
    if pid != 0:
        os.close(readable)
        return pid, writable
    os.close(writable)
    # the server's pipes are never held by a spare: the scheduler sees the server's end
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    _child(channel=readable)


def _hand_over(spare: tuple[int, int], line: bytes) -> int | None:
    """Give ``line`` (a request) to the spare runner; its pid, or None if it is gone."""
    pid, writable = spare
    try:
        with os.fdopen(writable, "wb") as channel:
            channel.write(line if line.endswith(b"\n") else line + b"\n")
    except OSError:  # killed from outside while it waited
        return None
    return pid


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    signal.signal(signal.SIGCHLD, _reap)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is for the orchestrator
    # what runners of the embedded default load to serve their runs' tracking
    # (:mod:`polyaxon_core.tracking.relay`) is loaded once here instead of once per run:
    # at once when the server was started ahead of any run (the scheduler's
    # ``prepare``), else once the first runner is on its way
    warm = not select.select([requests], [], [], 0)[0]
    if warm:
        relay.warm()
    spare: tuple[int, int] | None = None
    for line in requests:
        try:
            request = json.loads(line)
            if request.get("preload"):
                importlib.import_module(request["preload"])
            pid = _hand_over(spare, line) if spare is not None else None
            spare = None
            if pid is None:
                pid = os.fork()
                if pid == 0:
                    _child(request)
        except Exception as exc:  # a bad request or a failed fork: said, and the next one served
            answers.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode() + b"\n")
            answers.flush()
            continue
        answers.write(json.dumps({"pid": pid}).encode() + b"\n")
        answers.flush()
        if not warm:
            relay.warm()
            warm = True
        # the next runner is forked now, while nothing waits on it: a fork of this warm
        # process takes milliseconds, which the next request then does not wait for
        try:
            spare = _fork_spare()
        except OSError:  # no process to spare now: the next request forks its own
            spare = None


class ForkServer:
    """The scheduler's side: starts the server on the first request, and again when the
    one it had is gone (killed from outside)."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()  # one request and its answer at a time

    def start_runner(self, control_dir: Path, environment: Mapping[str, str],
                     preload: str | None = None,
                     init_environments: Sequence[Mapping[str, str]] = ()) -> int:
        """Fork a runner for the attempt in ``control_dir``; its pid. ``init_environments``:
        one per initializer of the run, in order."""
        request = json.dumps({
            "control_dir": str(control_dir), "environment": dict(environment),
            "init_environments": [dict(each) for each in init_environments],
            "process_environment": dict(os.environ), "cwd": os.getcwd(), "preload": preload,
        }).encode() + b"\n"
        with self._lock:
            try:
                answer = self._ask(request)
            except (OSError, ValueError):  # the server died: a new one, once
                self.close()
                answer = self._ask(request)
        if "error" in answer:
            raise RuntimeError(f"the local scheduler could not start the run's runner: {answer['error']}")
        return int(answer["pid"])

    def start(self) -> subprocess.Popen[bytes]:
        """Start the server unless it runs (it imports what runners need on its own,
        while this process goes on); the server."""
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "polyaxon_schedulers.forkserver"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True)
        return self._process

    def _ask(self, request: bytes) -> dict[str, Any]:
        self.start()
        assert self._process is not None
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(request)
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise ValueError("the fork server ended without answering")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        """End the server (its runners go on)."""
        process, self._process = self._process, None
        if process is None:
            return
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
        process.wait()


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
