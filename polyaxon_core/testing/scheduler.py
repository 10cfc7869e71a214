"""Contract tests for scheduler plugins.

Subclass :class:`SchedulerContract` and provide two fixtures:

* ``scheduler`` — an instance of your scheduler;
* ``make_launch`` — a callable ``(script: str, env: dict[str, str] | None) -> LaunchRequest``
  that wraps a Python ``script`` into a launch your scheduler can run (for a local
  scheduler, ``[sys.executable, "-c", script]``; for a cluster, an image with Python).

The contract checks what the orchestrator relies on: exit codes become statuses, the run
context reaches the process, submitting the same attempt twice starts it once, a stop is
graceful first and forced after the grace period, and a *new* scheduler object (an
orchestrator restarted) can still poll and stop what an old one started.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from polyaxon_core.entities import LaunchRequest, StatusUpdate
from polyaxon_core.interfaces import Scheduler
from polyaxon_core.interfaces.scheduler import ActiveRun
from polyaxon_core.lifecycle import is_final

MakeLaunch = Callable[..., LaunchRequest]
T = TypeVar("T")


def wait_for_final(scheduler: Scheduler, launch: LaunchRequest, handle: Mapping[str, Any],
                   status: str = "running", timeout: float = 60.0) -> StatusUpdate:
    """Poll until the run is final (a bounded wait on a condition, not a fixed sleep)."""
    run = dataclasses.replace(launch.run, status=status)
    deadline = time.monotonic() + timeout
    while True:
        update = scheduler.poll(run, handle)
        if is_final(update.status):
            return update
        if time.monotonic() > deadline:
            raise AssertionError(f"run did not finish within {timeout}s; last: {update}")
        time.sleep(0.02)


def wait_until(predicate: Callable[[], T], timeout: float = 30.0, *, what: str = "the condition",
               step: Callable[[], object] | None = None) -> T:
    """Check ``predicate`` until it is truthy, for at most ``timeout`` seconds (a bounded
    wait for a condition, never a fixed sleep), and return its value. ``step`` runs before
    each check instead of the pause between checks (an orchestrator's pass)."""
    deadline = time.monotonic() + timeout
    while True:
        if step is not None:
            step()
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout:g}s")
        if step is None:
            time.sleep(0.02)


def start_long_run(scheduler: Scheduler, make_launch: MakeLaunch, folder: Path,
                   setup: str = "") -> tuple[LaunchRequest, Mapping[str, Any]]:
    """Submit a run that sleeps for two minutes; return once its process is running.

    ``setup`` is Python run first (e.g. installing a signal handler).
    """
    ready = folder / "ready"
    launch = make_launch(
        f"import os, signal, sys, time, pathlib\n{setup}"
        "pathlib.Path(os.environ['READY']).write_text('1')\n"
        "time.sleep(120)\n",
        {"READY": str(ready)},
    )
    handle = scheduler.submit(launch)
    wait_until(ready.exists)
    return launch, handle


class SchedulerContract:
    def test_registered_by_name_through_entry_points(self, scheduler: Scheduler) -> None:
        from polyaxon_core.plugins import build_plugin_manager

        assert build_plugin_manager().get("scheduler", scheduler.name) is type(scheduler)

    def test_exit_code_zero_succeeds(self, scheduler: Scheduler, make_launch: MakeLaunch) -> None:
        launch = make_launch("print('hello from the run')")
        update = wait_for_final(scheduler, launch, scheduler.submit(launch))
        assert update.status == "succeeded"

    def test_non_zero_exit_code_fails_with_it(self, scheduler: Scheduler,
                                              make_launch: MakeLaunch) -> None:
        launch = make_launch("import sys; sys.exit(3)")
        update = wait_for_final(scheduler, launch, scheduler.submit(launch))
        assert update.status == "failed"
        assert update.exit_code == 3

    def test_run_context_reaches_the_process(self, scheduler: Scheduler, make_launch: MakeLaunch,
                                             tmp_path: Path) -> None:
        marker = tmp_path / "context.txt"
        launch = make_launch(
            "import os, pathlib; pathlib.Path(os.environ['MARKER']).write_text("
            "os.environ['POLYAXON_RUN_UUID'])",
            {"MARKER": str(marker)},
        )
        assert wait_for_final(scheduler, launch, scheduler.submit(launch)).status == "succeeded"
        assert marker.read_text() == launch.run.uuid

    def test_submitting_the_same_attempt_twice_starts_it_once(
        self, scheduler: Scheduler, make_launch: MakeLaunch, tmp_path: Path
    ) -> None:
        counter = tmp_path / "starts.txt"
        launch = make_launch(
            "import os; open(os.environ['COUNTER'], 'a').write('x')", {"COUNTER": str(counter)}
        )
        first = scheduler.submit(launch)
        second = scheduler.submit(launch)
        assert wait_for_final(scheduler, launch, first).status == "succeeded"
        assert wait_for_final(scheduler, launch, second).status == "succeeded"
        assert counter.read_text() == "x"

    def test_stop_is_graceful_first(self, scheduler: Scheduler, make_launch: MakeLaunch,
                                    tmp_path: Path) -> None:
        ready, cleaned = tmp_path / "ready", tmp_path / "cleaned"
        launch = make_launch(
            "import os, signal, sys, time, pathlib\n"
            "def bye(*_):\n"
            "    pathlib.Path(os.environ['CLEANED']).write_text('yes'); sys.exit(0)\n"
            "signal.signal(signal.SIGTERM, bye)\n"
            "pathlib.Path(os.environ['READY']).write_text('1')\n"
            "time.sleep(120)\n",
            {"READY": str(ready), "CLEANED": str(cleaned)},
        )
        handle = scheduler.submit(launch)
        wait_until(ready.exists)
        stopping = dataclasses.replace(launch.run, status="stopping")
        scheduler.sync([ActiveRun(stopping, handle, stop_requested_at=scheduler.clock())])
        update = wait_for_final(scheduler, launch, handle, status="stopping")
        assert cleaned.read_text() == "yes"
        assert update.status == "stopped"

    def test_stop_is_forced_after_the_grace_period(
        self, scheduler: Scheduler, make_launch: MakeLaunch, tmp_path: Path
    ) -> None:
        launch, handle = start_long_run(scheduler, make_launch, tmp_path,
                                        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n")
        stopping = dataclasses.replace(launch.run, status="stopping")
        long_ago = scheduler.clock() - scheduler.settings.stop_grace_period - 1
        scheduler.sync([ActiveRun(stopping, handle, stop_requested_at=long_ago)])
        assert wait_for_final(scheduler, launch, handle, status="stopping").status == "stopped"

    def test_a_new_scheduler_object_can_poll_and_stop_earlier_runs(
        self, scheduler: Scheduler, make_launch: MakeLaunch, tmp_path: Path
    ) -> None:
        launch, handle = start_long_run(scheduler, make_launch, tmp_path)
        successor = type(scheduler)(scheduler.settings)
        running = dataclasses.replace(launch.run, status="running")
        assert successor.poll(running, handle).status == "running"
        successor.stop(running, handle, force=True)
        assert wait_for_final(successor, launch, handle, status="stopping").status == "stopped"
