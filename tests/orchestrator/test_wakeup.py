"""The orchestrator is woken by the events it waits for instead of waiting for its poll."""

from __future__ import annotations

import json
import select
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select as select_rows
from sqlalchemy.orm import Session

from polyaxon_core import wakeup
from polyaxon_core.config import load_settings
from polyaxon_core.db.session import session_scope
from polyaxon_core.testing.scheduler import wait_until
from polyaxon_core.wakeup import (
    DatabaseWakeups,
    WakeupChannel,
    notify,
    orchestrator_pass,
    wake,
    wake_after_commit,
    wake_if_marked,
    wakeup_path,
)
from tests.conftest import end_backend
from tests.orchestrator.conftest import FILES, Cli, wait_final


def test_a_wake_up_ends_the_wait_and_is_consumed(tmp_path: Path) -> None:
    path = tmp_path / "orchestrator.wakeup"
    with WakeupChannel(path) as channel:
        assert channel.listening
        assert channel.wait(0) is False
        wake(path)
        wake(path)  # two wake-ups before the wait: one pass handles both
        assert channel.wait(60) is True
        assert channel.wait(0) is False


def test_waking_nobody_is_harmless(tmp_path: Path) -> None:
    wake(tmp_path / "missing")  # no pipe at all
    path = tmp_path / "orchestrator.wakeup"
    WakeupChannel(path).close()  # a pipe nobody reads any more
    wake(path)


def test_without_a_named_pipe_the_channel_only_sleeps(tmp_path: Path) -> None:
    path = tmp_path / "orchestrator.wakeup"
    path.write_text("a regular file where the pipe should be")
    with WakeupChannel(path) as channel:
        assert not channel.listening
        wake(path)
        assert channel.wait(0) is False
    assert path.read_text() == "a regular file where the pipe should be"


def test_a_sweep_runs_trial_after_trial_without_waiting_for_the_poll(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # With a minute between polls, the six trials (one at a time) finish within the
    # timeout only if each trial's end wakes the orchestrator, and the pass that sees it
    # end also lets the sweep create the next trial and launches it.
    monkeypatch.setenv("POLYAXON_POLL_INTERVAL", "60")
    for name in ("task.yaml", "task.py"):
        shutil.copy(FILES / name, tmp_path / name)
    sweep = tmp_path / "grid.yaml"
    sweep.write_text((FILES / "grid.yaml").read_text().replace("concurrency: 2", "concurrency: 1"))
    uuid = json.loads(cli("run", "-f", str(sweep), "-o", "json").stdout)["uuid"]

    state = wait_final(uuid, timeout=45)
    assert state["status"] == "succeeded"
    assert sorted(child["inputs"]["x"] for child in state["children"]) == [1, 2, 3, 4, 5, 6]


def test_a_run_submitted_to_a_waiting_orchestrator_starts_at_once(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first run starts the orchestrator, which then waits a minute between polls: the
    # second run starts within the timeout only because its submission wakes it.
    monkeypatch.setenv("POLYAXON_POLL_INTERVAL", "60")
    monkeypatch.setenv("POLYAXON_IDLE_EXIT", "600")
    first = json.loads(cli("run", "-f", str(FILES / "task.yaml"), "-o", "json").stdout)["uuid"]
    assert wait_final(first, timeout=45)["status"] == "succeeded"

    second = json.loads(cli("run", "-f", str(FILES / "task.yaml"), "-P", "x=2", "-o", "json").stdout)["uuid"]
    assert wait_final(second, timeout=45)["status"] == "succeeded"


def test_only_a_marked_session_wakes_the_orchestrator(polyaxon_home: Path) -> None:
    settings = load_settings()
    assert wakeup_path(settings).parent == polyaxon_home
    with WakeupChannel(wakeup_path(settings)) as channel:
        session = Session()
        wake_if_marked(session, settings)
        assert channel.wait(0) is False
        wake_after_commit(session)
        wake_if_marked(session, settings)
        assert channel.wait(60) is True
        wake_if_marked(session, settings)  # the mark is consumed
        assert channel.wait(0) is False


def test_a_stopped_orchestrator_leaves_without_waiting_for_its_next_pass(
    home: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os
    import signal
    import subprocess
    import sys

    from polyaxon_core.orchestrator import OrchestratorLock
    from polyaxon_core.testing.scheduler import wait_until

    monkeypatch.setenv("POLYAXON_POLL_INTERVAL", "600")
    orchestrator = subprocess.Popen([sys.executable, "-m", "polyaxon_core.cli", "scheduler"],
                                    stderr=subprocess.PIPE, env=os.environ.copy())
    try:
        assert orchestrator.stderr is not None
        assert b"orchestrator started" in orchestrator.stderr.readline()
        lock = OrchestratorLock(load_settings())
        assert lock.is_held()
        # its loop listens once the channel exists: it is in a pass or waiting for the next
        wait_until(wakeup_path(load_settings()).is_fifo)
        orchestrator.send_signal(signal.SIGTERM)
        # well within the ten minutes its next pass is due in
        assert orchestrator.wait(timeout=60) == 0
        assert not lock.is_held()
    finally:
        if orchestrator.poll() is None:
            orchestrator.kill()
            orchestrator.wait()


def _listener_backends(url: str) -> list[int]:
    from sqlalchemy import create_engine, text

    admin = create_engine(url.replace("+psycopg://", "://"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            return list(connection.scalars(text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND query = 'LISTEN polyaxon_wakeup'")))
    finally:
        admin.dispose()


def _with_driver(url: str, driver: str) -> str:
    return url.replace("postgresql://", f"postgresql+{driver}://") if driver else url


def _readable(listener: DatabaseWakeups) -> None:
    """Wait (a minute at most) until a notification, or the connection's end, arrived."""
    descriptor = listener.fileno()
    assert descriptor is not None
    assert select.select([descriptor], [], [], 60)[0], "nothing arrived within a minute"


@pytest.mark.postgres
@pytest.mark.parametrize("driver", ["", "psycopg"])
def test_on_postgresql_a_commit_on_another_machine_wakes_the_orchestrator(
    postgres_database: str, tmp_path: Path, driver: str,
) -> None:
    # the orchestrator's named pipe is in its home; the submitting process has another
    # home (another machine): only the database can carry the wake-up
    url = _with_driver(postgres_database, driver)
    elsewhere = load_settings()
    with WakeupChannel(tmp_path / "orchestrator-home" / "orchestrator.wakeup", url) as channel, \
            WakeupChannel(wakeup_path(elsewhere)) as pipe_elsewhere:
        assert channel.wait(0) is False
        with session_scope(url) as session:
            wake_after_commit(session)
        wake_if_marked(session, elsewhere)
        assert pipe_elsewhere.wait(0) is False  # carried by the database: no pipe written
        assert channel.wait(60) is True
        assert channel.wait(0) is False


@pytest.mark.postgres
@pytest.mark.parametrize("driver", ["", "psycopg"])
def test_an_orchestrators_pass_wakes_nobody_and_a_lost_listener_listens_again(
    postgres_database: str, driver: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = _with_driver(postgres_database, driver)
    listener = DatabaseWakeups(url)
    try:
        assert listener.fileno() is not None  # listening from now on
        with orchestrator_pass(), session_scope(url) as session:
            wake_after_commit(session)
            assert notify(session) is False  # the pass acts on it itself
        with session_scope(url) as session:
            assert notify(session) is True
        _readable(listener)
        assert wakeup._received(listener._connection) == 1  # the second transaction's only

        # the server ends the listening connection: a pass at once (whatever was missed),
        # then a new connection, which hears what comes next
        monkeypatch.setattr(wakeup, "RELISTEN_SECONDS", 0.0)
        (backend,) = _listener_backends(url)
        end_backend(postgres_database, backend)
        _readable(listener)
        assert listener.drain() is True
        assert listener.fileno() is not None  # listening again
        with session_scope(url) as session:
            notify(session)
        _readable(listener)
        assert listener.drain() is True
        assert _listener_backends(url) not in ([], [backend])
    finally:
        listener.close()
    # the server ends the backend once it has read the client's goodbye, a moment later
    wait_until(lambda: _listener_backends(url) == [], 30, what="the listening connection to end")


def test_sqlite_carries_no_wake_up(polyaxon_home: Path) -> None:
    settings = load_settings()
    with WakeupChannel(wakeup_path(settings), settings.db_url) as channel:
        with session_scope(settings.db_url) as session:
            assert notify(session) is False
            wake_after_commit(session)
        wake_if_marked(session, settings)  # through the named pipe
        assert channel.wait(60) is True


def test_an_agents_report_of_a_runs_end_wakes_the_orchestrator(db_url: str, tmp_path: Path) -> None:
    from dataclasses import replace

    from polyaxon_core.db.models import Agent, Run
    from polyaxon_core.domain.agents import create_agent, report, scheduler_of
    from polyaxon_core.domain.projects import create_project
    from polyaxon_core.domain.state import transition

    # an agent in another cluster reports through the server: the server's scope wakes
    # the orchestrator when the run ended (through the database on PostgreSQL)
    server = replace(load_settings(), home=tmp_path, db_url=db_url)
    with session_scope(db_url) as session:
        project = create_project(session, "p")
        create_agent(session, "edge", "ns", None)
        run = Run(project=project, kind="job", runtime="job", scheduler=scheduler_of("edge"))
        session.add(run)
        session.flush()
        for status in ("compiled", "queued", "scheduled"):
            assert transition(session, run, status)
        assert transition(session, run, "starting", changes={"scheduler_handle": {"pod": "p-1"}})
        uuid = run.uuid
    with WakeupChannel(wakeup_path(server), db_url) as channel:
        for status, wakes in (("running", False), ("succeeded", True)):
            with session_scope(db_url) as session:
                agent = session.scalar(select_rows(Agent).where(Agent.name == "edge"))
                assert report(session, agent, uuid, {"status": status})["status"] == status
            wake_if_marked(session, server)
            assert channel.wait(60 if wakes else 0) is wakes
