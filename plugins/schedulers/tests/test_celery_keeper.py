"""The keeper of a Celery pool process's runs: what it kills when the pool process dies."""

from __future__ import annotations

import logging
import os
import signal
import subprocess

import pytest
from polyaxon_schedulers.celery.worker import Keeper


def _sleeper() -> subprocess.Popen[bytes]:
    """A process in a group of its own, as a runner starts an attempt's command."""
    return subprocess.Popen(["sleep", "600"], start_new_session=True)


def test_the_groups_still_running_are_killed_when_the_pool_process_goes_and_the_ended_are_not() -> None:
    keeper = Keeper()
    running, ended = _sleeper(), _sleeper()
    try:
        keeper.watch(running.pid)
        keeper.watch(ended.pid)
        keeper.forget(ended.pid)
        # the pool process's end, as the keeper sees it: its end of the pipe closes
        os.close(keeper._write)
        assert running.wait(30) == -signal.SIGKILL
        # the keeper has left (only once it has signalled what it keeps)
        assert os.waitpid(keeper.pid, 0)[1] == 0
        assert ended.poll() is None
    finally:
        for process in (running, ended):
            if process.poll() is None:
                process.kill()
                process.wait()


def test_a_keeper_that_is_gone_does_not_stop_the_runs_it_would_have_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    keeper = Keeper()
    os.kill(keeper.pid, signal.SIGKILL)
    os.waitpid(keeper.pid, 0)
    process = _sleeper()
    try:
        with caplog.at_level(logging.WARNING):
            keeper.watch(process.pid)
        assert process.poll() is None
        assert "keeper of this pool process's runs is gone" in caplog.text
    finally:
        process.kill()
        process.wait()
        os.close(keeper._write)
