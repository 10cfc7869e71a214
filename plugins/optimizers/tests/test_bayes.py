"""Bayesian optimization: settings, the unit-cube encoding, the model and the sweep loop."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from polyaxon_optimizers import space
from polyaxon_optimizers.bayes import BayesOptimizer, BayesSettings
from polyaxon_optimizers.bayes_space import UnitCube
from polyaxon_optimizers.random_search import RandomSearchOptimizer

from polyaxon_core.entities import MatrixConfig, ParamDistribution, Suggestion, Trial
from polyaxon_core.interfaces import PluginConfigError
from polyaxon_core.testing import OptimizerContract
from polyaxon_core.testing.optimizer import Containment

D = ParamDistribution
MakeTrials = Callable[..., list[Trial]]

MIXED = {
    "lr": D("uniform", {"low": 0.001, "high": 0.1}),
    "layers": D("range", {"start": 1, "stop": 5, "step": 1}),
    "width": D("choice", [64, 128, 512]),
    "activation": D("choice", ["relu", "tanh", "elu"]),
    "decay": D("logspace", {"start": -4, "stop": -1, "num": 4}),
}
METRIC = {"name": "loss", "optimization": "minimize"}


def bayes_matrix(
    params: dict[str, ParamDistribution] | None = None, initial: int = 3, iterations: int = 6,
    seed: int | None = 5, **options: Any,
) -> MatrixConfig:
    return MatrixConfig(
        kind="bayes", params=params or MIXED, seed=seed, concurrency=3,
        options={"num_initial_runs": initial, "max_iterations": iterations, "metric": METRIC, **options},
    )


def finished(suggestions: list[Suggestion], objective: Callable[[dict[str, Any]], float]) -> list[Trial]:
    return [
        Trial(s.meta["index"], dict(s.params), "succeeded", {"loss": objective(dict(s.params))}, dict(s.meta))
        for s in suggestions
    ]


def run_sweep(
    matrix: MatrixConfig, objective: Callable[[dict[str, Any]], float], slots: int = 1
) -> list[Trial]:
    """Suggest, evaluate, repeat with a new optimizer object each time, as the orchestrator."""
    trials: list[Trial] = []
    while suggestions := BayesOptimizer(matrix).suggest(trials, slots):
        trials += finished(suggestions, objective)
    return trials


def quadratic(params: dict[str, Any]) -> float:
    return (params["x"] - 0.3) ** 2


class TestBayesContract(OptimizerContract):
    @pytest.fixture
    def optimizer_class(self) -> type[BayesOptimizer]:
        return BayesOptimizer

    @pytest.fixture
    def matrix(self) -> MatrixConfig:
        # No seed: determinism must hold for an unseeded sweep too.
        return bayes_matrix(seed=None)

    @pytest.fixture
    def param_contains(self) -> Containment:
        return space.contains


class TestBayesOnASmallDiscreteSpaceContract(TestBayesContract):
    @pytest.fixture
    def matrix(self) -> MatrixConfig:
        return bayes_matrix(
            {"a": D("choice", ["x", "y"]), "b": D("range", {"start": 0, "stop": 3, "step": 1})},
            initial=2, iterations=20,
        )


# ------------------------------------------------------------------------ settings


def test_defaults_are_expected_improvement_with_polyaxons_gaussian_process() -> None:
    settings = BayesSettings.from_matrix(bayes_matrix())

    assert (settings.acquisition_function, settings.eps) == ("ei", 0.0)
    assert (settings.kernel, settings.length_scale, settings.nu, settings.num_restarts_optimizer) == (
        "matern", 1.0, 1.5, 0,
    )


def test_the_utility_function_fields_are_read_from_options() -> None:
    utility = {
        "acquisition_function": "UCB", "kappa": 1.5, "num_warmup": 50, "num_iterations": 2,
        "gaussian_process": {"kernel": "rbf", "length_scale": 0.3, "nu": 2.5, "num_restarts_optimizer": 3},
    }

    settings = BayesSettings.from_matrix(bayes_matrix(utility_function=utility))

    assert (settings.acquisition_function, settings.kappa) == ("ucb", 1.5)
    assert (settings.num_warmup, settings.num_iterations) == (50, 2)
    assert (settings.kernel, settings.length_scale, settings.num_restarts_optimizer) == ("rbf", 0.3, 3)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"num_initial_runs": None}, "needs numInitialRuns"),
        ({"max_iterations": 0}, "needs maxIterations"),
        ({"metric": None}, "needs metric"),
        ({"utility_function": {"kappa": 1.0, "acquisition_function": "pi"}}, "one of ucb, ei, poi"),
        ({"utility_function": {"eps": 0.1}}, "'ucb' needs kappa"),
        ({"utility_function": {"acquisition_function": "ei"}}, "'ei' needs eps"),
        ({"utility_function": {"eps": 0.1, "acquisition_function": "poi",
                               "gaussian_process": {"kernel": "linear"}}}, "kernel must be matern or rbf"),
        ({"tuner": {"hub_ref": "acme/bo"}}, "takes no tuner"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(options: dict[str, Any], message: str) -> None:
    with pytest.raises(PluginConfigError, match=message):
        BayesOptimizer(bayes_matrix(**options))


def test_distributions_a_gaussian_process_cannot_model_are_refused_with_the_alternative() -> None:
    params = {"lr": D("loguniform", {"low": -9, "high": -2}), "act": D("pchoice", [["a", 0.5], ["b", 0.5]])}

    with pytest.raises(PluginConfigError) as refused:
        BayesOptimizer(bayes_matrix(params))

    assert str(refused.value) == (
        "matrix kind 'bayes' models uniform and discrete params only, as in Polyaxon; it cannot "
        "search act (pchoice), lr (loguniform). Use kind: tpe or hyperopt for pchoice and the "
        "other distributions"
    )


def test_a_missing_extra_is_a_config_error_with_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "scipy", None)

    with pytest.raises(PluginConfigError) as refused:
        BayesOptimizer(bayes_matrix())

    assert str(refused.value) == (
        "matrix kind 'bayes' needs scipy: pip install 'polyaxon-optimizers[bayes]'"
    )


# ------------------------------------------------------------------------ encoding


def test_categorical_params_are_one_hot_and_ordered_ones_take_one_coordinate() -> None:
    cube = UnitCube(MIXED)

    point = cube.encode({"lr": 0.001, "layers": 3, "width": 128, "activation": "tanh", "decay": 0.01})

    assert point is not None
    # sorted names: activation (3 one-hot), decay, layers, lr, width
    assert point.tolist() == pytest.approx([0, 1, 0, 2 / 3, 2 / 3, 0, (128 - 64) / (512 - 64)])
    assert cube.relaxed.tolist() == [False, False, False, True, True, True, True]


def test_any_point_snaps_to_the_nearest_valid_configuration() -> None:
    cube = UnitCube(MIXED)

    params = cube.decode(np.array([0.2, 0.9, 0.4, 0.3, 0.55, 1.3, 0.2]))

    assert params == {"activation": "tanh", "decay": 0.001, "layers": 3, "lr": 0.1, "width": 128}
    assert all(space.contains(MIXED[name], value) for name, value in params.items())


def test_decode_then_encode_is_the_identity_on_valid_points() -> None:
    cube = UnitCube(MIXED)
    points = cube.sample(np.random.default_rng(0), 50)

    for point in points:
        assert cube.encode(cube.decode(point)) == pytest.approx(point)


def test_values_outside_the_space_have_no_encoding() -> None:
    cube = UnitCube(MIXED)
    valid = {"lr": 0.01, "layers": 2, "width": 64, "activation": "relu", "decay": 0.001}

    assert cube.encode(valid) is not None
    for name, value in [("lr", 0.5), ("layers", 7), ("width", 65), ("activation", "gelu"), ("decay", 0.5)]:
        assert cube.encode({**valid, name: value}) is None
    assert cube.encode({"lr": 0.01}) is None


def test_dates_are_ordered_coordinates() -> None:
    cube = UnitCube({"day": D("daterange", {"start": "2024-01-01", "stop": "2024-01-05", "step": 1})})

    assert cube.encode({"day": "2024-01-03"}).tolist() == pytest.approx([2 / 3])
    assert cube.decode(np.array([0.9])) == {"day": "2024-01-04"}


# --------------------------------------------------------------------- the model


def test_random_entries_come_first_then_the_model() -> None:
    matrix = bayes_matrix({"x": D("uniform", {"low": 0, "high": 1})}, initial=3, iterations=4)
    random_plan = RandomSearchOptimizer(
        MatrixConfig(kind="random", params=matrix.params, num_runs=7, seed=5)
    ).suggest([], 3)

    trials = run_sweep(matrix, quadratic)

    assert [t.params for t in trials[:3]] == [s.params for s in random_plan]
    assert [t.meta["iteration"] for t in trials] == [0, 0, 0, 1, 2, 3, 4]
    assert [t.index for t in trials] == list(range(7))


@pytest.mark.parametrize("function", ["ei", "ucb", "poi"])
def test_the_model_closes_in_on_the_minimum_of_a_quadratic(function: str) -> None:
    # eps > 0: with eps = 0, poi is known to creep along from the best point it has.
    utility = {"acquisition_function": function, "kappa": 1.0, "eps": 0.01}
    matrix = bayes_matrix({"x": D("uniform", {"low": 0, "high": 1})}, initial=3, iterations=7,
                          utility_function=utility)

    trials = run_sweep(matrix, quadratic)

    best_random = min(t.metrics["loss"] for t in trials[:3])
    best = min(t.metrics["loss"] for t in trials)
    assert best < 1e-4 < best_random


def test_maximize_looks_for_the_largest_value() -> None:
    matrix = bayes_matrix(
        {"x": D("uniform", {"low": 0, "high": 1})}, initial=3, iterations=7,
        metric={"name": "loss", "optimization": "maximize"},
    )

    trials = run_sweep(matrix, lambda params: -quadratic(params))

    assert max(t.metrics["loss"] for t in trials) > -1e-4


def test_a_discrete_space_is_searched_without_repeats_and_ends_when_exhausted() -> None:
    params = {"a": D("choice", ["x", "y", "z"]), "b": D("range", {"start": 0, "stop": 4, "step": 1})}
    matrix = bayes_matrix(params, initial=2, iterations=50)
    optimizer = BayesOptimizer(matrix)

    trials = run_sweep(matrix, lambda p: p["b"] + (p["a"] == "y"))

    assert optimizer.planned == 12
    assert len({json.dumps(t.params, sort_keys=True) for t in trials}) == len(trials) == 12
    assert optimizer.is_done(trials)


def test_the_best_of_a_discrete_space_is_found_before_the_budget_ends() -> None:
    params = {"b": D("range", {"start": 0, "stop": 40, "step": 1})}
    matrix = bayes_matrix(params, initial=3, iterations=9)

    trials = run_sweep(matrix, lambda p: (p["b"] - 27) ** 2)

    assert min(t.metrics["loss"] for t in trials) == 0


# ----------------------------------------------------------- pending trials, restarts


def model_matrix() -> MatrixConfig:
    return bayes_matrix({"x": D("uniform", {"low": 0, "high": 1}), "y": D("uniform", {"low": 0, "high": 1})},
                        initial=4, iterations=10)


def test_every_free_slot_is_filled_while_trials_run_and_pending_points_are_avoided() -> None:
    matrix = model_matrix()
    first = finished(BayesOptimizer(matrix).suggest([], 4), quadratic)

    batch = BayesOptimizer(matrix).suggest(first, 3)

    assert [s.meta["index"] for s in batch] == [4, 5, 6]
    points = [(s.params["x"], s.params["y"]) for s in batch]
    closest = min(math.dist(a, b) for i, a in enumerate(points) for b in points[i + 1:])
    assert closest > 0.01


def test_a_running_trial_changes_the_next_suggestion() -> None:
    matrix = model_matrix()
    first = finished(BayesOptimizer(matrix).suggest([], 4), quadratic)
    (alone,) = BayesOptimizer(matrix).suggest(first, 1)
    running = Trial(alone.meta["index"], dict(alone.params), "running", {}, dict(alone.meta))

    (next_one,) = BayesOptimizer(matrix).suggest([*first, running], 1)

    assert next_one.meta["index"] == alone.meta["index"] + 1
    point, pending = (next_one.params["x"], next_one.params["y"]), (alone.params["x"], alone.params["y"])
    assert math.dist(point, pending) > 0.01


def test_before_two_values_are_known_extra_slots_run_random_entries() -> None:
    matrix = model_matrix()
    plan = RandomSearchOptimizer(MatrixConfig(kind="random", params=matrix.params, num_runs=14, seed=5))
    started = [
        Trial(s.meta["index"], dict(s.params), "running", {}, dict(s.meta))
        for s in BayesOptimizer(matrix).suggest([], 4)
    ]

    extra = BayesOptimizer(matrix).suggest(started, 2)

    assert [s.params for s in extra] == [plan.configuration(4), plan.configuration(5)]


def test_failed_trials_are_not_observations_but_their_indexes_are_spent() -> None:
    matrix = model_matrix()
    trials = finished(BayesOptimizer(matrix).suggest([], 4), quadratic)
    trials[0] = Trial(0, trials[0].params, "failed", {}, trials[0].meta)

    described = BayesOptimizer(matrix).describe(trials)
    (following,) = BayesOptimizer(matrix).suggest(trials, 1)

    assert described["observations"] == 3
    assert following.meta["index"] == 4


def test_the_same_history_gives_the_same_suggestions_after_a_restart() -> None:
    matrix = model_matrix()
    trials = finished(BayesOptimizer(matrix).suggest([], 4), quadratic)
    trials += finished(BayesOptimizer(matrix).suggest(trials, 2), quadratic)

    assert BayesOptimizer(matrix).suggest(trials, 3) == BayesOptimizer(matrix).suggest(trials, 3)


def test_a_different_seed_gives_a_different_sweep() -> None:
    one = run_sweep(bayes_matrix({"x": D("uniform", {"low": 0, "high": 1})}, seed=1), quadratic)
    two = run_sweep(bayes_matrix({"x": D("uniform", {"low": 0, "high": 1})}, seed=2), quadratic)

    assert [t.params for t in one] != [t.params for t in two]


# ----------------------------------------------------------------------- describe


def test_describe_reports_progress_the_iteration_and_the_best_trial() -> None:
    matrix = bayes_matrix({"x": D("uniform", {"low": 0, "high": 1})}, initial=3, iterations=4)
    trials = run_sweep(matrix, quadratic)[:5]
    best = min(trials, key=lambda t: t.metrics["loss"])

    described = BayesOptimizer(matrix).describe(trials)

    assert json.loads(json.dumps(described)) == described
    assert {k: v for k, v in described.items() if k != "best"} == {
        "kind": "bayes", "planned": 7, "created": 5, "running": 0, "finished": 5, "iteration": 2,
        "max_iterations": 4, "num_initial_runs": 3, "observations": 5, "acquisition_function": "ei",
        "seed": 5,
    }
    assert described["best"] == {
        "metric": "loss", "optimization": "minimize", "value": best.metrics["loss"],
        "index": best.index, "params": best.params, "run_uuid": None,
    }
