"""A bayes sweep through the `polyaxon` CLI, the embedded orchestrator and local processes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from polyaxon_optimizers import space
from polyaxon_optimizers.random_search import RandomSearchOptimizer

from polyaxon_core.entities import MatrixConfig, ParamDistribution
from tests.conftest import polyaxon_home  # noqa: F401 - a fixture `home` needs
from tests.orchestrator.conftest import Cli, cli, home, wait_final  # noqa: F401 - fixtures

FILES = Path(__file__).parent / "files"
PARAMS = {
    "x": ParamDistribution("uniform", {"low": 0, "high": 1}),
    "width": ParamDistribution("choice", [16, 32, 64]),
    "activation": ParamDistribution("choice", ["relu", "tanh"]),
}


def loss(params: dict[str, Any]) -> float:
    """What files/objective.py logs."""
    return ((params["x"] - 0.3) ** 2 + (0.0 if params["width"] == 32 else 0.05)
            + (0.0 if params["activation"] == "tanh" else 0.02))


def test_a_bayes_sweep_runs_its_initial_and_model_trials_to_the_end(cli: Cli) -> None:  # noqa: F811
    uuid = json.loads(cli("run", "-f", str(FILES / "bayes.yaml"), "-o", "json").stdout)["uuid"]

    assert wait_final(uuid, timeout=300)["status"] == "succeeded"
    sweep = json.loads(cli("ops", "get", uuid, "-o", "json").stdout)
    trials = sorted(sweep["trials"], key=lambda trial: trial["index"])
    assert [(t["index"], t["status"]) for t in trials] == [(i, "succeeded") for i in range(6)]
    for trial in trials:
        assert set(trial["params"]) == set(PARAMS)
        assert all(space.contains(PARAMS[name], value) for name, value in trial["params"].items())
        assert trial["metrics"]["loss"] == loss(trial["params"])
    initial = RandomSearchOptimizer(MatrixConfig(kind="random", params=PARAMS, num_runs=6, seed=4))
    assert [t["params"] for t in trials[:3]] == [initial.configuration(i) for i in range(3)]
    assert len({json.dumps(t["params"], sort_keys=True) for t in trials}) == 6
    described = sweep["meta_info"]["optimizer"]
    best = min(trials, key=lambda t: t["metrics"]["loss"])
    assert {k: described[k] for k in ("kind", "planned", "iteration", "observations", "finished")} == {
        "kind": "bayes", "planned": 6, "iteration": 3, "observations": 6, "finished": 6,
    }
    assert described["best"]["index"] == best["index"]
    assert described["best"]["value"] == best["metrics"]["loss"]
