"""The tracking SDK against a real database on both backends."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from polyaxon_core import tracking
from polyaxon_core.db.models import Artifact, Metric, Run
from polyaxon_core.db.session import session_scope
from polyaxon_core.tracking import TrackingError
from tests.tracking.helpers import tracked_run


@pytest.fixture
def run_uuid(db_url: str, polyaxon_home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    return tracked_run(db_url, monkeypatch, inputs={"lr": 0.1})


def _run(db_url: str, uuid: str) -> Run:
    with session_scope(db_url) as session:
        return session.scalars(select(Run).where(Run.uuid == uuid)).one()


def test_metrics_are_stored_per_step_and_summarised_on_the_run(db_url: str, run_uuid: str) -> None:
    tracking.init()
    tracking.log_metrics(step=0, loss=1.0, acc=0.5)
    tracking.log_metrics(step=1, loss=0.5, acc=0.75)
    tracking.log_metric("lr", 0.01)
    tracking.flush()
    with session_scope(db_url) as session:
        points = session.execute(
            select(Metric.name, Metric.step, Metric.value).order_by(Metric.name, Metric.step)
        ).all()
    assert [tuple(p) for p in points] == [
        ("acc", 0, 0.5), ("acc", 1, 0.75), ("loss", 0, 1.0), ("loss", 1, 0.5), ("lr", None, 0.01)]
    assert _run(db_url, run_uuid).last_metrics == {"loss": 0.5, "acc": 0.75, "lr": 0.01}
    tracking.end()


def test_numpy_like_scalars_and_bools_are_numbers(db_url: str, run_uuid: str) -> None:
    class Scalar:  # what numpy.float32 looks like to the SDK: convertible with float()
        def __float__(self) -> float:
            return 0.25

    tracking.init()
    tracking.log_metrics(step=0, value=Scalar(), flag=True)
    tracking.flush()
    assert _run(db_url, run_uuid).last_metrics == {"value": 0.25, "flag": 1.0}


def test_non_finite_values_are_skipped_with_a_warning(
    db_url: str, run_uuid: str, caplog: pytest.LogCaptureFixture
) -> None:
    tracking.init()
    with caplog.at_level(logging.WARNING):
        tracking.log_metrics(step=0, loss=float("nan"), acc=0.5)
    tracking.flush()
    assert "loss=nan is not finite" in caplog.text
    assert _run(db_url, run_uuid).last_metrics == {"acc": 0.5}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"loss": "high"}, "must be a number"), ({}, "at least one"),
     ({"step": 1.5, "loss": 1.0}, "whole number")],
)
def test_bad_metrics_are_refused_and_nothing_is_written(
    db_url: str, run_uuid: str, kwargs: dict, message: str
) -> None:
    tracking.init()
    with pytest.raises(TrackingError, match=message):
        tracking.log_metrics(**kwargs)
    with session_scope(db_url) as session:
        assert session.scalars(select(Metric)).all() == []


def test_inputs_outputs_and_tags_merge(db_url: str, run_uuid: str) -> None:
    tracking.init()
    tracking.log_inputs(batch_size=32)
    tracking.log_outputs(accuracy=0.9)
    tracking.log_outputs(accuracy=0.95, epochs=3)
    tracking.log_tags("baseline", "cpu")
    tracking.log_tags("cpu")
    run = _run(db_url, run_uuid)
    assert run.inputs == {"lr": 0.1, "batch_size": 32}
    assert run.outputs == {"accuracy": 0.95, "epochs": 3}
    assert run.tags == ["baseline", "cpu"]


def test_artifacts_are_copied_into_the_store_and_recorded(
    db_url: str, run_uuid: str, tmp_path: Path
) -> None:
    source = tmp_path / "model.bin"
    source.write_bytes(b"\x00weights")
    tracking.init(track_code=False)
    tracking.log_artifact(source)
    tracking.log_artifact(source, name="models/best.bin", kind="model")
    assert (tracking.get_artifacts_path() / "models" / "best.bin").read_bytes() == b"\x00weights"
    with session_scope(db_url) as session:
        rows = session.execute(select(Artifact.name, Artifact.kind).order_by(Artifact.name)).all()
    assert [tuple(r) for r in rows] == [("model.bin", "file"), ("models/best.bin", "model")]
    with pytest.raises(TrackingError, match="no such file"):
        tracking.log_artifact(tmp_path / "missing.bin")


def test_init_outside_a_run_says_what_to_do(polyaxon_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POLYAXON_RUN_UUID", raising=False)
    with pytest.raises(TrackingError, match="inside `polyaxon run`"):
        tracking.init()


def test_init_with_an_unknown_run_names_it(db_url: str, run_uuid: str) -> None:
    with pytest.raises(TrackingError, match="does not exist"):
        tracking.init(run_uuid="0" * 32)


def test_logging_after_end_is_an_error(db_url: str, run_uuid: str) -> None:
    run = tracking.init()
    tracking.end()
    with pytest.raises(TrackingError, match="ended"):
        run.log_metrics(step=0, loss=1.0)
    with pytest.raises(TrackingError, match="tracking.init"):
        tracking.log_metrics(step=0, loss=1.0)


def test_points_are_stored_with_the_attempt_the_orchestrator_names(
    db_url: str, run_uuid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_scope(db_url) as session:
        session.scalars(select(Run).where(Run.uuid == run_uuid)).one().meta_info = {"attempts": 2}
    monkeypatch.setenv("POLYAXON_RUN_ATTEMPT", "1")  # the first attempt, still logging late
    tracking.init()
    tracking.log_metrics(step=5, loss=0.1)
    monkeypatch.setenv("POLYAXON_RUN_ATTEMPT", "2")
    tracking.init()
    tracking.log_metrics(step=0, loss=0.9)
    tracking.flush()
    with session_scope(db_url) as session:
        stored = session.execute(select(Metric.attempt, Metric.step).order_by(Metric.id)).all()
    assert [tuple(point) for point in stored] == [(1, 5), (2, 0)]
    assert _run(db_url, run_uuid).last_metrics == {"loss": 0.9}


def test_an_unreadable_attempt_variable_is_a_tracking_error(
    run_uuid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLYAXON_RUN_ATTEMPT", "first")
    with pytest.raises(TrackingError, match="POLYAXON_RUN_ATTEMPT"):
        tracking.init()


def test_a_script_that_never_ends_its_tracking_stores_its_points_at_exit_quietly(
    db_url: str, run_uuid: str, tmp_path: Path,
) -> None:
    # its points are first sent while the interpreter exits, when the plugins load: every
    # installed plugin must import then (concurrent.futures cannot, once exit began)
    import os
    import subprocess
    import sys

    script = "from polyaxon_core import tracking; tracking.init(); tracking.log_metrics(loss=0.5)"
    # as in a launched run: running already, told where its artifacts go, sampling its
    # resources, in a folder that is no git checkout
    with session_scope(db_url) as session:
        session.scalars(select(Run).where(Run.uuid == run_uuid)).one().status = "running"
    env = {name: value for name, value in os.environ.items() if name != "POLYAXON_RESOURCES_INTERVAL"}
    env["POLYAXON_RUN_ARTIFACTS_PATH"] = str(tmp_path / "artifacts")
    finished = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=120, check=False)
    assert finished.returncode == 0, finished.stderr
    assert "broken" not in finished.stderr and "Traceback" not in finished.stderr, finished.stderr
    assert _run(db_url, run_uuid).last_metrics == {"loss": 0.5}


def test_a_launched_run_told_that_no_plugin_listens_loads_no_plugin(
    db_url: str, run_uuid: str, tmp_path: Path,
) -> None:
    import os
    import subprocess
    import sys

    script = ("import sys; from polyaxon_core import tracking; tracking.init(); "
              "tracking.log_metrics(loss=0.5); tracking.end(); "
              "print('polyaxon_core.plugins' in sys.modules)")
    env = {**os.environ, "POLYAXON_EVENT_LISTENERS": "",
           "POLYAXON_RUN_ARTIFACTS_PATH": str(tmp_path / "artifacts")}
    finished = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=120, check=False)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.split() == ["False"]
    assert _run(db_url, run_uuid).last_metrics == {"loss": 0.5}
