"""Random search: num_runs distinct samples, reproducible from the matrix alone."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from datetime import date

import pytest
from polyaxon_optimizers import space
from polyaxon_optimizers.random_search import ENUMERATION_LIMIT, RandomSearchOptimizer

from polyaxon_core.entities import MatrixConfig, ParamDistribution, Trial
from polyaxon_core.interfaces import PluginConfigError
from polyaxon_core.testing import OptimizerContract
from polyaxon_core.testing.optimizer import Containment

D = ParamDistribution
MakeTrials = Callable[..., list[Trial]]

MIXED = {
    "lr": D("loguniform", {"low": -9.2, "high": -2.3}),
    "dropout": D("uniform", {"low": 0.1, "high": 0.5}),
    "activation": D("pchoice", [["elu", 0.1], ["relu", 0.2], ["sigmoid", 0.7]]),
    "batch": D("choice", [32, 64, 128]),
}


def random_matrix(
    num_runs: int | None = 10, seed: int | None = None, **params: ParamDistribution
) -> MatrixConfig:
    return MatrixConfig(kind="random", params=params or MIXED, num_runs=num_runs, seed=seed)


def planned_params(matrix: MatrixConfig) -> list[dict[str, object]]:
    return [dict(s.params) for s in RandomSearchOptimizer(matrix).suggest([], 100_000)]


class TestRandomSearchContract(OptimizerContract):
    @pytest.fixture
    def optimizer_class(self) -> type[RandomSearchOptimizer]:
        return RandomSearchOptimizer

    @pytest.fixture
    def matrix(self) -> MatrixConfig:
        # No seed: determinism must hold for an unseeded sweep too.
        return MatrixConfig(
            kind="random", params=MIXED, num_runs=12, concurrency=5,
            options={"metric": {"name": "accuracy", "optimization": "maximize"}},
        )

    @pytest.fixture
    def param_contains(self) -> Containment:
        return space.contains


class TestRandomSearchOnASmallDiscreteSpaceContract(TestRandomSearchContract):
    @pytest.fixture
    def matrix(self) -> MatrixConfig:
        return random_matrix(
            num_runs=50, seed=3,
            opt=D("pchoice", [["adam", 0.9], ["sgd", 0.1]]),
            depth=D("range", {"start": 2, "stop": 5, "step": 1}),
        )


def test_requires_num_runs() -> None:
    with pytest.raises(PluginConfigError, match="needs num_runs: how many configurations"):
        RandomSearchOptimizer(random_matrix(num_runs=None))


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        (random_matrix(num_runs=0), "num_runs must be a whole number >= 1"),
        (MatrixConfig(kind="random", params={}, num_runs=3), "at least one param"),
        (random_matrix(x=D("uniform", {"low": 1, "high": 0})), "'x' \\(uniform\\)"),
        (random_matrix(x=D("beta", {"a": 1})), "x \\(beta\\)"),
    ],
)
def test_rejects_matrices_it_cannot_run(matrix: MatrixConfig, message: str) -> None:
    with pytest.raises(PluginConfigError, match=message):
        RandomSearchOptimizer(matrix)


def test_runs_exactly_num_runs_distinct_configurations(make_trials: MakeTrials) -> None:
    optimizer = RandomSearchOptimizer(random_matrix(num_runs=25, seed=1))
    suggestions = optimizer.suggest([], 1000)
    assert len(suggestions) == 25
    assert len({json.dumps(dict(s.params), sort_keys=True) for s in suggestions}) == 25
    assert optimizer.is_done(make_trials(suggestions, "succeeded"))


def test_the_same_seed_gives_the_same_trials() -> None:
    assert planned_params(random_matrix(seed=7)) == planned_params(random_matrix(seed=7))


def test_different_seeds_give_different_trials() -> None:
    first, second = planned_params(random_matrix(seed=7)), planned_params(random_matrix(seed=8))
    assert all(a["lr"] != b["lr"] for a, b in zip(first, second, strict=True))


def test_without_a_seed_the_same_matrix_gives_the_same_trials() -> None:
    first = RandomSearchOptimizer(random_matrix())
    second = RandomSearchOptimizer(random_matrix())
    assert planned_params(random_matrix()) == planned_params(random_matrix())
    assert first.describe([])["seed"] == second.describe([])["seed"]


def test_without_a_seed_a_different_space_gives_different_trials() -> None:
    wider = {**MIXED, "dropout": D("uniform", {"low": 0.1, "high": 0.6})}
    first, second = planned_params(random_matrix()), planned_params(random_matrix(**wider))
    assert all(a["dropout"] != b["dropout"] for a, b in zip(first, second, strict=True))


def test_the_seed_does_not_depend_on_param_order() -> None:
    reordered = dict(reversed(list(MIXED.items())))
    assert planned_params(random_matrix()) == planned_params(random_matrix(**reordered))


def test_more_runs_extend_the_same_trials() -> None:
    shorter = planned_params(random_matrix(num_runs=10, seed=4))
    longer = planned_params(random_matrix(num_runs=30, seed=4))
    assert longer[:10] == shorter


def test_a_discrete_space_smaller_than_num_runs_runs_each_combination_once(
    make_trials: MakeTrials,
) -> None:
    optimizer = RandomSearchOptimizer(random_matrix(
        num_runs=100, seed=2, a=D("choice", ["x", "y"]), b=D("range", {"start": 0, "stop": 3, "step": 1}),
    ))
    suggestions = optimizer.suggest([], 1000)
    combinations = {(s.params["a"], s.params["b"]) for s in suggestions}
    assert len(suggestions) == len(combinations) == 6
    assert optimizer.is_done(make_trials(suggestions, "succeeded"))


def test_a_zero_probability_value_is_never_planned() -> None:
    plan = planned_params(random_matrix(
        num_runs=10, a=D("pchoice", [["x", 0.5], ["y", 0.5], ["z", 0.0]]), b=D("choice", [1, 2]),
    ))
    assert len(plan) == 4
    assert all(entry["a"] != "z" for entry in plan)


def test_sampling_without_replacement_keeps_the_probabilities() -> None:
    # The first trial of many independent sweeps is a plain weighted draw.
    firsts = Counter(
        planned_params(random_matrix(
            num_runs=2, seed=seed, a=D("pchoice", [["x", 0.8], ["y", 0.2]]), b=D("choice", [1]),
        ))[0]["a"]
        for seed in range(2000)
    )
    assert firsts["x"] / 2000 == pytest.approx(0.8, abs=0.03)


def test_a_large_discrete_space_is_drawn_distinct_without_listing_it() -> None:
    size = ENUMERATION_LIMIT * 10
    plan = planned_params(random_matrix(
        num_runs=300, seed=5, x=D("range", {"start": 0, "stop": size, "step": 1}),
    ))
    assert len({entry["x"] for entry in plan}) == 300
    assert all(0 <= entry["x"] < size for entry in plan)


def test_a_space_that_keeps_repeating_itself_ends_instead_of_looping(
    make_trials: MakeTrials,
) -> None:
    # round(normal(0, 0.01)) is 0 about every time: there is one configuration to find.
    optimizer = RandomSearchOptimizer(random_matrix(
        num_runs=5, seed=1, x=D("qnormal", {"loc": 0, "scale": 0.01, "q": 1}),
    ))
    suggestions = optimizer.suggest([], 10)
    assert [s.params for s in suggestions] == [{"x": 0}]
    assert optimizer.is_done(make_trials(suggestions, "succeeded"))


def test_every_distribution_and_value_shape_goes_through() -> None:
    # Lists (choice), lists of pairs (pchoice) and mappings (everything else), with dates
    # given as ISO strings or as the objects YAML loads.
    params = {
        "choice": D("choice", ["a", 1, 2.5, True, None, [1, 2], {"k": "v"}]),
        "pchoice": D("pchoice", [[0.1, 0.5], ["b", 0.5]]),
        "range": D("range", {"start": 0, "stop": 1, "step": 0.25}),
        "daterange": D("daterange", {"start": date(2021, 1, 1), "stop": "2021-02-01", "step": 3}),
        "datetimerange": D("datetimerange", {"start": "2021-01-01T00:00:00Z",
                                             "stop": "2021-01-02T00:00:00Z", "step": 5400}),
        "linspace": D("linspace", {"start": -1, "stop": 1, "num": 9}),
        "logspace": D("logspace", {"start": 1, "stop": 4, "num": 4, "base": 2}),
        "geomspace": D("geomspace", {"start": 2, "stop": 512, "num": 5}),
        "uniform": D("uniform", {"low": -1, "high": 1}),
        "quniform": D("quniform", {"low": 1, "high": 100, "q": 1}),
        "loguniform": D("loguniform", {"low": math.log(1e-5), "high": math.log(1e-1)}),
        "qloguniform": D("qloguniform", {"low": 0, "high": 5, "q": 0.5}),
        "normal": D("normal", {"loc": 0, "scale": 3}),
        "qnormal": D("qnormal", {"loc": 10, "scale": 3, "q": 2}),
        "lognormal": D("lognormal", {"loc": -2, "scale": 1}),
        "qlognormal": D("qlognormal", {"loc": 2, "scale": 1, "q": 0.25}),
    }
    assert set(params) == space.ALL_KINDS
    plan = planned_params(random_matrix(num_runs=300, seed=9, **params))
    assert len(plan) == 300
    assert json.loads(json.dumps(plan, allow_nan=False)) == plan
    for entry in plan:
        for name, value in entry.items():
            assert space.contains(params[name], value), (name, value)
    for name in ("choice", "range", "linspace", "logspace"):
        assert len({json.dumps(entry[name]) for entry in plan}) == space.size(params[name])


def test_a_restart_never_changes_planned_trials(make_trials: MakeTrials) -> None:
    matrix = random_matrix(num_runs=20)
    before = RandomSearchOptimizer(matrix)
    history = make_trials(before.suggest([], 6), "succeeded")
    history += make_trials(before.suggest(history, 4), "running")

    restarted = RandomSearchOptimizer(matrix)
    rest = restarted.suggest(history, 100)
    assert [s.meta["index"] for s in rest] == list(range(10, 20))
    assert [dict(s.params) for s in rest] == planned_params(matrix)[10:]
    already = [trial.params for trial in history]
    assert not any(s.params in already for s in rest)


def test_describe_reports_the_seed_in_use() -> None:
    assert RandomSearchOptimizer(random_matrix(seed=123)).describe([])["seed"] == 123
    derived = RandomSearchOptimizer(random_matrix()).describe([])["seed"]
    assert isinstance(derived, int)
    assert planned_params(random_matrix(seed=derived)) == planned_params(random_matrix())


def test_a_kept_plan_is_the_plan_drawn_afresh_and_its_configurations_are_handed_out_as_copies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from polyaxon_optimizers import random_search

    matrix = random_matrix(num_runs=50, seed=3)
    first = RandomSearchOptimizer(matrix)
    handed = first.configuration(0)
    handed[next(iter(handed))] = "changed by a caller"
    kept = planned_params(matrix)  # from the kept plan
    monkeypatch.setattr(random_search, "_PLANS", random_search.Kept(random_search.PLANS_KEPT))
    assert planned_params(matrix) == kept  # drawn afresh
    assert "changed by a caller" not in json.dumps(kept)
    assert RandomSearchOptimizer(matrix)._plan is RandomSearchOptimizer(matrix)._plan
    for seed in range(random_search.PLANS_KEPT + 1):
        RandomSearchOptimizer(random_matrix(num_runs=5, seed=100 + seed))
    assert len(random_search._PLANS) == random_search.PLANS_KEPT
