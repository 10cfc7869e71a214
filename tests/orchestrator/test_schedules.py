"""Schedules: which moments are due (cron by croniter, intervals, a datetime), the
controller firing them from the rows with a clock it is given (on SQLite and PostgreSQL),
and real firings through the CLI that survive a killed orchestrator."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from polyaxon_core.config import Settings
from polyaxon_core.db.models import Run
from polyaxon_core.db.session import session_scope
from polyaxon_core.domain.commands import request_stop, submit_operation
from polyaxon_core.domain.projects import create_project
from polyaxon_core.orchestrator.schedules import ScheduleController, due_moments, next_moment
from polyaxon_core.spec import parse_operation

from .conftest import Cli, run_state, wait_for

CREATED = datetime(2030, 1, 1, 0, 0, 30, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_cron_moments_come_from_croniter_after_the_start() -> None:
    schedule = {"kind": "cron", "cron": "*/15 * * * *"}

    assert due_moments(schedule, CREATED, None, at("2030-01-01T00:50:00")) == [
        at("2030-01-01T00:15:00"), at("2030-01-01T00:30:00"), at("2030-01-01T00:45:00")]
    assert next_moment(schedule, CREATED, at("2030-01-01T00:45:00")) == at("2030-01-01T01:00:00")


def test_interval_moments_start_at_start_at_then_every_frequency() -> None:
    schedule = {"kind": "interval", "frequency": "PT10M", "startAt": "2030-01-01T01:00:00Z"}

    assert due_moments(schedule, CREATED, None, at("2030-01-01T00:59:00")) == []
    assert due_moments(schedule, CREATED, None, at("2030-01-01T01:25:00")) == [
        at("2030-01-01T01:00:00"), at("2030-01-01T01:10:00"), at("2030-01-01T01:20:00")]
    assert next_moment(schedule, CREATED, at("2030-01-01T01:20:00")) == at("2030-01-01T01:30:00")


def test_a_datetime_schedule_has_one_moment() -> None:
    schedule = {"kind": "datetime", "startAt": "2030-01-01T02:00:00Z"}

    assert due_moments(schedule, CREATED, None, at("2030-01-01T03:00:00")) == [at("2030-01-01T02:00:00")]
    assert next_moment(schedule, CREATED, at("2030-01-01T02:00:00")) is None


def test_a_year_long_outage_of_a_one_second_interval_is_counted_without_a_loop_per_moment() -> None:
    schedule = {"kind": "interval", "frequency": 1}

    due = due_moments(schedule, CREATED, None, CREATED + timedelta(days=365), limit=10)

    assert len(due) == 10 and due[-1] == CREATED + timedelta(days=365)


# -- the controller, with a clock ------------------------------------------------------------

JOB = {"kind": "operation", "component": {"run": {"kind": "job", "container": {
    "image": "busybox", "command": ["true"]}}}}


class Schedules:
    """A schedule submitted into a database, fired by controllers with a clock we move."""

    def __init__(self, db_url: str, schedule: dict[str, Any]) -> None:
        self.db_url = db_url
        self.now = CREATED
        with session_scope(db_url) as session:
            project = create_project(session, "scheduled")
            run = submit_operation(session, project, parse_operation({**JOB, "schedule": schedule}),
                                   default_concurrency=2)
            run.created_at = CREATED
            self.uuid = run.uuid

    def tick(self, moment: str) -> None:
        """One pass of a new controller (as after a restart) at ``moment``."""
        self.now = at(moment)
        settings = Settings(home=Path("/nonexistent"), db_url=self.db_url, scheduler="local", store="local")
        ScheduleController(settings, clock=lambda: self.now.timestamp()).control_all(self.db_url)

    def state(self) -> tuple[str, list[dict[str, Any]]]:
        with session_scope(self.db_url) as session:
            run = session.query(Run).filter_by(uuid=self.uuid).one()
            firings = [{**child.meta_info["schedule"], "status": child.status,
                        "pipeline": child.pipeline_id == run.id}
                       for child in sorted(run.children, key=lambda child: child.matrix_index)]
            return run.status, firings

    def finish_last(self, status: str) -> None:
        from polyaxon_core.domain.state import transition

        with session_scope(self.db_url) as session:
            run = session.query(Run).filter_by(uuid=self.uuid).one()
            last = max(run.children, key=lambda child: child.matrix_index)
            for step in (["running", status] if status != "stopped" else [status]):
                transition(session, last, step)


@pytest.fixture
def schedules(db_url: str) -> Callable[[dict[str, Any]], Schedules]:
    return lambda schedule: Schedules(db_url, schedule)


def test_each_moment_fires_one_run_linked_to_the_schedule(
    schedules: Callable[[dict[str, Any]], Schedules]
) -> None:
    plan = schedules({"kind": "cron", "cron": "*/15 * * * *", "maxRuns": 2})
    assert plan.state() == ("on_schedule", [])

    plan.tick("2030-01-01T00:14:59")
    assert plan.state()[1] == []
    plan.tick("2030-01-01T00:15:01")
    plan.tick("2030-01-01T00:15:02")
    assert plan.state() == ("on_schedule", [
        {"index": 0, "at": "2030-01-01T00:15:00+00:00", "missed": 0, "status": "queued", "pipeline": True}])
    plan.tick("2030-01-01T00:30:00")

    status, firings = plan.state()
    assert status == "done"
    assert [(firing["index"], firing["at"]) for firing in firings] == [
        (0, "2030-01-01T00:15:00+00:00"), (1, "2030-01-01T00:30:00+00:00")]


def test_moments_missed_while_nothing_ran_are_caught_up_once(
    schedules: Callable[[dict[str, Any]], Schedules]
) -> None:
    plan = schedules({"kind": "cron", "cron": "*/15 * * * *"})
    plan.tick("2030-01-01T00:16:00")

    plan.tick("2030-01-01T02:05:00")  # the orchestrator was down for seven moments
    plan.tick("2030-01-01T02:06:00")

    firings = plan.state()[1]
    assert [(firing["at"], firing["missed"]) for firing in firings] == [
        ("2030-01-01T00:15:00+00:00", 0), ("2030-01-01T02:00:00+00:00", 6)]


def test_a_schedule_ends_at_end_at(schedules: Callable[[dict[str, Any]], Schedules]) -> None:
    plan = schedules({"kind": "interval", "frequency": 600, "endAt": "2030-01-01T00:15:00Z"})
    plan.tick("2030-01-01T00:01:00")
    plan.tick("2030-01-01T00:11:00")
    plan.tick("2030-01-01T00:21:00")

    status, firings = plan.state()
    assert status == "done"
    assert [firing["at"] for firing in firings] == ["2030-01-01T00:00:30+00:00", "2030-01-01T00:10:30+00:00"]


def test_depends_on_past_waits_for_the_previous_run_then_stops_on_its_failure(
    schedules: Callable[[dict[str, Any]], Schedules]
) -> None:
    plan = schedules({"kind": "interval", "frequency": 60, "dependsOnPast": True})
    plan.tick("2030-01-01T00:00:31")
    plan.tick("2030-01-01T00:05:00")
    assert len(plan.state()[1]) == 1  # the first run is still queued

    plan.finish_last("succeeded")
    plan.tick("2030-01-01T00:05:01")
    assert [firing["missed"] for firing in plan.state()[1]] == [0, 3]

    plan.finish_last("failed")
    plan.tick("2030-01-01T00:07:00")
    status, firings = plan.state()
    assert (status, len(firings)) == ("failed", 2)


def test_a_datetime_schedule_fires_once_then_is_done(
    schedules: Callable[[dict[str, Any]], Schedules]
) -> None:
    plan = schedules({"kind": "datetime", "startAt": "2030-01-01T01:00:00Z"})
    plan.tick("2030-01-01T00:59:00")
    plan.tick("2030-01-01T01:00:00")
    plan.tick("2030-01-01T01:30:00")

    status, firings = plan.state()
    assert (status, [firing["at"] for firing in firings]) == ("done", ["2030-01-01T01:00:00+00:00"])


def test_a_stopped_schedule_fires_no_more(db_url: str) -> None:
    plan = Schedules(db_url, {"kind": "interval", "frequency": 60})
    plan.tick("2030-01-01T00:00:31")
    with session_scope(db_url) as session:
        request_stop(session, session.query(Run).filter_by(uuid=plan.uuid).one())
    plan.tick("2030-01-01T00:10:00")

    status, firings = plan.state()
    assert (status, len(firings)) == ("stopped", 1)


# -- real firings -------------------------------------------------------------------------------

def test_an_interval_schedule_fires_real_runs_and_survives_a_killed_orchestrator(
    cli: Cli, tmp_path: Path
) -> None:
    from polyaxon_core.config import load_settings
    from polyaxon_core.orchestrator import OrchestratorLock, ensure_orchestrator

    record = tmp_path / "record"
    polyaxonfile = tmp_path / "every-second.yaml"
    step = Path(__file__).parent / "files" / "dag" / "step.yaml"
    polyaxonfile.write_text(f"""
version: 1.1
kind: operation
name: every-second
pathRef: {step}
params: {{record: "{record}"}}
schedule: {{kind: interval, frequency: 1, maxRuns: 4}}
""")
    (tmp_path / "step.py").write_text((step.parent / "step.py").read_text())
    uuid = json.loads(cli("run", "-f", str(polyaxonfile), "-o", "json").stdout)["uuid"]
    assert run_state(uuid)["status"] == "on_schedule"
    wait_for(uuid, lambda state: len(state["children"]) >= 2)

    lock = OrchestratorLock(load_settings())
    pid = lock.holder_pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_for(uuid, lambda _: not lock.is_held())
    assert ensure_orchestrator(load_settings()) is not None

    final = wait_for(uuid, lambda state: state["status"] == "done"
                     and all(child["status"] == "succeeded" for child in state["children"]))
    assert sorted(child["matrix_index"] for child in final["children"]) == [0, 1, 2, 3]
    starts = sorted(path.stem for path in record.glob("*.starts"))
    assert starts == sorted(child["uuid"] for child in final["children"])
    shown = json.loads(cli("ops", "ls", "-q", f"pipeline:{uuid}", "-o", "json").stdout)
    assert shown["count"] == 4
