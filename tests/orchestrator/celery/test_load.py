"""The Celery scheduler under load: a thousand short runs through two workers."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.orchestrator.celery.conftest import STARTED_ONCE, Redis, Worker, _write
from tests.orchestrator.conftest import Cli, wait_for
from tests.orchestrator.test_replicas import Replica, _submit

pytestmark = pytest.mark.postgres


@pytest.mark.slow
def test_a_thousand_short_runs_through_two_workers(
    redis: Redis, cli: Cli, workers: Callable[..., Worker], orchestrator: Replica, home: Path,
) -> None:
    from polyaxon_core.config import load_settings
    from polyaxon_core.db.models import Run, RunLease, RunStatusCondition
    from polyaxon_core.db.session import session_scope

    record = home / "record"
    polyaxonfile = _write(home, "short.yaml", json.dumps({
        "version": 1.1, "kind": "operation", "name": "short",
        "matrix": {"kind": "random", "concurrency": 16, "numRuns": 1000, "seed": 1,
                   "params": {"x": {"kind": "uniform", "value": {"low": 0, "high": 1}}}},
        "component": {"inputs": [{"name": "x", "type": "float"}], "run": {
            "kind": "job", "container": {"command": [
                "sh", "-c", f'echo "$POLYAXON_RUN_UUID" >> {record}']}}}}))
    workers(concurrency=4)
    workers(concurrency=4)
    uuid = _submit(cli, "-f", str(polyaxonfile))
    state = wait_for(uuid, lambda state: state["status"] in {"succeeded", "failed", "stopped"}, 900)
    assert state["status"] == "succeeded", state["conditions"][-3:]
    children = {child["uuid"] for child in state["children"]}
    assert len(children) == 1000
    started = Counter(record.read_text().split())
    assert set(started) == children and set(started.values()) == {1}
    with session_scope(load_settings().db_url) as session:
        statuses = Counter(session.scalars(select(Run.status).where(Run.uuid.in_(children))).all())
        leases = session.execute(select(RunLease.worker, func.count()).group_by(RunLease.worker)).all()
        conditions = session.execute(
            select(RunStatusCondition.status, func.count()).join(Run, Run.id == RunStatusCondition.run_id)
            .where(Run.uuid.in_(children)).group_by(RunStatusCondition.status)).all()
    assert statuses == Counter({"succeeded": 1000})
    # each run went through each status once; both workers took runs
    passed = dict(conditions)
    assert {status: passed.get(status) for status in STARTED_ONCE} == dict.fromkeys(STARTED_ONCE, 1000)
    assert sum(count for _worker, count in leases) == 1000
    assert {worker.split(" ")[0] for worker, _count in leases} == {"w1", "w2"}
