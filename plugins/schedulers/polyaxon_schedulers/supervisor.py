"""The process that owns the local scheduler's runs: each attempt in a thread of its own.

Owning an attempt (starting its command, copying its output into the run's log, serving
its tracking calls, writing its exit code: :func:`polyaxon_schedulers.runner.run`) costs a
few milliseconds of Python. Done in a process of its own per run, forked from a process
that loaded the database layer, it also cost the fork of that process, the copy-on-write
faults of the runner's first steps and the end of a process that maps it: more than the
runner's own work, paid by every run, much of it between one operation's end and the next
one's start. The local scheduler starts this supervisor once instead; it imports what
runners need (:func:`polyaxon_core.tracking.relay.warm`) and runs each attempt it is
handed in a thread, whose command starts in a session of its own (what a stop signals:
see :mod:`polyaxon_schedulers.runner`).

The supervisor runs in a session of its own, so signals meant for the orchestrator's
terminal or process group do not reach it; it takes no more runs once its stdin closes
(the scheduler's process ended, whichever way) and leaves when the last of its runs has
ended: the runs outlive the orchestrator, and report their end to the next one. Asked to
end (SIGTERM, SIGINT: a machine shutting down, an administrator), it passes the signal on
to each of its runs, which end ``stopped`` as a runner of its own process did, and takes
no more runs (the scheduler starts another for the next one). Killed outright, it takes
the supervision of its runs with it: their commands go on, and each run is reported
``lost`` (its attempt's lock is free and it wrote no exit code).

Protocol, one JSON object per line: the scheduler writes ``{"control_dir", "environment"
(the command's), "init_environments" (one per initializer of the run), "preload" (a module
to import once, so that every run after the first finds it loaded)}`` to stdin; the
supervisor answers ``{"pid": N}`` (its own pid, which the run's handle keeps) or
``{"error": "..."}`` on stdout, as soon as it has read the request: the attempt's thread
starts after the answer, while the scheduler records the launch (one that cannot start
ends its attempt ``failed``, with the reason, as a runner's own failure does). A line the
scheduler did not finish (it was killed while writing it) starts nothing. The command's
environment (it holds the run's token) travels through the pipe only, never through a
file.

Usage: ``python -m polyaxon_schedulers.supervisor`` (started by
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
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, BinaryIO

from polyaxon_core.tracking import relay
from polyaxon_schedulers import runner


def _understood(request: Mapping[str, Any]) -> tuple[Path, dict[str, str], list[dict[str, str]]]:
    """The attempt's folder, its command's environment and its initializers', from
    ``request``; ValueError (or KeyError, TypeError) when it says none of them."""
    control = Path(str(request["control_dir"]))
    environment = dict(request["environment"])
    init_environments = [dict(each) for each in request.get("init_environments") or []]
    return control, environment, init_environments


def _start(control: Path, environment: Mapping[str, str],
           init_environments: Sequence[Mapping[str, str]]) -> None:
    """Own the attempt in ``control`` in a thread of its own (not a daemon: the process
    stays until it ends); an attempt whose thread cannot start ends with the reason."""
    try:
        threading.Thread(target=runner.supervise, args=(control, environment, init_environments),
                         name=f"run {control.parent.parent.name}").start()
    except RuntimeError as exc:  # the machine's limit of threads: the run fails, saying so
        runner.runner_failed(control, exc)


class _Ending(Exception):
    """The supervisor was asked to end: it takes no more runs."""


_ENDING = threading.Event()


def _end(signum: int, _frame: FrameType | None) -> None:
    runner.stop_supervised(signum)
    if not _ENDING.is_set():  # once: the process may be waiting for its runs already
        _ENDING.set()
        raise _Ending


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    """Start a run per request line until ``requests`` closes, or a signal asks this
    process to end; answers on ``answers``."""
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, _end)
    try:
        _serve(requests, answers)
    except _Ending:
        return  # the runs end, stopped; the process leaves after the last


def _serve(requests: BinaryIO, answers: BinaryIO) -> None:
    # what runs of the embedded default need to serve their tracking is loaded once here:
    # at once when the supervisor was started ahead of any run (the scheduler's
    # ``prepare``), else once the first run is on its way
    warm = not select.select([requests], [], [], 0)[0]
    if warm:
        relay.warm()
    for line in requests:
        attempt = None
        try:
            if not line.endswith(b"\n"):
                raise ValueError("the request was cut short")
            request = json.loads(line)
            if request.get("preload"):
                importlib.import_module(request["preload"])
            attempt = _understood(request)
            answer: dict[str, Any] = {"pid": os.getpid()}
        except Exception as exc:  # a bad request: said, and the next one served
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        try:
            # answered before the attempt's thread starts: the scheduler goes on while it
            # does (a thread that cannot start ends its attempt, which the scheduler sees)
            answers.write(json.dumps(answer).encode() + b"\n")
            answers.flush()
        except OSError:  # the scheduler is gone: its runs go on, no more come
            if attempt is not None:
                _start(*attempt)
            return
        if attempt is not None:
            _start(*attempt)
        if not warm and "pid" in answer:  # a run is on its way: what it may ask, now
            relay.warm()
            warm = True


class Supervisor:
    """The scheduler's side: starts the supervisor on the first request, and again when
    the one it had is gone (killed from outside)."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()  # one request and its answer at a time

    def start_runner(self, control_dir: Path, environment: Mapping[str, str],
                     preload: str | None = None,
                     init_environments: Sequence[Mapping[str, str]] = ()) -> int:
        """Have the attempt in ``control_dir`` run; the pid of the process that owns it.
        ``init_environments``: one per initializer of the run, in order."""
        request = json.dumps({
            "control_dir": str(control_dir), "environment": dict(environment),
            "init_environments": [dict(each) for each in init_environments], "preload": preload,
        }).encode() + b"\n"
        with self._lock:
            try:
                answer = self._ask(request)
            except (OSError, ValueError):  # the supervisor died: a new one, once
                self.close()
                answer = self._ask(request)
        if "error" in answer:
            raise RuntimeError(f"the local scheduler could not start the run: {answer['error']}")
        return int(answer["pid"])

    def start(self) -> subprocess.Popen[bytes]:
        """Start the supervisor unless it runs (it imports what runs need on its own,
        while this process goes on); the supervisor."""
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "polyaxon_schedulers.supervisor"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True,
                start_new_session=True)
        return self._process

    def _ask(self, request: bytes) -> dict[str, Any]:
        self.start()
        assert self._process is not None
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(request)
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise ValueError("the supervisor ended without answering")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        """Take no more runs to the supervisor; it leaves once its runs have ended (and is
        collected then, without waiting for it here)."""
        process, self._process = self._process, None
        if process is None:
            return
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
        threading.Thread(target=process.wait, name="polyaxon-supervisor-end", daemon=True).start()


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
