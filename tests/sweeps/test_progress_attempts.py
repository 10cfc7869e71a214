"""Early stopping judges a trial by its current attempt's metrics only."""

from __future__ import annotations

from polyaxon_core.db.models import Metric, Run
from polyaxon_core.db.session import session_scope
from polyaxon_core.domain.projects import create_project
from polyaxon_core.orchestrator.sweeps import progress


def test_a_resumed_trials_progress_holds_only_its_current_attempt(db_url: str) -> None:
    with session_scope(db_url) as session:
        project = create_project(session, "attempts")
        sweep = Run(project_id=project.id, kind="matrix", status="running")
        session.add(sweep)
        session.flush()
        resumed = Run(project_id=project.id, kind="job", status="running", pipeline_id=sweep.id,
                      matrix_index=0, meta_info={"attempts": 2})
        first = Run(project_id=project.id, kind="job", status="running", pipeline_id=sweep.id,
                    matrix_index=1, meta_info={"attempts": 1})
        session.add_all([resumed, first])
        session.flush()
        session.add_all([
            *(Metric(run_id=resumed.id, attempt=1, name="loss", step=step, value=10.0 + step)
              for step in range(3)),
            *(Metric(run_id=resumed.id, attempt=2, name="loss", step=step, value=1.0 + step)
              for step in range(2)),
            Metric(run_id=first.id, attempt=1, name="loss", step=0, value=5.0),
            Metric(run_id=first.id, attempt=1, name="other", step=0, value=7.0),
        ])
        session.flush()

        series = {trial.index: trial.series
                  for trial in progress(session, sweep, [resumed, first], {"loss"})}

    assert series == {0: {"loss": [1.0, 2.0]}, 1: {"loss": [5.0]}}
