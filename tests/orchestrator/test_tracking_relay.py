"""A run of the embedded default tracks through its runner (polyaxon_core.tracking.relay):
the run's process loads no database layer, and what it logs lands as if it had written
it itself."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from polyaxon_core.db.models import Artifact, Run
from polyaxon_core.db.session import session_scope
from tests.orchestrator.conftest import Cli, wait_final

SCRIPT = """
import json, os, sys
from polyaxon_core import tracking
tracking.init()
tracking.log_metrics(step=0, loss=1.0)
tracking.log_metrics(step=1, loss=0.5)
tracking.log_inputs(lr=0.1)
tracking.log_outputs(accuracy=0.9)
tracking.log_tags("relayed")
with open("model.txt", "w") as handle:
    handle.write("weights")
tracking.log_artifact("model.txt", name="model", kind="model")
tracking.end()
print(json.dumps({"database_layer": "sqlalchemy" in sys.modules,
                  "socket": os.environ.get("POLYAXON_TRACKING_SOCKET")}))
"""


def submit_tracking_job(cli: Cli, tmp_path: Path) -> str:
    """A job running SCRIPT; its uuid."""
    script = tmp_path / "track.py"
    script.write_text(SCRIPT)
    polyaxonfile = tmp_path / "job.yaml"
    polyaxonfile.write_text(json.dumps({
        "version": 1.1, "kind": "component",
        "run": {"kind": "job", "container": {"command": [sys.executable, str(script)]}}}))
    return str(json.loads(cli("run", "-f", str(polyaxonfile), "-o", "json").stdout)["uuid"])


def assert_tracked_through_a_relay(cli: Cli, uuid: str, db_url: str) -> None:
    """SCRIPT's run ended, having loaded no database layer, and everything it logged is stored."""
    state = wait_final(uuid)
    assert state["status"] == "succeeded"
    said = json.loads(cli("ops", "logs", uuid).stdout.strip().splitlines()[-1])
    assert said["database_layer"] is False
    assert said["socket"] and not Path(said["socket"]).parent.exists()  # removed at the end
    assert state["metrics"] == {"loss": 0.5}
    assert state["inputs"]["lr"] == 0.1 and state["outputs"]["accuracy"] == 0.9
    shown = json.loads(cli("ops", "get", uuid, "-o", "json").stdout)
    assert "relayed" in shown["tags"]
    with session_scope(db_url) as session:
        logged = session.execute(select(Artifact.name, Artifact.kind).join(Run).where(
            Run.uuid == uuid)).all()
    assert ("model", "model") in [tuple(row) for row in logged]


def test_a_run_tracks_through_its_runner_without_loading_the_database_layer(
        cli: Cli, home: Path, tmp_path: Path) -> None:
    uuid = submit_tracking_job(cli, tmp_path)
    assert_tracked_through_a_relay(cli, uuid, f"sqlite:///{home / 'polyaxon.db'}")


def test_where_no_socket_can_be_made_the_run_writes_to_the_database_itself(
        cli: Cli, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A temporary folder whose path is longer than a Unix socket's address may be."""
    long_tmp = tmp_path / ("t" * 60) / ("m" * 60)
    long_tmp.mkdir(parents=True)
    monkeypatch.setenv("TMPDIR", str(long_tmp))
    uuid = submit_tracking_job(cli, tmp_path)
    state = wait_final(uuid)
    assert state["status"] == "succeeded"
    said = json.loads(cli("ops", "logs", uuid).stdout.strip().splitlines()[-1])
    assert said == {"database_layer": True, "socket": None}
    assert state["metrics"] == {"loss": 0.5}
    assert list(long_tmp.iterdir()) == []  # nothing left behind
