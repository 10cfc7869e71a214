"""The examples: the quick-start's polyaxonfiles stay valid and its sweeps comparable; the
pipeline runs end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from polyaxon_core.plugins import get_plugin_manager
from polyaxon_core.spec import read_polyaxonfile

QUICK_START = Path(__file__).resolve().parent.parent / "examples" / "quick-start"
POLYAXON = str(Path(sys.executable).parent / "polyaxon")


@pytest.mark.parametrize("name", sorted(p.name for p in QUICK_START.glob("*.yaml")))
def test_every_quick_start_file_is_a_valid_polyaxonfile(name: str) -> None:
    spec = read_polyaxonfile(QUICK_START / name)
    assert spec.component is not None
    assert "epochs" in {io.name for io in spec.component.inputs}


def test_the_hyperband_sweep_searches_the_random_sweeps_space_with_table_1() -> None:
    random = read_polyaxonfile(QUICK_START / "sweep-random.yaml").matrix
    hyperband = read_polyaxonfile(QUICK_START / "sweep-hyperband.yaml").matrix
    assert random is not None and hyperband is not None
    # the benchmark compares them: same space, epochs left to the resource
    assert hyperband.params == random.params
    assert "epochs" not in hyperband.params

    optimizer = get_plugin_manager().get("optimizer", "hyperband")(hyperband)
    state = optimizer.describe([])
    assert state["planned"] == 206
    assert [(b["configurations"], b["rungs"][0]["resource"]) for b in state["brackets"]] == [
        (81, 1), (34, 3), (15, 9), (8, 27), (5, 81)]


PIPELINE = Path(__file__).resolve().parent.parent / "examples" / "pipeline" / "polyaxonfile.yaml"


def _run_pipeline(home: Path, *params: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Run the pipeline example to its end through the CLI; its DAG and its operations."""
    env = {**os.environ, "POLYAXON_HOME": str(home), "POLYAXON_POLL_INTERVAL": "0.1",
           "POLYAXON_IDLE_EXIT": "5"}
    env.pop("POLYAXON_DB_URL", None)

    def polyaxon(*args: str) -> str:
        return subprocess.run([POLYAXON, *args], capture_output=True, text=True, env=env,
                              timeout=600, check=True).stdout

    polyaxon("project", "create", "digits")
    submitted = json.loads(polyaxon("run", "-f", str(PIPELINE), "-p", "digits", *params, "-o", "json"))
    result = subprocess.run([POLYAXON, "ops", "get", submitted["uuid"], "-p", "digits", "--watch"],
                            capture_output=True, text=True, env=env, timeout=600)
    dag = json.loads(polyaxon("ops", "get", submitted["uuid"], "-p", "digits", "-o", "json"))
    assert dag["status"] in {"succeeded", "failed"}, result.stdout + result.stderr
    runs = {op["name"]: json.loads(polyaxon("ops", "get", op["uuid"], "-p", "digits", "-o", "json"))
            for op in dag["operations"]}
    return dag, runs


@pytest.mark.slow
def test_the_pipeline_trains_the_final_model_with_the_sweeps_best_params(tmp_path: Path) -> None:
    dag, runs = _run_pipeline(tmp_path / "home")

    assert dag["status"] == "succeeded"
    search, final = runs["search"], runs["final"]
    assert search["kind"] == "matrix" and len(search["trials"]) == 6
    best = max((trial for trial in search["trials"] if trial["status"] == "succeeded"),
               key=lambda trial: trial["metrics"]["val_accuracy"])
    assert final["status"] == "succeeded"
    assert final["inputs"]["learning_rate"] == best["params"]["learning_rate"]
    assert final["inputs"]["hidden_units"] == best["params"]["hidden_units"]
    assert final["inputs"]["dataset"] == runs["prepare"]["outputs"]["dataset"]
    assert final["inputs"]["epochs"] == 20 and final["outputs"]["val_accuracy"] >= 0.9


@pytest.mark.slow
def test_the_pipeline_skips_the_final_model_when_the_best_is_below_the_threshold(tmp_path: Path) -> None:
    dag, runs = _run_pipeline(tmp_path / "home", "-P", "threshold=1.01")

    assert dag["status"] == "succeeded"
    assert runs["search"]["status"] == "succeeded"
    assert runs["final"]["status"] == "skipped"
    assert runs["final"]["message"] == "conditions `{{ best_accuracy >= threshold }}` are false"
