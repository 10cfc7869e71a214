"""A sweep's controller reads its trials incrementally (only the rows that changed since
its last pass), and still sees every change, whoever made it: another replica's trials,
a trial's later metrics, a trial deleted."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import selectinload

from polyaxon_core.config import Settings
from polyaxon_core.db.models import Run
from polyaxon_core.db.session import session_scope
from polyaxon_core.domain.commands import submit_operation
from polyaxon_core.domain.projects import create_project
from polyaxon_core.orchestrator.sweeps import SweepController
from polyaxon_core.spec import parse_operation

OPERATION = {
    "version": 1.1, "kind": "operation", "name": "incremental",
    "matrix": {"kind": "random", "numRuns": 4, "seed": 1, "concurrency": 1,
               "params": {"x": {"kind": "uniform", "value": [0, 1]}}},
    "component": {"inputs": [{"name": "x", "type": "float"}],
                  "run": {"kind": "job", "container": {"command": ["true"]}}},
}


def _pass(db_url: str, controller: SweepController, sweep_id: int) -> None:
    with session_scope(db_url) as session:
        sweep = session.get(Run, sweep_id, options=[selectinload(Run.project)])
        assert sweep is not None
        controller.control(session, sweep)


def _trials(db_url: str, sweep_id: int) -> list[tuple[int, str]]:
    with session_scope(db_url) as session:
        return [(index, status) for index, status in session.execute(
            select(Run.matrix_index, Run.status).where(Run.pipeline_id == sweep_id)
            .order_by(Run.matrix_index))]


def _finish(db_url: str, sweep_id: int, index: int, **metrics: float) -> None:
    with session_scope(db_url) as session:
        trial = session.scalars(select(Run).where(Run.pipeline_id == sweep_id,
                                                  Run.matrix_index == index)).one()
        trial.status, trial.last_metrics = "succeeded", dict(metrics)


def test_what_another_replica_and_later_writes_change_is_seen(db_url: str, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, db_url=db_url, scheduler="local", store="local")
    with session_scope(db_url) as session:
        sweep = submit_operation(session, create_project(session, "p"), parse_operation(OPERATION),
                                 default_concurrency=1)
        sweep_id = sweep.id
    ours, other = SweepController(settings), SweepController(settings)
    _pass(db_url, ours, sweep_id)
    assert _trials(db_url, sweep_id) == [(0, "queued")]
    # the other replica's pass sees our trial unfinished: it adds none
    _pass(db_url, other, sweep_id)
    assert _trials(db_url, sweep_id) == [(0, "queued")]
    _finish(db_url, sweep_id, 0, loss=1.0)
    _pass(db_url, other, sweep_id)  # the other replica adds the next trial
    assert _trials(db_url, sweep_id) == [(0, "succeeded"), (1, "queued")]
    # ours, which read trial 0 while it was queued, sees it succeeded and trial 1 unfinished
    _pass(db_url, ours, sweep_id)
    assert _trials(db_url, sweep_id) == [(0, "succeeded"), (1, "queued")]
    with session_scope(db_url) as session:
        sweep = session.get(Run, sweep_id)
        assert sweep is not None
        _, trials = ours._children(session, sweep)
    assert [(trial.index, trial.status, dict(trial.metrics)) for trial in trials] == [
        (0, "succeeded", {"loss": 1.0}), (1, "queued", {})]

    # a finished trial's values written later (a late metric) are read again
    with session_scope(db_url) as session:
        trial = session.scalars(select(Run).where(Run.pipeline_id == sweep_id,
                                                  Run.matrix_index == 0)).one()
        trial.last_metrics = {"loss": 0.5}
    with session_scope(db_url) as session:
        sweep = session.get(Run, sweep_id)
        assert sweep is not None
        _, trials = ours._children(session, sweep)
        assert trials[0].metrics == {"loss": 0.5}
        # a trial deleted meanwhile is gone from what the optimizer sees
        session.execute(delete(Run).where(Run.pipeline_id == sweep_id, Run.matrix_index == 1))
        _, trials = ours._children(session, sweep)
    assert [trial.index for trial in trials] == [0]
    # the free slot is filled at the lowest free index
    _pass(db_url, ours, sweep_id)
    assert _trials(db_url, sweep_id) == [(0, "succeeded"), (1, "queued")]


def test_a_pass_cut_short_while_reading_leaves_what_it_did_not_read_to_the_next(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pass that fails half-way through reading its trials (a lost connection) must not
    count them as read: the next pass reads them, and creates no trial twice."""
    from polyaxon_core.orchestrator import sweeps

    settings = Settings(home=tmp_path, db_url=db_url, scheduler="local", store="local")
    operation = {**OPERATION, "matrix": {**OPERATION["matrix"], "concurrency": 2}}
    with session_scope(db_url) as session:
        sweep = submit_operation(session, create_project(session, "p"), parse_operation(operation),
                                 default_concurrency=2)
        sweep_id = sweep.id
    controller = SweepController(settings)
    _pass(db_url, controller, sweep_id)
    for index in (0, 1):
        _finish(db_url, sweep_id, index, loss=float(index))
    read = sweeps._trial
    calls = []

    def cut_short(row: object) -> object:
        calls.append(row)
        if len(calls) == 2:
            raise ConnectionError("the connection was lost")
        return read(row)

    monkeypatch.setattr(sweeps, "_trial", cut_short)
    with pytest.raises(ConnectionError):
        _pass(db_url, controller, sweep_id)
    monkeypatch.setattr(sweeps, "_trial", read)
    _pass(db_url, controller, sweep_id)
    assert _trials(db_url, sweep_id) == [(0, "succeeded"), (1, "succeeded"), (2, "queued"), (3, "queued")]
