"""Grid search: the cartesian product of discrete params."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable

import pytest
from polyaxon_optimizers import space
from polyaxon_optimizers.grid import GridOptimizer

from polyaxon_core.entities import MatrixConfig, ParamDistribution, Trial
from polyaxon_core.interfaces import PluginConfigError
from polyaxon_core.testing import OptimizerContract
from polyaxon_core.testing.optimizer import Containment

D = ParamDistribution
MakeTrials = Callable[..., list[Trial]]


def grid(num_runs: int | None = None, **params: ParamDistribution) -> MatrixConfig:
    return MatrixConfig(kind="grid", params=params, num_runs=num_runs)


EVERY_DISCRETE_KIND = {
    "activation": D("choice", ["relu", "sigmoid", "tanh"]),
    "epochs": D("range", {"start": 5, "stop": 20, "step": 5}),
    "lr": D("linspace", {"start": 0.001, "stop": 0.1, "num": 4}),
    "decay": D("logspace", {"start": -4, "stop": -2, "num": 3}),
    "momentum": D("geomspace", {"start": 0.5, "stop": 0.99, "num": 2}),
    "day": D("daterange", {"start": "2019-06-22", "stop": "2019-06-24", "step": 1}),
    "at": D("datetimerange", {"start": "2019-06-22 21:00", "stop": "2019-06-22 22:00",
                              "step": 1800}),
}

NOT_ENUMERABLE = {
    "pchoice": D("pchoice", [["a", 0.4], ["b", 0.6]]),
    "uniform": D("uniform", {"low": 0, "high": 1}),
    "quniform": D("quniform", {"low": 0, "high": 10, "q": 2}),
    "loguniform": D("loguniform", {"low": -5, "high": 0}),
    "qloguniform": D("qloguniform", {"low": 0, "high": 3, "q": 1}),
    "normal": D("normal", {"loc": 0, "scale": 1}),
    "qnormal": D("qnormal", {"loc": 0, "scale": 1, "q": 0.5}),
    "lognormal": D("lognormal", {"loc": 0, "scale": 1}),
    "qlognormal": D("qlognormal", {"loc": 0, "scale": 1, "q": 1}),
}


class TestGridContract(OptimizerContract):
    @pytest.fixture
    def optimizer_class(self) -> type[GridOptimizer]:
        return GridOptimizer

    @pytest.fixture
    def matrix(self) -> MatrixConfig:
        return MatrixConfig(
            kind="grid",
            params={
                "lr": D("logspace", {"start": -3, "stop": -1, "num": 3}),
                "dropout": D("choice", [0.25, 0.5]),
                "day": D("daterange", {"start": "2019-06-22", "stop": "2019-06-25", "step": 2}),
            },
            options={"metric": {"name": "loss", "optimization": "minimize"}},
            concurrency=4,
        )

    @pytest.fixture
    def param_contains(self) -> Containment:
        return space.contains


def test_runs_every_combination_once(make_trials: MakeTrials) -> None:
    optimizer = GridOptimizer(grid(**EVERY_DISCRETE_KIND))
    suggestions = optimizer.suggest([], 10_000)
    assert len(suggestions) == 3 * 3 * 4 * 3 * 2 * 2 * 2
    names = sorted(EVERY_DISCRETE_KIND)
    expected = set(itertools.product(
        *(map(json.dumps, space.enumerate_values(EVERY_DISCRETE_KIND[n])) for n in names)
    ))
    seen = {tuple(json.dumps(s.params[n]) for n in names) for s in suggestions}
    assert seen == expected
    assert optimizer.suggest(make_trials(suggestions), 10) == []


def test_params_are_combined_in_sorted_name_order_last_name_fastest() -> None:
    optimizer = GridOptimizer(grid(b=D("choice", ["x", "y"]), a=D("choice", [1, 2])))
    assert [s.params for s in optimizer.suggest([], 4)] == [
        {"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}, {"a": 2, "b": "y"},
    ]


def test_order_does_not_depend_on_how_params_were_stored() -> None:
    params = list(EVERY_DISCRETE_KIND.items())
    forward = GridOptimizer(grid(**dict(params)))
    backward = GridOptimizer(grid(**dict(reversed(params))))
    assert forward.suggest([], 500) == backward.suggest([], 500)


def test_num_runs_caps_the_grid(make_trials: MakeTrials) -> None:
    optimizer = GridOptimizer(grid(num_runs=4, x=D("range", {"start": 0, "stop": 10, "step": 1})))
    suggestions = optimizer.suggest([], 100)
    assert [s.params["x"] for s in suggestions] == [0, 1, 2, 3]
    assert optimizer.is_done(make_trials(suggestions, "succeeded"))


def test_num_runs_above_the_grid_size_runs_the_grid_once() -> None:
    optimizer = GridOptimizer(grid(num_runs=50, x=D("choice", [1, 2, 3])))
    assert len(optimizer.suggest([], 100)) == 3


def test_refuses_exactly_the_distributions_polyaxon_refuses() -> None:
    assert set(NOT_ENUMERABLE) == space.ALL_KINDS - GridOptimizer.supported_distributions


@pytest.mark.parametrize("kind", sorted(NOT_ENUMERABLE))
def test_rejects_distributions_naming_the_param_and_the_alternatives(kind: str) -> None:
    with pytest.raises(PluginConfigError) as error:
        GridOptimizer(grid(epochs=D("choice", [1, 2]), lr=NOT_ENUMERABLE[kind]))
    message = str(error.value)
    assert "'lr'" in message and f"'{kind}'" in message
    assert "linspace" in message and "choice" in message  # what to use instead
    assert "matrix kind 'random'" in message


def test_suggests_the_closest_discrete_kind_for_uniform() -> None:
    with pytest.raises(PluginConfigError, match="e.g. linspace"):
        GridOptimizer(grid(lr=D("uniform", {"low": 0, "high": 1})))


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        (grid(), "at least one param"),
        (grid(num_runs=0, x=D("choice", [1])), "num_runs must be >= 1"),
        (grid(x=D("range", {"start": 0, "stop": 5, "step": -1})), "'x' \\(range\\): range step"),
        (MatrixConfig(kind="grid", params={"x": D("choice", [1])}, options={"metric": "loss"}),
         "metric"),
    ],
)
def test_rejects_matrices_it_cannot_run(matrix: MatrixConfig, message: str) -> None:
    with pytest.raises(PluginConfigError, match=message):
        GridOptimizer(matrix)


def test_fills_gaps_in_the_history_first(make_trials: MakeTrials) -> None:
    # A crash may have persisted trials 0 and 2 but not 1.
    optimizer = GridOptimizer(grid(x=D("range", {"start": 0, "stop": 6, "step": 1})))
    first = optimizer.suggest([], 3)
    history = make_trials([first[0], first[2]])
    assert [s.meta["index"] for s in optimizer.suggest(history, 2)] == [1, 3]


def test_a_restart_continues_where_the_sweep_was(make_trials: MakeTrials) -> None:
    matrix = grid(**EVERY_DISCRETE_KIND)
    before = GridOptimizer(matrix)
    history = make_trials(before.suggest([], 30), "succeeded")
    history += make_trials(before.suggest(history, 10), "running")

    restarted = GridOptimizer(matrix)
    rest = restarted.suggest(history, 10_000)
    assert [s.meta["index"] for s in rest] == list(range(40, 864))
    already = [trial.params for trial in history]
    assert not any(s.params in already for s in rest)
    assert not restarted.is_done(history + make_trials(rest, "succeeded"))  # 10 still running
    assert restarted.is_done(
        make_trials(before.suggest([], 40), "failed") + make_trials(rest, "succeeded")
    )


def test_describe_reports_the_grid_size_and_progress(make_trials: MakeTrials) -> None:
    optimizer = GridOptimizer(grid(num_runs=5, x=D("range", {"start": 0, "stop": 8, "step": 1})))
    trials = make_trials(optimizer.suggest([], 2), "succeeded")
    trials += make_trials(optimizer.suggest(trials, 1), "running")
    assert optimizer.describe(trials) == {
        "kind": "grid", "planned": 5, "combinations": 8,
        "created": 3, "running": 1, "finished": 2,
    }
