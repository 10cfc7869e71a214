"""A trial that continues another one starts with a copy of its artifacts, copied once."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import pytest

from polyaxon_core.config import Settings
from polyaxon_core.db.models import Run
from polyaxon_core.db.session import migrate, session_scope
from polyaxon_core.domain.commands import create_trial, submit_operation
from polyaxon_core.domain.projects import create_project
from polyaxon_core.domain.state import transition
from polyaxon_core.entities import LaunchRequest, RunEntity, StatusUpdate
from polyaxon_core.interfaces import Scheduler
from polyaxon_core.lifecycle import Status
from polyaxon_core.orchestrator.loop import Orchestrator
from polyaxon_core.plugins import create
from polyaxon_core.spec import read_polyaxonfile
from tests.sweeps.helpers import FILES

CHECKPOINT = "outputs/checkpoint/state.json"


class RecordingScheduler(Scheduler):
    """Starts nothing; records what each run's artifacts held when it was submitted."""

    name = "recording"

    def __init__(self, settings: Settings, store: Any) -> None:
        super().__init__(settings)
        self.store = store
        self.seen: list[tuple[str, bytes | None]] = []

    def submit(self, launch: LaunchRequest) -> Mapping[str, Any]:
        try:
            with self.store.open(launch.run.uuid, CHECKPOINT) as stream:
                self.seen.append((launch.run.uuid, stream.read()))
        except FileNotFoundError:
            self.seen.append((launch.run.uuid, None))
        return {"submitted": True}

    def poll(self, run: RunEntity, handle: Mapping[str, Any]) -> StatusUpdate:
        return StatusUpdate(run.uuid, Status.RUNNING.value)

    def stop(self, run: RunEntity, handle: Mapping[str, Any], force: bool) -> None:
        """Nothing runs, nothing to stop."""


@pytest.fixture
def orchestrator(polyaxon_settings: Settings) -> Orchestrator:
    migrate(polyaxon_settings.db_url)
    store = create("store", "local", polyaxon_settings)
    return Orchestrator(polyaxon_settings, scheduler=RecordingScheduler(polyaxon_settings, store),
                        store=store)


def _trials(settings: Settings, resumes: bool) -> tuple[int, str, str]:
    """A hyperband sweep with a finished trial and a trial promoted from it (queued)."""
    spec = read_polyaxonfile(FILES / "hyperband-small.yaml")
    with session_scope(settings.db_url) as session:
        project = create_project(session, "tests")
        sweep = submit_operation(session, project, spec, default_concurrency=2,
                                 context_path=str(FILES))
        source = create_trial(session, sweep, spec, {"x": 0.5, "epochs": 1}, {"index": 0})
        for status in (Status.SCHEDULED, Status.STARTING, Status.RUNNING, Status.SUCCEEDED):
            transition(session, source, status)
        meta: dict[str, Any] = {"index": 9, "rung": 1}
        if resumes:
            meta["resume_from"] = source.uuid
        target = create_trial(session, sweep, spec, {"x": 0.5, "epochs": 3}, meta)
        return target.id, target.uuid, source.uuid


def test_the_copy_is_in_place_before_the_trial_is_submitted_and_never_repeated(
    orchestrator: Orchestrator, polyaxon_settings: Settings
) -> None:
    target_id, target, source = _trials(polyaxon_settings, resumes=True)
    orchestrator.store.put_stream(source, io.BytesIO(b"epochs: 1"), CHECKPOINT)
    orchestrator.schedule()
    scheduler = orchestrator.scheduler
    assert isinstance(scheduler, RecordingScheduler)
    assert scheduler.seen == [(target, b"epochs: 1")]
    with session_scope(polyaxon_settings.db_url) as session:
        run = session.get(Run, target_id)
        assert run is not None and run.status == Status.STARTING.value
        assert run.meta_info["resumed_artifacts_of"] == source
        # the trial writes its own checkpoint, fails, and is retried
        orchestrator.store.put_stream(target, io.BytesIO(b"epochs: 3"), CHECKPOINT)
        for status in (Status.RUNNING, Status.RETRYING, Status.QUEUED):
            transition(session, run, status)
    orchestrator.schedule()
    assert scheduler.seen[-1] == (target, b"epochs: 3")


def test_a_trial_that_resumes_nothing_gets_no_artifacts(
    orchestrator: Orchestrator, polyaxon_settings: Settings
) -> None:
    _, target, source = _trials(polyaxon_settings, resumes=False)
    orchestrator.store.put_stream(source, io.BytesIO(b"epochs: 1"), CHECKPOINT)
    orchestrator.schedule()
    scheduler = orchestrator.scheduler
    assert isinstance(scheduler, RecordingScheduler)
    assert scheduler.seen == [(target, None)]


def test_artifacts_that_cannot_be_copied_fail_the_trial_with_the_reason(
    orchestrator: Orchestrator, polyaxon_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    target_id, _, source = _trials(polyaxon_settings, resumes=True)
    orchestrator.store.put_stream(source, io.BytesIO(b"epochs: 1"), CHECKPOINT)

    def unreadable(run_uuid: str, path: str) -> Any:
        raise PermissionError(f"{path} is not readable")

    monkeypatch.setattr(orchestrator.store, "open", unreadable)
    orchestrator.schedule()
    scheduler = orchestrator.scheduler
    assert isinstance(scheduler, RecordingScheduler)
    assert scheduler.seen == []
    with session_scope(polyaxon_settings.db_url) as session:
        run = session.get(Run, target_id)
        assert run is not None and run.status == Status.FAILED.value
        condition = run.conditions[-1]
        assert condition.reason == "launch failed"
        assert "could not copy the artifacts of the run it resumes" in (condition.message or "")


def test_a_trial_never_continues_a_run_outside_its_sweep(
    orchestrator: Orchestrator, polyaxon_settings: Settings
) -> None:
    target_id, target, _ = _trials(polyaxon_settings, resumes=False)
    with session_scope(polyaxon_settings.db_url) as session:
        elsewhere = Run(project=create_project(session, "elsewhere"), kind="job", runtime="job")
        session.add(elsewhere)
        session.flush()
        outsider = elsewhere.uuid
        run = session.get(Run, target_id)
        assert run is not None
        # what a PATCH of meta_info through the API could write
        run.meta_info = {**run.meta_info, "matrix": {**run.meta_info["matrix"], "resume_from": outsider}}
    orchestrator.store.put_stream(outsider, io.BytesIO(b"secret"), CHECKPOINT)
    orchestrator.schedule()
    assert not orchestrator.store.list(target, "outputs")
    with session_scope(polyaxon_settings.db_url) as session:
        run = session.get(Run, target_id)
        assert run is not None and run.status == Status.FAILED.value
        assert "is not a trial of the same sweep" in (run.conditions[-1].message or "")
