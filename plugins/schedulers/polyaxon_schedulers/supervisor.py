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

Protocol, one JSON object per line, one way: the scheduler writes ``{"control_dir",
"environment" (the command's), "init_environments" (one per initializer of the run),
"preload" (a module to import once, so that every run after the first finds it loaded)}``
to stdin, and goes on; the run's handle keeps the supervisor's pid. Nothing is answered:
what the supervisor cannot do for a request that names its attempt (a module it cannot
preload, a thread the machine refuses) ends that attempt ``failed`` with the reason, as
a runner's own failure does, and the scheduler sees it as it sees any end. A line that
names no attempt (the scheduler was killed while writing it) starts nothing and is said on
stderr. The command's environment (it holds the run's token) travels through the pipe
only, never through a file.

Usage: ``python -m polyaxon_schedulers.supervisor`` (started by
:class:`~polyaxon_schedulers.local.LocalScheduler`).
"""

from __future__ import annotations

import importlib
import json
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from types import FrameType
from typing import Any, BinaryIO

from polyaxon_core.memory import freeze_long_lived
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


def serve(requests: BinaryIO) -> None:
    """Start a run per request line until ``requests`` closes, or a signal asks this
    process to end."""
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, _end)
    try:
        _serve(requests)
    except _Ending:
        return  # the runs end, stopped; the process leaves after the last


def _warm() -> None:
    """Load what runs need, and keep it out of the garbage collector's walks."""
    relay.warm()
    freeze_long_lived()


def _serve(requests: BinaryIO) -> None:
    # what runs of the embedded default need to serve their tracking is loaded once here:
    # at once when the supervisor was started ahead of any run (the scheduler's
    # ``prepare``), else once the first run is on its way
    warm = not select.select([requests], [], [], 0)[0]
    if warm:
        _warm()
    for line in requests:
        try:
            if not line.endswith(b"\n"):
                raise ValueError("the request was cut short")
            request = json.loads(line)
            attempt = _understood(request)
        except Exception as exc:  # names no attempt: nothing to start, nobody to tell but the log
            print(f"polyaxon supervisor: not a request ({type(exc).__name__}: {exc}); nothing "
                  "started", file=sys.stderr, flush=True)
            continue
        try:
            if request.get("preload"):
                importlib.import_module(request["preload"])
        except Exception as exc:  # the attempt ends, saying why
            runner.runner_failed(attempt[0], exc)
            continue
        _start(*attempt)
        if not warm:  # a run is on its way: what it may ask, now
            _warm()
            warm = True


class Supervisor:
    """The scheduler's side: starts the supervisor on the first request, and again when
    the one it had is gone (killed from outside)."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()  # one request at a time

    def start_runner(self, control_dir: Path, environment: Mapping[str, str],
                     preload: str | None = None,
                     init_environments: Sequence[Mapping[str, str]] = ()) -> int:
        """Have the attempt in ``control_dir`` run; the pid of the process that owns it.
        ``init_environments``: one per initializer of the run, in order. The request is
        written and not waited on: what the supervisor cannot do ends the attempt."""
        request = json.dumps({
            "control_dir": str(control_dir), "environment": dict(environment),
            "init_environments": [dict(each) for each in init_environments], "preload": preload,
        }).encode() + b"\n"
        with self._lock:
            try:
                return self._send(request)
            except OSError:  # the supervisor died: a new one, once
                self.close()
                return self._send(request)

    def start(self) -> subprocess.Popen[bytes]:
        """Start the supervisor unless it runs (it imports what runs need on its own,
        while this process goes on); the supervisor."""
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "polyaxon_schedulers.supervisor"],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, close_fds=True,
                start_new_session=True)
        return self._process

    def _send(self, request: bytes) -> int:
        process = self.start()
        assert process.stdin is not None
        process.stdin.write(request)
        process.stdin.flush()
        return process.pid

    def close(self) -> None:
        """Take no more runs to the supervisor; it leaves once its runs have ended (and is
        collected then, without waiting for it here)."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            with suppress(OSError):  # a dead supervisor's pipe: what was not written is dropped
                process.stdin.close()
        threading.Thread(target=process.wait, name="polyaxon-supervisor-end", daemon=True).start()


if __name__ == "__main__":
    serve(sys.stdin.buffer)
