"""Fixtures for tests that drive real runs through the `polyaxon` executable."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import stop_background_orchestrator

FILES = Path(__file__).parent / "files"
POLYAXON = str(Path(sys.executable).parent / "polyaxon")

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def home(polyaxon_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An isolated home whose background orchestrator is stopped after the test."""
    monkeypatch.setenv("POLYAXON_IDLE_EXIT", "10")
    monkeypatch.setenv("POLYAXON_PROJECT", "tests")
    yield polyaxon_home
    stop_background_orchestrator(polyaxon_home)


@pytest.fixture
def cli(home: Path) -> Cli:
    def run(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([POLYAXON, *args], capture_output=True, text=True,
                                timeout=timeout, env=os.environ.copy())
        if check and result.returncode != 0:
            raise AssertionError(
                f"polyaxon {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    run("project", "create", "tests")
    return run


def run_state(uuid: str) -> dict[str, Any]:
    from polyaxon_core.config import load_settings
    from polyaxon_core.db.session import session_scope
    from polyaxon_core.domain.listing import get_run, run_document

    with session_scope(load_settings().db_url) as session:
        run = get_run(session, uuid)
        data = run_document(run)
        data["conditions"] = [(c.status, c.reason, c.message) for c in run.conditions]
        data["children"] = [
            {"uuid": c.uuid, "status": c.status, "matrix_index": c.matrix_index,
             "inputs": dict(c.inputs), "retries": c.retries}
            for c in run.children
        ]
        return data


def wait_for(uuid: str, predicate: Callable[[dict[str, Any]], bool], timeout: float = 120) -> dict[str, Any]:
    """Poll the run's row until ``predicate`` holds (bounded; not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        state = run_state(uuid)
        if predicate(state):
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"run {uuid} never satisfied the condition; last state: {state}")
        time.sleep(0.1)


def wait_final(uuid: str, timeout: float = 120) -> dict[str, Any]:
    from polyaxon_core.lifecycle import is_final

    return wait_for(uuid, lambda state: is_final(state["status"]), timeout)
