"""Real server processes for the tests: start one, wait until it says where it listens,
stop it (and the orchestrator it started) afterwards."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent


def environment(home: Path, **overrides: str) -> dict[str, str]:
    """This process's environment without POLYAXON_* settings, with its own home."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("POLYAXON_")}
    env.update(POLYAXON_HOME=str(home), POLYAXON_POLL_INTERVAL="0.1", **overrides)
    return env


class Served:
    """A running server: its base URL and everything it printed so far."""

    def __init__(self, process: subprocess.Popen[str], url: str, output: list[str]) -> None:
        self.process = process
        self.url = url
        self.output = output

    def request(self, method: str, path: str, token: str | None = None,
                body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Token {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")


@contextmanager
def serving(command: list[str], env: Mapping[str, str], listening: str,
            timeout: float = 60) -> Iterator[Served]:
    """Run ``command`` until the block ends; ``listening`` is a regex whose group 1 is the
    base URL the server prints once it accepts connections."""
    process = subprocess.Popen(command, env=dict(env), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: queue.Queue[str] = queue.Queue()
    output: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + timeout
    url = None
    try:
        while url is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or process.poll() is not None and lines.empty():
                raise AssertionError(f"{command[0]} did not start:\n{''.join(output)}")
            try:
                line = lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            output.append(line)
            found = re.search(listening, line)
            url = found.group(1) if found else None
        served = Served(process, url, output)
        yield served
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        while not lines.empty():
            output.append(lines.get())


def stop_orchestrator(home: Path) -> None:
    """Stop the orchestrator a server started on demand in ``home``, if one runs."""
    from polyaxon_core.config import load_settings
    from polyaxon_core.orchestrator import OrchestratorLock

    previous = os.environ.get("POLYAXON_HOME")
    os.environ["POLYAXON_HOME"] = str(home)
    try:
        lock = OrchestratorLock(load_settings())
    finally:
        if previous is None:
            del os.environ["POLYAXON_HOME"]
        else:
            os.environ["POLYAXON_HOME"] = previous
    pid = lock.holder_pid()
    if pid and lock.is_held():
        os.kill(pid, signal.SIGTERM)


def stop_runs(home: Path) -> None:
    """Ask every run of ``home`` still running on this machine to stop, as the local
    scheduler does: the runs of the local scheduler outlive the server and the
    orchestrator by design, and a service runs until it is stopped."""
    from polyaxon_schedulers import runner
    from polyaxon_schedulers.local import stop_attempt

    for pid_file in home.glob(f"runs/*/.polyaxon/attempt-*/{runner.PID_FILE}"):
        if (pid_file.parent / runner.EXIT_FILE).exists():
            continue  # ended
        try:
            stop_attempt(pid_file.parent, force=False)
        except OSError:
            continue  # its folder went away meanwhile


#: the gunicorn worker class docs/api.md runs the API with in production
GUNICORN_WORKER = "polyaxon_core.api.gunicorn_worker.JsonErrorWorker"
