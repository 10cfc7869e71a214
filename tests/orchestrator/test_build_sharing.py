"""Who starts a build, and who waits for it, on SQLite and PostgreSQL: the rows of the
``builds`` table as two orchestrators' passes see them. The builder is a recording test
double (the real ones are tested in tests/orchestrator/test_builds.py and
plugins/builders/tests/)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from polyaxon_core.config import Settings
from polyaxon_core.db.models import Build, Run
from polyaxon_core.db.session import session_scope
from polyaxon_core.domain.commands import submit_operation
from polyaxon_core.domain.projects import create_project
from polyaxon_core.domain.state import transition
from polyaxon_core.interfaces.builder import Builder, BuildRequest, BuildState
from polyaxon_core.lifecycle import Status
from polyaxon_core.orchestrator.builds import BuildController, BuildFailed
from polyaxon_core.orchestrator.loop import plan_run_build
from polyaxon_core.spec.compiler import compile_source
from polyaxon_core.spec.loader import parse_text

BUILT = """
version: 1.1
kind: component
name: built
build:
  hubRef: recording
  runPatch: {init: [{dockerfile: {image: scratch, env: {A: "1"}}}]}
run: {kind: job, container: {command: [python, -c, "print(1)"]}}
"""


class RecordingBuilder(Builder):
    """Remembers what it was asked to start; its builds end as the test says."""

    name = "recording"
    started: list[BuildRequest] = []
    outcome = BuildState("running")

    def start(self, request: BuildRequest) -> Mapping[str, Any]:
        RecordingBuilder.started.append(request)
        return {"key": request.key, "attempt": request.attempt}

    def poll(self, handle: Mapping[str, Any]) -> BuildState:
        return RecordingBuilder.outcome


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    RecordingBuilder.started = []
    RecordingBuilder.outcome = BuildState("running")
    home = tmp_path / "home"
    home.mkdir()
    return Settings(home=home, db_url=db_url, scheduler="local", store="local")


def scheduled_runs(settings: Settings, count: int) -> list[int]:
    with session_scope(settings.db_url) as session:
        project = create_project(session, f"p{len(RecordingBuilder.started)}-{count}")
        ids = []
        for _ in range(count):
            run = submit_operation(session, project, compile_source(parse_text(BUILT, "built.yaml")),
                                   default_concurrency=2)
            transition(session, run, Status.SCHEDULED)
            session.flush()
            ids.append(run.id)
        return ids


def ask(controller: BuildController, settings: Settings, run_id: int) -> Any:
    """One orchestrator pass's question for a run: its image, or None while it waits."""
    with session_scope(settings.db_url) as session:
        run = session.get(Run, run_id)
        assert run is not None
        request, builder = plan_run_build(settings, run, settings.runs_path / run.uuid / "artifacts")
        return controller.image_for(session, run, request, builder)


def controller(settings: Settings) -> BuildController:
    return BuildController(settings, lambda name: RecordingBuilder(settings))


def test_runs_asking_for_the_same_build_wait_for_one_and_get_its_image(settings: Settings) -> None:
    first, second = scheduled_runs(settings, 2)
    orchestrator = controller(settings)

    waiting = [ask(orchestrator, settings, first), ask(orchestrator, settings, second)]
    RecordingBuilder.outcome = BuildState("succeeded", image="registry/x@sha256:1")
    with session_scope(settings.db_url) as session:
        orchestrator.poll_all(session)
    built = [ask(orchestrator, settings, first), ask(orchestrator, settings, second)]

    assert waiting == [None, None]
    assert len(RecordingBuilder.started) == 1
    assert [image.image for image in built] == ["registry/x@sha256:1"] * 2


def test_two_orchestrators_starting_the_same_build_at_once_start_it_once(settings: Settings) -> None:
    first, second = scheduled_runs(settings, 2)
    answers: list[Any] = []
    barrier = threading.Barrier(2)

    def pass_of(run_id: int) -> None:
        barrier.wait()
        answers.append(ask(controller(settings), settings, run_id))

    threads = [threading.Thread(target=pass_of, args=(run_id,)) for run_id in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert answers == [None, None]
    assert len(RecordingBuilder.started) == 1
    with session_scope(settings.db_url) as session:
        assert session.query(Build).count() == 1


def test_a_failed_build_fails_its_waiting_runs_and_the_next_run_builds_again(settings: Settings) -> None:
    first, second = scheduled_runs(settings, 2)
    orchestrator = controller(settings)
    assert ask(orchestrator, settings, first) is None
    RecordingBuilder.outcome = BuildState("failed", message="step 3 exited with 1")
    with session_scope(settings.db_url) as session:
        orchestrator.poll_all(session)

    with pytest.raises(BuildFailed, match="step 3 exited with 1"):
        ask(orchestrator, settings, first)
    RecordingBuilder.outcome = BuildState("running")
    again = ask(orchestrator, settings, second)

    assert again is None
    assert [request.attempt for request in RecordingBuilder.started] == [1, 2]
    assert dataclasses.replace(RecordingBuilder.started[1], attempt=1).key == RecordingBuilder.started[0].key
