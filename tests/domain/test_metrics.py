"""Metric points kept apart by attempt, and read back by attempt, first or last points."""

from __future__ import annotations

import uuid as uuid_module
from typing import Any

import pytest

from polyaxon_core.db.models import Run
from polyaxon_core.db.session import session_scope
from polyaxon_core.domain.metrics import ALL_ATTEMPTS, read_metrics, store_metric_points
from polyaxon_core.domain.projects import create_project
from polyaxon_core.errors import InvalidRequest


def _run(db_url: str, attempts: int, project: str = "p") -> int:
    with session_scope(db_url) as session:
        run = Run(project=create_project(session, project), kind="job", runtime="job",
                  meta_info={"attempts": attempts})
        session.add(run)
        session.flush()
        return run.id


def _log(db_url: str, run_id: int, attempt: int | None, steps: range, value: float,
         name: str = "loss") -> None:
    with session_scope(db_url) as session:
        store_metric_points(session, session.get(Run, run_id),
                            [{"name": name, "value": value + step, "step": step}
                             for step in steps], attempt)


def _read(db_url: str, run_id: int, **options: Any) -> dict[str, Any]:
    with session_scope(db_url) as session:
        return read_metrics(session, session.get(Run, run_id), **options)


def _steps(answer: dict[str, Any], name: str = "loss") -> list[tuple[int, int | None]]:
    return [(point["attempt"], point["step"]) for point in answer["metrics"][name]]


@pytest.fixture
def resumed(db_url: str) -> int:
    """A run on its second attempt; both attempts logged steps 0-3 of `loss`."""
    run_id = _run(db_url, attempts=2)
    _log(db_url, run_id, 1, range(4), 10.0)
    _log(db_url, run_id, 2, range(4), 20.0)
    return run_id


def test_the_latest_attempt_is_read_by_default(db_url: str, resumed: int) -> None:
    answer = _read(db_url, resumed)
    assert (answer["attempt"], answer["attempts"]) == (2, [1, 2])
    assert _steps(answer) == [(2, 0), (2, 1), (2, 2), (2, 3)]


def test_one_attempt_or_every_attempt_is_read_on_request(db_url: str, resumed: int) -> None:
    assert [p["value"] for p in _read(db_url, resumed, attempt=1)["metrics"]["loss"]] == [
        10.0, 11.0, 12.0, 13.0]
    every = _read(db_url, resumed, attempt=ALL_ATTEMPTS)
    assert every["attempt"] is None
    assert _steps(every) == [(1, 0), (1, 1), (1, 2), (1, 3), (2, 0), (2, 1), (2, 2), (2, 3)]


def test_limit_and_tail_keep_the_first_or_last_points_of_each_series(
    db_url: str, resumed: int
) -> None:
    _log(db_url, resumed, 2, range(2), 30.0, name="accuracy")
    first = _read(db_url, resumed, limit=3)
    assert _steps(first) == [(2, 0), (2, 1), (2, 2)] and _steps(first, "accuracy") == [
        (2, 0), (2, 1)]
    last = _read(db_url, resumed, tail=3)
    assert _steps(last) == [(2, 1), (2, 2), (2, 3)] and _steps(last, "accuracy") == [
        (2, 0), (2, 1)]
    assert _steps(_read(db_url, resumed, attempt=ALL_ATTEMPTS, tail=5)) == [
        (1, 3), (2, 0), (2, 1), (2, 2), (2, 3)]
    with pytest.raises(InvalidRequest, match="not both"):
        _read(db_url, resumed, limit=1, tail=1)
    assert _steps(_read(db_url, resumed, tail=10**30)) == [(2, step) for step in range(4)]


def test_points_without_a_step_come_last_and_count_as_the_last(db_url: str) -> None:
    run_id = _run(db_url, attempts=1)
    _log(db_url, run_id, None, range(3), 0.0)
    with session_scope(db_url) as session:
        store_metric_points(session, session.get(Run, run_id), [{"name": "loss", "value": 9.0}])
    assert _steps(_read(db_url, run_id, tail=2)) == [(1, 2), (1, None)]


def test_the_last_values_are_those_of_the_current_attempt(db_url: str) -> None:
    run_id = _run(db_url, attempts=2)
    _log(db_url, run_id, 2, range(2), 20.0)
    _log(db_url, run_id, 1, range(5), 10.0)  # the first attempt's points, arriving late
    with session_scope(db_url) as session:
        assert session.get(Run, run_id).last_metrics == {"loss": 21.0}
    assert _steps(_read(db_url, run_id, attempt=1)) == [(1, step) for step in range(5)]


def test_points_without_an_attempt_belong_to_the_current_one(db_url: str) -> None:
    run_id = _run(db_url, attempts=3)
    _log(db_url, run_id, None, range(1), 0.0)
    assert _read(db_url, run_id)["attempts"] == [3]


def test_an_attempt_the_run_has_not_reached_is_refused(db_url: str) -> None:
    run_id = _run(db_url, attempts=1)
    with pytest.raises(InvalidRequest, match="on attempt 1; it has no attempt 2"):
        _log(db_url, run_id, 2, range(1), 0.0)
    with pytest.raises(InvalidRequest, match="has attempts 1 to 1, not 2"):
        _read(db_url, run_id, attempt=2)
    assert _read(db_url, run_id) == {"attempt": None, "attempts": [], "metrics": {}}


@pytest.mark.parametrize(("length", "most"), [(1, 2), (2, 2), (7, 7), (8, 7), (100, 5),
                                               (1001, 10), (997, 13)])
def test_max_points_spreads_each_series_evenly_keeping_its_ends(
    db_url: str, length: int, most: int
) -> None:
    run_id = _run(db_url, attempts=1)
    _log(db_url, run_id, 1, range(length), 0.0)
    _log(db_url, run_id, 1, range(3), 0.0, name="lr")
    answer = _read(db_url, run_id, max_points=most)
    steps = [step for _, step in _steps(answer)]
    assert len(steps) == min(length, most)
    assert (steps[0], steps[-1]) == (0, length - 1)
    assert steps == sorted(set(steps))
    gaps = [later - earlier for earlier, later in zip(steps, steps[1:], strict=False)]
    assert not gaps or max(gaps) - min(gaps) <= 1
    assert [step for _, step in _steps(answer, "lr")] == ([0, 1, 2] if most >= 3 else [0, 2])


def test_max_points_thins_what_limit_or_tail_kept(db_url: str) -> None:
    run_id = _run(db_url, attempts=1)
    _log(db_url, run_id, 1, range(100), 0.0)
    assert [step for _, step in _steps(_read(db_url, run_id, tail=10, max_points=4))] == [
        90, 93, 96, 99]
    assert [step for _, step in _steps(_read(db_url, run_id, limit=10, max_points=4))] == [
        0, 3, 6, 9]


def test_max_points_below_two_is_refused(db_url: str) -> None:
    run_id = _run(db_url, attempts=1)
    with pytest.raises(InvalidRequest, match="2 or more"):
        _read(db_url, run_id, max_points=1)


def test_resource_samples_are_stored_but_change_no_last_value_and_reach_no_hook(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from polyaxon_core.events import discard_pending
    from polyaxon_core.plugins import PluginManager

    manager = _manager(listening=True)
    run_id = _run(db_url, attempts=1)
    _log(db_url, run_id, 1, range(2), 0.5)
    with monkeypatch.context() as patch, session_scope(db_url) as session:
        patch.setattr("polyaxon_core.plugins.get_plugin_manager", lambda: PluginManager(manager))
        run = session.get(Run, run_id)
        store_metric_points(session, run, [
            {"name": "system/cpu_percent", "value": 97.0, "step": 0},
            {"name": "system/memory_mb", "value": 512.0, "step": 0}])
        assert session.info.get("polyaxon_pending_events", []) == []
        assert run.last_metrics == {"loss": 1.5}
        store_metric_points(session, run, [{"name": "system/cpu_percent", "value": 50.0, "step": 1},
                                           {"name": "loss", "value": 0.25, "step": 2}])
        pending = session.info.get("polyaxon_pending_events", [])
        hooks = [(name, kwargs["metrics"]) for name, kwargs in pending]
        discard_pending(session)
    assert hooks == [("polyaxon_on_run_metrics_logged", {"loss": 0.25})]
    # without a listener, nothing is queued at all
    with session_scope(db_url) as session:
        store_metric_points(session, session.get(Run, run_id), [{"name": "loss", "value": 0.2, "step": 3}])
        assert session.info.get("polyaxon_pending_events", []) == []
    answer = _read(db_url, run_id, names=["system/cpu_percent"])
    assert [point["value"] for point in answer["metrics"]["system/cpu_percent"]] == [97.0, 50.0]
    with session_scope(db_url) as session:
        assert session.get(Run, run_id).last_metrics == {"loss": 0.2}


def test_thinning_reads_the_same_points_where_ctes_cannot_be_materialized(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from polyaxon_core.domain import metrics

    run_id = _run(db_url, attempts=1)
    _log(db_url, run_id, 1, range(300), 0.0)
    _log(db_url, run_id, 1, range(40), 0.0, name="lr")
    materialized = _read(db_url, run_id, max_points=25)
    monkeypatch.setattr(metrics, "_materializes_ctes", lambda session: False)
    assert _read(db_url, run_id, max_points=25) == materialized
    assert len(materialized["metrics"]["loss"]) == len(materialized["metrics"]["lr"]) == 25


def test_the_orchestrator_tells_a_run_which_events_plugins_hear(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from polyaxon_core.events import LISTENERS_VARIABLE, has_listeners, listened_events
    from polyaxon_core.plugins import PluginManager

    monkeypatch.delenv(LISTENERS_VARIABLE, raising=False)
    for listening, heard in ((False, ""), (True, "polyaxon_on_run_metrics_logged")):
        manager = _manager(listening)
        monkeypatch.setattr("polyaxon_core.plugins.get_plugin_manager",
                            lambda manager=manager: PluginManager(manager))
        assert listened_events() == heard
    # in a run, what the orchestrator said is the answer
    monkeypatch.setenv(LISTENERS_VARIABLE, "")
    assert not has_listeners("polyaxon_on_run_metrics_logged")
    monkeypatch.setenv(LISTENERS_VARIABLE, "polyaxon_on_run_metrics_logged")
    assert has_listeners("polyaxon_on_run_metrics_logged")


def _manager(listening: bool) -> Any:
    """A plugin manager with every hook spec, and a plugin that listens to metrics events
    when ``listening``."""
    import pluggy

    from polyaxon_core import hookspecs

    class Listener:
        @hookspecs.hookimpl
        def polyaxon_on_run_metrics_logged(self, run, metrics, step):  # type: ignore[no-untyped-def]
            """Heard: events of this hook are queued."""

    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    if listening:
        manager.register(Listener(), name="notifier-listener")
    return manager


def test_batches_of_one_run_stored_at_once_both_set_their_last_values(postgres_database: str) -> None:
    """The second batch waits on the first's lock on the run, then adds its metrics to
    what the first stored: neither overwrites the other's (read-modify-write would)."""
    import threading

    from sqlalchemy import text

    from polyaxon_core.domain.metrics import log_metric_batch, metric_target
    from polyaxon_core.testing.scheduler import wait_until

    run_id = _run(postgres_database, attempts=1, project=f"concurrent-{uuid_module.uuid4().hex[:8]}")
    with session_scope(postgres_database) as session:
        uuid = session.get_one(Run, run_id).uuid
    failures: list[BaseException] = []

    def second() -> None:
        try:
            with session_scope(postgres_database) as session:
                log_metric_batch(session, metric_target(session, uuid), "b",
                                 [{"name": "accuracy", "value": 0.9, "step": 1}])
        except BaseException as exc:  # reported below
            failures.append(exc)

    def blocked() -> bool:
        with session_scope(postgres_database) as session:
            return bool(session.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()")))

    with session_scope(postgres_database) as session:
        log_metric_batch(session, metric_target(session, uuid), "a",
                         [{"name": "loss", "value": 0.5, "step": 1}])
        thread = threading.Thread(target=second)
        thread.start()
        wait_until(blocked, what="the second batch waiting on the first's lock")
    thread.join(timeout=60)
    assert not thread.is_alive() and not failures, failures
    with session_scope(postgres_database) as session:
        assert session.get_one(Run, run_id).last_metrics == {"loss": 0.5, "accuracy": 0.9}


def test_one_statement_batches_wait_for_a_batch_in_progress_and_store_only_what_it_did_not(
        postgres_database: str) -> None:
    """While a transaction holds batch ``a`` of a run, the one-statement path given the
    same batch waits, then finds it stored (a duplicate, nothing added); given another
    batch it adds its last values to the first's."""
    import threading

    from sqlalchemy import select, text

    from polyaxon_core.db.models import Metric
    from polyaxon_core.db.session import autocommit
    from polyaxon_core.domain.metrics import log_metric_batch, log_metric_batch_at, metric_target
    from polyaxon_core.testing.scheduler import wait_until

    project = f"one-statement-{uuid_module.uuid4().hex[:8]}"
    run_id = _run(postgres_database, attempts=1, project=project)
    with session_scope(postgres_database) as session:
        uuid = session.get_one(Run, run_id).uuid
    answers: dict[str, Any] = {}

    def store(batch: str, name: str) -> None:
        try:
            answers[batch] = autocommit(postgres_database, lambda connection: log_metric_batch_at(
                connection, "default", project, uuid, batch, [{"name": name, "value": 0.9, "step": 1}]))
        except BaseException as exc:  # reported below
            answers[batch] = exc

    def waiting() -> int:
        with session_scope(postgres_database) as session:
            return int(session.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()")) or 0)

    threads = [threading.Thread(target=store, args=("a", "other")),
               threading.Thread(target=store, args=("b", "accuracy"))]
    with session_scope(postgres_database) as session:
        log_metric_batch(session, metric_target(session, uuid), "a",
                         [{"name": "loss", "value": 0.5, "step": 1}])
        for thread in threads:
            thread.start()
        wait_until(lambda: waiting() == 2, what="both batches waiting on the first's locks")
    for thread in threads:
        thread.join(timeout=60)
    assert answers == {"a": (1, True), "b": (1, False)}
    with session_scope(postgres_database) as session:
        assert session.get_one(Run, run_id).last_metrics == {"loss": 0.5, "accuracy": 0.9}
        names = session.scalars(select(Metric.name).where(Metric.run_id == run_id)
                                .order_by(Metric.name)).all()
        assert names == ["accuracy", "loss"]  # nothing of the duplicate


def test_a_one_statement_batch_on_a_connection_the_server_ended_is_stored_once_on_a_new_one(
        postgres_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pool of the one-statement path pings nothing: a connection the server ended
    while it sat in the pool is found lost by the statement, which is sent again on a new
    connection; the batch is stored once."""
    from sqlalchemy import Connection, func, select, text
    from sqlalchemy.exc import OperationalError

    from polyaxon_core.db import session as session_module
    from polyaxon_core.db.models import Metric
    from polyaxon_core.db.session import autocommit
    from polyaxon_core.domain.metrics import log_metric_batch_at
    from tests.conftest import end_backend

    project = f"reconnect-{uuid_module.uuid4().hex[:8]}"
    run_id = _run(postgres_database, attempts=1, project=project)
    with session_scope(postgres_database) as session:
        uuid = session.get_one(Run, run_id).uuid
    backends: list[int] = []

    def store(connection: Connection, batch: str) -> tuple[int, bool]:
        backends.append(int(connection.scalar(text("SELECT pg_backend_pid()")) or 0))
        return log_metric_batch_at(connection, "default", project, uuid, batch,
                                   [{"name": "loss", "value": 0.5, "step": step} for step in range(3)])

    assert autocommit(postgres_database, lambda connection: store(connection, "a")) == (3, False)
    end_backend(postgres_database, backends[-1])
    # not pinged as it leaves the pool: with one attempt only, the ended connection is met
    monkeypatch.setattr(session_module, "RECONNECT_ATTEMPTS", 1)
    with pytest.raises(OperationalError):
        autocommit(postgres_database, lambda connection: store(connection, "b"))
    assert autocommit(postgres_database, lambda connection: store(connection, "b")) == (3, False)
    end_backend(postgres_database, backends[-1])
    monkeypatch.undo()
    assert autocommit(postgres_database, lambda connection: store(connection, "c")) == (3, False)
    assert len(set(backends)) == 3  # a new connection after each end
    with session_scope(postgres_database) as session:
        assert session.scalar(select(func.count()).select_from(Metric).where(Metric.run_id == run_id)) == 9
