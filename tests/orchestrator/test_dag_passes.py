"""What one pass of the orchestrator does with a DAG: started, its first operations are
launched in that same pass, not a poll interval later."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select

from polyaxon_core.config import Settings
from polyaxon_core.db.models import Run
from polyaxon_core.db.session import migrate, session_scope
from polyaxon_core.domain.commands import submit_operation
from polyaxon_core.domain.projects import create_project
from polyaxon_core.entities import LaunchRequest, RunEntity, StatusUpdate
from polyaxon_core.interfaces import Scheduler
from polyaxon_core.lifecycle import Status
from polyaxon_core.orchestrator.loop import Orchestrator
from polyaxon_core.plugins import create
from polyaxon_core.spec import read_polyaxonfile

DAG = """
version: 1.1
kind: component
name: two-steps
run:
  kind: dag
  components:
    - name: step
      run: {kind: job, container: {image: python:3.11-slim, command: [python, -c, pass]}}
  operations:
    - {name: first, dagRef: step}
    - {name: second, dagRef: step, dependencies: [first]}
"""


class RecordingScheduler(Scheduler):
    """Starts nothing; records the operations it was handed, in order."""

    name = "recording"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.submitted: list[str] = []

    def submit(self, launch: LaunchRequest) -> Mapping[str, Any]:
        self.submitted.append(str(launch.run.meta_info["operation"]))
        return {"submitted": True}

    def poll(self, run: RunEntity, handle: Mapping[str, Any]) -> StatusUpdate:
        return StatusUpdate(run.uuid, Status.RUNNING.value)

    def stop(self, run: RunEntity, handle: Mapping[str, Any], force: bool) -> None:
        """Nothing runs, nothing to stop."""


def _submitted_dag(settings: Settings, tmp_path: Path, scheduler: Scheduler) -> tuple[Orchestrator, int]:
    """An orchestrator with ``scheduler``, and the id of the two-step DAG submitted to it."""
    migrate(settings.db_url)
    orchestrator = Orchestrator(settings, scheduler=scheduler, store=create("store", "local", settings))
    path = tmp_path / "dag.yaml"
    path.write_text(DAG)
    with session_scope(settings.db_url) as session:
        dag = submit_operation(session, create_project(session, "tests"), read_polyaxonfile(path),
                               default_concurrency=2, context_path=str(tmp_path))
        return orchestrator, dag.id


def test_a_dag_started_in_a_pass_has_its_first_operations_launched_in_that_pass(
    polyaxon_settings: Settings, tmp_path: Path
) -> None:
    scheduler = RecordingScheduler(polyaxon_settings)
    orchestrator, dag_id = _submitted_dag(polyaxon_settings, tmp_path, scheduler)
    orchestrator.tick()
    assert scheduler.submitted == ["first"]
    with session_scope(polyaxon_settings.db_url) as session:
        statuses = dict(session.execute(select(Run.name, Run.status).where(Run.pipeline_id == dag_id)).all())
        assert session.get(Run, dag_id).status == Status.RUNNING.value  # type: ignore[union-attr]
    assert statuses == {"first": Status.STARTING.value, "second": Status.COMPILED.value}


SWEEP_DAG = """
version: 1.1
kind: component
name: a-search
run:
  kind: dag
  components:
    - name: trial
      inputs: [{name: x, type: float}]
      run: {kind: job, container: {image: python:3.11-slim, command: [python, -c, pass]}}
  operations:
    - name: search
      dagRef: trial
      matrix:
        kind: grid
        concurrency: 2
        params: {x: {kind: choice, value: [1.0, 2.0, 3.0]}}
"""


class KindRecordingScheduler(RecordingScheduler):
    """Records the kind of each run it was handed, and the index of each trial."""

    def submit(self, launch: LaunchRequest) -> Mapping[str, Any]:
        self.submitted.append(f"{launch.run.kind} {launch.run.meta_info['matrix']['index']}")
        return {"submitted": True}


def test_a_sweep_a_dag_queues_in_a_pass_has_its_first_trials_launched_in_that_pass(
    polyaxon_settings: Settings, tmp_path: Path
) -> None:
    """The pass reads which sweeps to drive before the DAGs queue theirs: it reads again
    when a DAG queued one, rather than leave it to the next pass."""
    migrate(polyaxon_settings.db_url)
    scheduler = KindRecordingScheduler(polyaxon_settings)
    orchestrator = Orchestrator(polyaxon_settings, scheduler=scheduler,
                                store=create("store", "local", polyaxon_settings))
    path = tmp_path / "dag.yaml"
    path.write_text(SWEEP_DAG)
    with session_scope(polyaxon_settings.db_url) as session:
        submit_operation(session, create_project(session, "tests"), read_polyaxonfile(path),
                         default_concurrency=4, context_path=str(tmp_path))
    orchestrator.tick()
    assert scheduler.submitted == ["job 0", "job 1"]  # the sweep's concurrency
    with session_scope(polyaxon_settings.db_url) as session:
        sweep = session.scalar(select(Run).where(Run.kind == "matrix"))
        assert sweep is not None and sweep.status == Status.RUNNING.value


class UnpreparedScheduler(RecordingScheduler):
    """Cannot get ready ahead of its runs (what a scheduler whose backend is down at the
    orchestrator's start does)."""

    def prepare(self) -> None:
        raise OSError("no process can be started now")


def test_a_scheduler_that_cannot_prepare_does_not_stop_the_orchestrator(
    polyaxon_settings: Settings, tmp_path: Path, caplog: Any
) -> None:
    scheduler = UnpreparedScheduler(polyaxon_settings)
    orchestrator, _ = _submitted_dag(polyaxon_settings, tmp_path, scheduler)
    orchestrator.run_forever(lambda: scheduler.submitted == ["first"])
    assert "could not get ready ahead of its runs: no process can be started now" in caplog.text


def test_runs_left_claimed_are_looked_for_once_a_poll_interval_not_in_every_pass(
    polyaxon_settings: Settings, tmp_path: Path
) -> None:
    """A run claimed by an orchestrator that died before starting it is started by the
    next pass that acts on time; the passes the wake-ups of a busy DAG start between two
    of those do not look for such runs."""
    from dataclasses import replace

    from polyaxon_core.domain.state import transition

    settings = replace(polyaxon_settings, poll_interval=3600.0)
    scheduler = RecordingScheduler(settings)
    orchestrator, dag_id = _submitted_dag(settings, tmp_path, scheduler)
    orchestrator.tick()  # the first pass acts on time too: the next one is an hour away
    with session_scope(settings.db_url) as session:
        second = session.scalar(select(Run).where(Run.pipeline_id == dag_id, Run.name == "second"))
        assert second is not None
        # claimed, as a replica that died at once after its claim left it
        assert transition(session, second, Status.QUEUED)
        assert transition(session, second, Status.SCHEDULED)
        second_id = second.id
    orchestrator.tick()  # a pass a wake-up started
    assert scheduler.submitted == ["first"]
    Orchestrator(settings, scheduler=scheduler, store=orchestrator.store).tick()  # a replica's first pass
    assert scheduler.submitted == ["first", "second"]
    with session_scope(settings.db_url) as session:
        assert session.get(Run, second_id).status == Status.STARTING.value  # type: ignore[union-attr]


def test_what_the_first_pass_loaded_is_left_out_of_the_garbage_collectors_walks_once(
    polyaxon_settings: Settings, tmp_path: Path, monkeypatch: Any
) -> None:
    """The orchestrator hands what it keeps for its life to the permanent generation after
    its first pass (its plugins, mappers and statements are loaded by then), and only
    then: later passes allocate what the collector must still see."""
    from polyaxon_core.orchestrator import loop

    scheduler = RecordingScheduler(polyaxon_settings)
    orchestrator, _ = _submitted_dag(polyaxon_settings, tmp_path, scheduler)
    passes: list[int] = []
    frozen_after: list[int] = []
    monkeypatch.setattr(loop, "freeze_long_lived", lambda: frozen_after.append(len(passes)))
    tick = orchestrator.tick
    monkeypatch.setattr(orchestrator, "tick", lambda: (passes.append(1), tick())[1])
    orchestrator.run_forever(lambda: len(passes) >= 3)
    assert frozen_after == [1]
    assert scheduler.submitted == ["first"]


class WorkersScheduler(RecordingScheduler):
    """Hands its runs to workers, which build their launch again where they run (what the
    Celery scheduler does); keeps the launches it was handed."""

    name = "workers"
    launches_on_workers = True

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.launches: list[LaunchRequest] = []

    def submit(self, launch: LaunchRequest) -> Mapping[str, Any]:
        self.launches.append(launch)
        return super().submit(launch)


def test_a_run_handed_to_workers_gets_its_launch_checked_but_no_folder_on_this_machine(
    polyaxon_settings: Settings, tmp_path: Path
) -> None:
    scheduler = WorkersScheduler(polyaxon_settings)
    orchestrator, _ = _submitted_dag(polyaxon_settings, tmp_path, scheduler)
    orchestrator.tick()
    (launch,) = scheduler.launches
    assert launch.container.command == ("python", "-c", "pass")
    assert "POLYAXON_AUTH_TOKEN" not in launch.env  # issued by the worker that takes it
    # the worker makes the run's folders on its machine
    assert not (polyaxon_settings.runs_path / launch.run.uuid).exists()
    with session_scope(polyaxon_settings.db_url) as session:
        run = session.scalar(select(Run).where(Run.uuid == launch.run.uuid))
        assert run is not None and run.status == Status.STARTING.value
