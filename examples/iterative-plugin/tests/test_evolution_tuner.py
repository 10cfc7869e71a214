"""The evolution tuner passes the optimizer contract and evolves the best trials.

Run with the plugin installed: ``pip install -e examples/iterative-plugin`` then
``pytest examples/iterative-plugin/tests``.
"""

from __future__ import annotations

import random

import pytest
from polyaxon_evolution_tuner.tuner import EvolutionTuner
from polyaxon_optimizers import space

from polyaxon_core.entities import MatrixConfig, ParamDistribution, Trial
from polyaxon_core.interfaces import PluginConfigError
from polyaxon_core.testing import OptimizerContract
from polyaxon_core.testing.optimizer import Containment

PARAMS = {
    "lr": ParamDistribution("loguniform", {"low": -9.21, "high": -2.3}),
    "activation": ParamDistribution("choice", ["relu", "tanh"]),
}


def evolution_matrix(kind: str = "evolution", **tuner_params: object) -> MatrixConfig:
    params = {"metric": "loss", "optimization": "minimize", "population": 4, **tuner_params}
    return MatrixConfig(
        kind=kind, params=PARAMS, seed=3, concurrency=2,
        options={
            "max_iterations": 3,
            "tuner": {"hub_ref": "evolution", "params": {k: {"value": v} for k, v in params.items()}},
        },
    )


class TestEvolutionTunerContract(OptimizerContract):
    """The tuner selected directly by its name."""

    @pytest.fixture
    def optimizer_class(self) -> type[EvolutionTuner]:
        return EvolutionTuner

    @pytest.fixture
    def matrix(self) -> MatrixConfig:
        return evolution_matrix()

    @pytest.fixture
    def param_contains(self) -> Containment:
        return space.contains


def finished(index: int, params: dict[str, object], loss: float, iteration: int) -> Trial:
    return Trial(index, params, "succeeded", {"loss": loss}, {"iteration": iteration})


def test_the_first_iteration_draws_population_distinct_configurations() -> None:
    tuner = EvolutionTuner(evolution_matrix(population=5))

    configurations = tuner.configurations(0, [], random.Random(0))

    assert len(configurations) == 5
    assert len({tuple(sorted(c.items())) for c in configurations}) == 5
    assert all(space.contains(PARAMS[name], value) for c in configurations for name, value in c.items())


def test_children_differ_from_the_best_trial_by_one_param_when_mutation_is_rare() -> None:
    tuner = EvolutionTuner(evolution_matrix(parents=1, mutation=1e-9))
    best = {"lr": 0.003, "activation": "relu"}
    history = [
        finished(0, {"lr": 0.05, "activation": "tanh"}, 2.0, 0),
        finished(1, best, 0.1, 0),
    ]

    children = tuner.configurations(1, history, random.Random(0))

    assert len(children) == 4
    assert all(sum(child[name] != best[name] for name in best) == 1 for child in children)
    assert not any(child in [trial.params for trial in history] for child in children)


def test_maximizing_picks_the_highest_metric_as_parent() -> None:
    tuner = EvolutionTuner(evolution_matrix(parents=1, mutation=1e-9, optimization="maximize"))
    history = [
        finished(0, {"lr": 0.05, "activation": "tanh"}, 2.0, 0),
        finished(1, {"lr": 0.003, "activation": "relu"}, 0.1, 0),
    ]

    children = tuner.configurations(1, history, random.Random(0))

    assert all(child["lr"] == 0.05 or child["activation"] == "tanh" for child in children)


def test_a_missing_metric_is_refused() -> None:
    matrix = MatrixConfig(
        kind="evolution", params=PARAMS,
        options={"max_iterations": 2, "tuner": {"hub_ref": "evolution", "params": {}}},
    )

    with pytest.raises(PluginConfigError, match="tuner.params.metric"):
        EvolutionTuner(matrix)
