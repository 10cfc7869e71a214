"""The state layer on both backends: migrations, constraints, cascades, transitions."""

from __future__ import annotations

import logging

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from polyaxon_core.db.models import Base, Metric, Project, Run, RunStatusCondition
from polyaxon_core.db.session import get_engine, is_current, migrate, session_scope
from polyaxon_core.domain.commands import request_stop
from polyaxon_core.domain.listing import get_run
from polyaxon_core.domain.projects import create_project, get_project
from polyaxon_core.domain.state import transition
from polyaxon_core.errors import AlreadyExists, Conflict, NotFound


def _run(session, project: Project, **kwargs) -> Run:  # type: ignore[no-untyped-def]
    run = Run(project=project, kind=kwargs.pop("kind", "job"), runtime="job", **kwargs)
    session.add(run)
    session.flush()
    return run


def test_migrations_produce_exactly_the_models(db_url: str) -> None:
    with get_engine(db_url).connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    assert is_current(db_url)


def test_migrate_is_idempotent(db_url: str) -> None:
    migrate(db_url)
    assert is_current(db_url)


def test_project_names_are_unique_per_owner(db_url: str) -> None:
    with session_scope(db_url) as session:
        create_project(session, "mnist")
    with pytest.raises(AlreadyExists, match="already exists"), session_scope(db_url) as session:
        create_project(session, "mnist")
    with session_scope(db_url) as session:
        create_project(session, "mnist", owner="someone-else")
        assert session.scalar(select(func.count(Project.id))) == 2


def test_missing_project_error_says_how_to_create_it(db_url: str) -> None:
    with pytest.raises(NotFound, match="polyaxon project create"), session_scope(db_url) as s:
        get_project(s, "nope")


def test_a_trial_index_is_unique_within_its_sweep(db_url: str) -> None:
    with session_scope(db_url) as session:
        project = create_project(session, "p")
        sweep = _run(session, project, kind="matrix")
        _run(session, project, pipeline=sweep, matrix_index=0)
        sweep_id = sweep.id
    with pytest.raises(IntegrityError), session_scope(db_url) as session:
        project = get_project(session, "p")
        _run(session, project, pipeline_id=sweep_id, matrix_index=0)
    with session_scope(db_url) as session:
        assert session.scalar(select(func.count(Run.id)).where(Run.pipeline_id == sweep_id)) == 1


def test_deleting_a_project_deletes_runs_metrics_and_timelines(db_url: str) -> None:
    with session_scope(db_url) as session:
        project = create_project(session, "p")
        run = _run(session, project)
        session.add(Metric(run_id=run.id, name="loss", step=1, value=0.5))
        transition(session, run, "compiled")
    with session_scope(db_url) as session:
        session.delete(get_project(session, "p"))
    with session_scope(db_url) as session:
        for model in (Run, Metric, RunStatusCondition):
            assert session.scalar(select(func.count()).select_from(model)) == 0


def test_transition_records_the_timeline_and_timestamps(db_url: str) -> None:
    with session_scope(db_url) as session:
        run = _run(session, create_project(session, "p"))
        for status in ("compiled", "queued", "scheduled", "starting", "running", "succeeded"):
            assert transition(session, run, status, reason=f"to {status}")
        uuid = run.uuid
    with session_scope(db_url) as session:
        run = get_run(session, uuid)
        assert [c.status for c in run.conditions] == [
            "compiled", "queued", "scheduled", "starting", "running", "succeeded"]
        assert run.started_at is not None and run.finished_at is not None
        assert run.finished_at >= run.started_at >= run.created_at
        assert run.duration is not None and run.duration >= 0
        assert run.started_at.tzinfo is not None


def test_an_illegal_transition_is_refused_logged_and_not_applied(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with session_scope(db_url) as session:
        run = _run(session, create_project(session, "p"))
        for status in ("compiled", "queued", "scheduled", "running", "succeeded"):
            transition(session, run, status)
        uuid = run.uuid
    with caplog.at_level(logging.WARNING), session_scope(db_url) as session:
        run = get_run(session, uuid)
        assert not transition(session, run, "running")
    assert "refused illegal transition" in caplog.text
    with session_scope(db_url) as session:
        run = get_run(session, uuid)
        assert run.status == "succeeded"
        assert run.conditions[-1].status == "succeeded"


def _manager_with(*plugins: object) -> object:
    import pluggy

    from polyaxon_core import hookspecs
    from polyaxon_core.plugins import PluginManager

    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    for index, plugin in enumerate(plugins):
        pm.register(plugin, name=f"notifier-test-{index}")
    return PluginManager(pm)


def test_events_fire_only_after_commit(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from polyaxon_core import hookspecs

    heard: list[tuple[str, str | None, str]] = []

    class Recorder:
        @hookspecs.hookimpl
        def polyaxon_on_run_status_changed(self, run, previous, status):  # type: ignore[no-untyped-def]
            heard.append(("changed", previous, status))

        @hookspecs.hookimpl
        def polyaxon_on_run_done(self, run):  # type: ignore[no-untyped-def]
            heard.append(("done", None, run.status))

    manager = _manager_with(Recorder())
    monkeypatch.setattr("polyaxon_core.plugins.get_plugin_manager", lambda: manager)
    with pytest.raises(RuntimeError), session_scope(db_url) as session:
        run = _run(session, create_project(session, "p"))
        transition(session, run, "compiled")
        raise RuntimeError("rolled back")
    assert heard == []
    with session_scope(db_url) as session:
        run = _run(session, create_project(session, "q"))
        transition(session, run, "compiled")
        transition(session, run, "stopped")
        assert heard == []  # not before the commit
    assert heard == [("changed", "created", "compiled"), ("changed", "compiled", "stopped"),
                     ("done", None, "stopped")]


def test_stopping_a_queued_run_is_immediate_and_a_final_one_conflicts(db_url: str) -> None:
    with session_scope(db_url) as session:
        run = _run(session, create_project(session, "p"))
        transition(session, run, "compiled")
        transition(session, run, "queued")
        request_stop(session, run)
        assert run.status == "stopped"
        with pytest.raises(Conflict, match="already stopped"):
            request_stop(session, run)


def test_runs_are_found_by_unique_prefix(db_url: str) -> None:
    with session_scope(db_url) as session:
        run = _run(session, create_project(session, "p"))
        uuid = run.uuid
    with session_scope(db_url) as session:
        assert get_run(session, uuid[:6]).uuid == uuid
        with pytest.raises(NotFound):
            get_run(session, "ffff0000ffff")


def test_a_failing_event_plugin_does_not_silence_the_others(
    db_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from polyaxon_core import hookspecs

    heard: list[str] = []

    class Failing:
        @hookspecs.hookimpl
        def polyaxon_on_run_done(self, run):  # type: ignore[no-untyped-def]
            raise RuntimeError("notifier down")

    class Listening:
        @hookspecs.hookimpl
        def polyaxon_on_run_done(self, run):  # type: ignore[no-untyped-def]
            heard.append(run.status)

    manager = _manager_with(Listening(), Failing())  # the failing one is called first (LIFO)
    monkeypatch.setattr("polyaxon_core.plugins.get_plugin_manager", lambda: manager)
    with caplog.at_level(logging.ERROR), session_scope(db_url) as session:
        run = _run(session, create_project(session, "p"))
        transition(session, run, "stopped")
    assert heard == ["stopped"]
    assert "notifier-test-1 failed while handling polyaxon_on_run_done" in caplog.text


def test_the_newest_migration_read_from_the_files_is_alembics() -> None:
    from alembic.script import ScriptDirectory

    from polyaxon_core.db.session import alembic_config, head_revisions

    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert head_revisions() == frozenset(heads) and len(heads) == 1
