"""The single writer of run state: a compare-and-set on the row, on both backends."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from polyaxon_core.db.models import Project, Run, RunStatusCondition
from polyaxon_core.db.session import session_scope
from polyaxon_core.domain.projects import create_project
from polyaxon_core.domain.state import born, born_in_bulk, transition
from polyaxon_core.events import LISTENERS_VARIABLE
from polyaxon_core.lifecycle import FINAL_STATUSES, Status

_FINAL = [status.value for status in FINAL_STATUSES]


def _running_run(db_url: str) -> int:
    with session_scope(db_url) as session:
        project = create_project(session, "p")
        run = Run(project=project, kind="job", runtime="job")
        session.add(run)
        session.flush()
        for status in ("compiled", "queued", "scheduled", "starting", "running"):
            assert transition(session, run, status)
        return run.id


def _final_conditions(db_url: str, run_id: int) -> list[str]:
    with session_scope(db_url) as session:
        return list(session.scalars(
            select(RunStatusCondition.status).where(RunStatusCondition.run_id == run_id,
                                                    RunStatusCondition.status.in_(_FINAL))))


def test_a_stale_view_of_a_run_cannot_move_it(db_url: str) -> None:
    run_id = _running_run(db_url)
    with session_scope(db_url) as stale_session:
        stale = stale_session.get(Run, run_id)
        assert stale is not None and stale.status == "running"
        with session_scope(db_url) as other:
            winner = other.get(Run, run_id)
            assert winner is not None
            assert transition(other, winner, "succeeded", reason="first")
        # this session still believes the run is running: its move must not apply
        assert not transition(stale_session, stale, "failed", reason="second")
        assert stale.status == "succeeded"  # it now sees what the row holds
    assert _final_conditions(db_url, run_id) == ["succeeded"]
    with session_scope(db_url) as session:
        row = session.get(Run, run_id)
        assert row is not None and row.status == "succeeded" and row.finished_at is not None


def _race(db_url: str, run_id: int, status: str, barrier: multiprocessing.synchronize.Barrier,
          results: multiprocessing.Queue[tuple[str, bool]]) -> None:
    from polyaxon_core.db.session import session_scope as scope

    with scope(db_url) as session:
        run = session.get(Run, run_id)
        assert run is not None and run.status == "running"
        barrier.wait(timeout=60)
        moved = transition(session, run, status, reason=f"racer {status}")
    results.put((status, moved))


def test_processes_racing_on_a_run_move_it_once(db_url: str, tmp_path: Path) -> None:
    run_id = _running_run(db_url)
    racers = ["succeeded", "failed", "stopped", "succeeded", "failed", "stopped"]
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(racers))
    results: multiprocessing.Queue[tuple[str, bool]] = context.Queue()
    processes = [context.Process(target=_race, args=(db_url, run_id, status, barrier, results))
                 for status in racers]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in racers]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    winners = [status for status, moved in outcomes if moved]
    assert len(winners) == 1
    assert _final_conditions(db_url, run_id) == winners
    with session_scope(db_url) as session:
        assert session.scalar(select(Run.status).where(Run.id == run_id)) == winners[0]


def test_a_refused_move_writes_no_condition(db_url: str) -> None:
    run_id = _running_run(db_url)
    with session_scope(db_url) as session:
        run = session.get(Run, run_id)
        assert run is not None
        before = session.scalar(select(func.count(RunStatusCondition.id))
                                .where(RunStatusCondition.run_id == run_id))
        assert not transition(session, run, "queued")  # running -> queued is illegal
        after = session.scalar(select(func.count(RunStatusCondition.id))
                               .where(RunStatusCondition.run_id == run_id))
        assert after == before and run.status == "running"


_BIRTH = [(Status.CREATED, "created"), (Status.COMPILED, "compiled"), (Status.QUEUED, "queued")]


def _born_as_objects(session: Session, project: Project, names: list[str]) -> list[int]:
    runs = [Run(project=project, kind="job", runtime="job", name=name) for name in names]
    born(session, runs, _BIRTH)
    return [run.id for run in runs]


def _born_as_rows(session: Session, project: Project, names: list[str]) -> list[int]:
    return born_in_bulk(session, [{"project_id": project.id, "kind": "job", "runtime": "job", "name": name}
                                  for name in names], _BIRTH)


@pytest.mark.parametrize("birth", [_born_as_objects, _born_as_rows])
def test_runs_are_born_at_their_starting_status_with_every_step_in_their_timelines(
    db_url: str, monkeypatch: pytest.MonkeyPatch, birth: Callable[[Session, Project, list[str]], list[int]]
) -> None:
    monkeypatch.setenv(LISTENERS_VARIABLE, "polyaxon_on_run_created")  # a plugin hears creations
    names = [f"run-{index}" for index in range(30)]
    with session_scope(db_url) as session:
        project = create_project(session, "p")
        run_ids = birth(session, project, names)
        events = [(name, kwargs["run"].name, kwargs["run"].status, kwargs.get("previous"))
                  for name, kwargs in session.info.get("polyaxon_pending_events", [])]
    assert len(set(run_ids)) == len(names)
    with session_scope(db_url) as session:
        for run_id, name in zip(run_ids, names, strict=True):  # each id is that of its row
            stored = session.get(Run, run_id)
            assert stored is not None and (stored.name, stored.status) == (name, "queued")
            assert len(stored.uuid) == 32 and stored.meta_info == {} and stored.managed_by == "agent"
            timeline = session.execute(select(RunStatusCondition.status, RunStatusCondition.reason)
                                       .where(RunStatusCondition.run_id == run_id)
                                       .order_by(RunStatusCondition.id)).all()
            assert [tuple(row) for row in timeline] == [("created", "created"), ("compiled", "compiled"),
                                                        ("queued", "queued")]
    # each created event shows its run as it was created, whatever it was born at
    created = [event for event in events if event[0] == "polyaxon_on_run_created"]
    assert created == [("polyaxon_on_run_created", name, "created", None) for name in names]


def test_runs_born_in_bulk_build_no_event_nobody_hears(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LISTENERS_VARIABLE, "polyaxon_on_run_done")
    with session_scope(db_url) as session:
        project = create_project(session, "p")
        assert len(_born_as_rows(session, project, ["a", "b"])) == 2
        assert not session.info.get("polyaxon_pending_events")
        assert born_in_bulk(session, [], _BIRTH) == []


@pytest.mark.parametrize("path", [[(Status.QUEUED, "queued")],
                                  [(Status.CREATED, "created"), (Status.QUEUED, "queued")]])
def test_a_run_cannot_be_born_through_an_illegal_step(db_url: str, path: list[tuple[Status, str]]) -> None:
    with session_scope(db_url) as session:
        project = create_project(session, "p")
        with pytest.raises(ValueError, match="born"):
            born(session, [Run(project=project, kind="job", runtime="job")], path)
        session.rollback()
    with session_scope(db_url) as session:
        assert session.scalar(select(func.count(Run.id))) == 0


def test_changes_are_written_with_the_move_and_only_if_it_happens(db_url: str) -> None:
    run_id = _running_run(db_url)
    with session_scope(db_url) as session:
        run = session.get(Run, run_id)
        assert run is not None
        assert not transition(session, run, "queued", changes={"meta_info": {"refused": True}})
        assert transition(session, run, "succeeded", changes={"outputs": {"loss": 0.5}})
        assert run.outputs == {"loss": 0.5}
    with session_scope(db_url) as session:
        stored = session.get(Run, run_id)
        assert stored is not None and stored.status == "succeeded"
        assert stored.outputs == {"loss": 0.5} and "refused" not in (stored.meta_info or {})


def test_a_tracked_run_is_heard_created_like_any_run(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from polyaxon_core.domain.commands import create_tracked_run

    monkeypatch.setenv(LISTENERS_VARIABLE, "polyaxon_on_run_created")
    with session_scope(db_url) as session:
        project = create_project(session, "p")
        create_tracked_run(session, project, name="notebook")
        events = [(name, kwargs["run"].name, kwargs["run"].status, kwargs.get("previous"))
                  for name, kwargs in session.info.get("polyaxon_pending_events", [])]
    created = [event for event in events if event[0] == "polyaxon_on_run_created"]
    assert created == [("polyaxon_on_run_created", "notebook", "created", None)]


def test_events_no_plugin_hears_are_not_queued(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LISTENERS_VARIABLE, "polyaxon_on_run_done")
    with session_scope(db_url) as session:
        project = create_project(session, "p")
        run = Run(project=project, kind="job", runtime="job", name="quiet")
        born(session, [run], [(Status.CREATED, "created"), (Status.COMPILED, "compiled"),
                              (Status.QUEUED, "queued")])
        assert transition(session, run, Status.FAILED, reason="test")
        queued = [name for name, _ in session.info.get("polyaxon_pending_events", [])]
    assert queued == ["polyaxon_on_run_done"]


def test_the_listeners_a_running_orchestrator_published_answer_within_the_submission_only(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    from polyaxon_core.events import has_listeners, listeners_declared

    monkeypatch.delenv(LISTENERS_VARIABLE, raising=False)
    assert not has_listeners("polyaxon_on_run_done")  # no installed plugin hears it
    with listeners_declared("polyaxon_on_run_created,polyaxon_on_run_done"):
        assert has_listeners("polyaxon_on_run_done")
        assert not has_listeners("polyaxon_on_run_metrics_logged")
    assert not has_listeners("polyaxon_on_run_done")
