"""tpe and hyperopt: the space in hyperopt's terms, the history as hyperopt's Trials."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from typing import Any

import hyperopt
import numpy as np
import pytest
from hyperopt.pyll import stochastic
from polyaxon_optimizers import space
from polyaxon_optimizers.hyperopt_search import HyperoptOptimizer, TPEOptimizer, hyperopt_space

from polyaxon_core.entities import MatrixConfig, ParamDistribution, Suggestion, Trial
from polyaxon_core.interfaces import PluginConfigError
from polyaxon_core.testing import OptimizerContract
from polyaxon_core.testing.optimizer import Containment

D = ParamDistribution

EVERY_KIND = {
    "choice": D("choice", ["a", "b", [1, 2]]),
    "range": D("range", {"start": 0, "stop": 10, "step": 3}),
    "daterange": D("daterange", {"start": "2024-01-01", "stop": "2024-01-10", "step": 2}),
    "datetimerange": D("datetimerange", {"start": "2024-01-01T00:00:00", "stop": "2024-01-01T01:00:00",
                                         "step": 900}),
    "linspace": D("linspace", {"start": 0, "stop": 1, "num": 5}),
    "logspace": D("logspace", {"start": -3, "stop": -1, "num": 3}),
    "geomspace": D("geomspace", {"start": 1, "stop": 1000, "num": 4}),
    "uniform": D("uniform", {"low": -1, "high": 1}),
    "quniform": D("quniform", {"low": 0, "high": 10, "q": 2}),
    "loguniform": D("loguniform", {"low": -4, "high": -1}),
    "qloguniform": D("qloguniform", {"low": 0, "high": 3, "q": 0.5}),
    "normal": D("normal", {"loc": 3, "scale": 0.5}),
    "qnormal": D("qnormal", {"loc": 0, "scale": 4, "q": 1}),
    "lognormal": D("lognormal", {"loc": 0, "scale": 0.5}),
    "qlognormal": D("qlognormal", {"loc": 1, "scale": 0.5, "q": 0.25}),
}
METRIC = {"name": "loss", "optimization": "minimize"}


def hyperopt_matrix(
    params: dict[str, ParamDistribution] | None = None, kind: str = "hyperopt", num_runs: int | None = 30,
    seed: int | None = 9, **options: Any,
) -> MatrixConfig:
    return MatrixConfig(
        kind=kind, params=EVERY_KIND if params is None else params, num_runs=num_runs, seed=seed,
        concurrency=4, options={"metric": METRIC, **options},
    )


def trial(suggestion: Suggestion, status: str = "succeeded", **metrics: float) -> Trial:
    return Trial(suggestion.meta["index"], dict(suggestion.params), status, metrics, dict(suggestion.meta))


class TestTPEContract(OptimizerContract):
    @pytest.fixture
    def optimizer_class(self) -> type[TPEOptimizer]:
        return TPEOptimizer

    @pytest.fixture
    def matrix(self) -> MatrixConfig:
        # More trials than TPE's 20 random start-up ones, and no seed.
        return hyperopt_matrix(kind="tpe", num_runs=8, seed=None, max_iterations=4)

    @pytest.fixture
    def param_contains(self) -> Containment:
        return space.contains


class TestHyperoptRandContract(TestTPEContract):
    @pytest.fixture
    def optimizer_class(self) -> type[HyperoptOptimizer]:
        return HyperoptOptimizer

    @pytest.fixture
    def matrix(self) -> MatrixConfig:
        return hyperopt_matrix(num_runs=12, algorithm="rand")


class TestHyperoptAnnealContract(TestHyperoptRandContract):
    @pytest.fixture
    def matrix(self) -> MatrixConfig:
        return hyperopt_matrix(num_runs=25, algorithm="anneal")


# ------------------------------------------------------------------------ the space


def draws(distribution: ParamDistribution, count: int = 300) -> list[Any]:
    expression = hyperopt_space({"p": distribution})["p"]
    rng = np.random.default_rng(0)
    return [stochastic.sample(expression, rng=rng) for _ in range(count)]


@pytest.mark.parametrize("name", sorted(n for n in EVERY_KIND if space.is_discrete(EVERY_KIND[n])))
def test_discrete_kinds_become_a_choice_of_their_values(name: str) -> None:
    values = draws(EVERY_KIND[name])

    # As JSON: hyperopt hands a list option back as a tuple.
    expected = {json.dumps(item) for item in space.enumerate_values(EVERY_KIND[name])}
    assert {json.dumps(value) for value in values} == expected


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [("uniform", -1, 1), ("quniform", -1, 11), ("loguniform", math.exp(-4), math.exp(-1)),
     ("qloguniform", 0, math.exp(3) + 0.25)],
)
def test_bounded_kinds_keep_their_bounds_loguniform_ones_as_exponents(
    name: str, low: float, high: float
) -> None:
    values = np.array(draws(EVERY_KIND[name]), dtype=float)

    assert low <= values.min() and values.max() <= high
    # the samples fill the range: neither stuck at the low end nor at exp(exp(...))
    assert values.max() - values.min() > 0.5 * (high - low)


@pytest.mark.parametrize(("name", "q"), [("quniform", 2), ("qloguniform", 0.5), ("qnormal", 1),
                                         ("qlognormal", 0.25)])
def test_quantized_kinds_give_multiples_of_q(name: str, q: float) -> None:
    values = np.array(draws(EVERY_KIND[name]), dtype=float)

    assert np.allclose(values / q, np.round(values / q))


def test_normal_kinds_have_their_location_and_scale() -> None:
    normal = np.array(draws(EVERY_KIND["normal"], 2000), dtype=float)
    lognormal = np.log(np.array(draws(EVERY_KIND["lognormal"], 2000), dtype=float))

    assert (normal.mean(), normal.std()) == pytest.approx((3, 0.5), abs=0.05)
    assert (lognormal.mean(), lognormal.std()) == pytest.approx((0, 0.5), abs=0.05)


def test_pchoice_is_refused_with_the_alternatives() -> None:
    params = {"act": D("pchoice", [["relu", 0.7], ["tanh", 0.3]]), "lr": D("uniform", {"low": 0, "high": 1})}

    with pytest.raises(PluginConfigError) as refused:
        TPEOptimizer(hyperopt_matrix(params, kind="tpe"))

    assert str(refused.value) == (
        "matrix kind 'tpe' does not take pchoice (act), as in Polyaxon: use choice, whose values "
        "it learns to weight from the results, or kind: random to draw with fixed probabilities"
    )


# -------------------------------------------------------------------------- settings


def test_the_budget_is_num_runs_times_max_iterations() -> None:
    assert TPEOptimizer(hyperopt_matrix(kind="tpe", num_runs=5, max_iterations=3)).planned == 15
    assert TPEOptimizer(hyperopt_matrix(kind="tpe", num_runs=None, max_iterations=7)).planned == 7
    assert HyperoptOptimizer(hyperopt_matrix(num_runs=20)).planned == 20


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        (hyperopt_matrix(kind="tpe", num_runs=None), "needs numRuns and/or maxIterations"),
        (hyperopt_matrix(max_iterations=0), "maxIterations must be a whole number >= 1"),
        (hyperopt_matrix(algorithm="random"), "algorithm must be one of tpe, rand, anneal, got 'random'"),
        (hyperopt_matrix(metric=None), "needs metric"),
        (hyperopt_matrix(tuner={"hub_ref": "acme/tuner"}), "takes no tuner"),
        (hyperopt_matrix({}), "needs at least one param"),
    ],
)
def test_bad_settings_are_refused(matrix: MatrixConfig, message: str) -> None:
    with pytest.raises(PluginConfigError, match=message):
        HyperoptOptimizer(matrix)


def test_a_missing_extra_is_a_config_error_with_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hyperopt", None)

    with pytest.raises(PluginConfigError) as refused:
        TPEOptimizer(hyperopt_matrix(kind="tpe"))

    assert str(refused.value) == (
        "matrix kind 'tpe' needs hyperopt: pip install 'polyaxon-optimizers[hyperopt]'"
    )


# -------------------------------------------------------------------- suggestions


def test_suggestions_are_plain_python_values_of_the_right_type() -> None:
    suggestions = HyperoptOptimizer(hyperopt_matrix()).suggest([], 10)

    for suggestion in suggestions:
        for name, value in suggestion.params.items():
            assert type(value).__module__ == "builtins", (name, type(value))
            assert space.contains(EVERY_KIND[name], value)
        assert type(suggestion.params["quniform"]) is int
        assert type(suggestion.params["qloguniform"]) is float


def test_the_history_is_given_to_hyperopt_as_fmin_records_it() -> None:
    optimizer = HyperoptOptimizer(hyperopt_matrix(metric={"name": "acc", "optimization": "maximize"}))
    first = optimizer.suggest([], 4)
    domain = hyperopt.Domain(lambda params: 0.0, hyperopt_space(EVERY_KIND))
    history = hyperopt.Trials()
    trials = [trial(first[0], acc=0.8), trial(first[1], "failed"), trial(first[2], "running"),
              trial(first[3], acc=math.nan)]

    documents = [optimizer._document(history, domain, t) for t in trials]

    assert [(d["tid"], d["state"], d["result"]) for d in documents] == [
        (0, hyperopt.JOB_STATE_DONE, {"status": "ok", "loss": -0.8}),
        (1, hyperopt.JOB_STATE_DONE, {"status": "fail"}),
        (2, hyperopt.JOB_STATE_RUNNING, {"status": "new"}),
        (3, hyperopt.JOB_STATE_DONE, {"status": "fail"}),
    ]
    choice_position = EVERY_KIND["choice"].value.index(first[0].params["choice"])
    assert documents[0]["misc"]["vals"]["choice"] == [choice_position]
    assert documents[0]["misc"]["vals"]["uniform"] == [first[0].params["uniform"]]


def test_a_trial_outside_the_space_is_left_out_of_the_history() -> None:
    optimizer = HyperoptOptimizer(hyperopt_matrix())
    (suggestion,) = optimizer.suggest([], 1)
    outside = Trial(0, {**suggestion.params, "uniform": 5.0}, "succeeded", {"loss": 1.0}, {})
    domain = hyperopt.Domain(lambda params: 0.0, hyperopt_space(EVERY_KIND))

    assert optimizer._document(hyperopt.Trials(), domain, outside) is None
    assert [s.meta["index"] for s in optimizer.suggest([outside], 2)] == [1, 2]


def branin(params: dict[str, Any]) -> float:
    x1, x2 = params["x1"], params["x2"]
    return ((x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2
            + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10 + params["bonus"] + 0.1 * (params["c"] == "b"))


BRANIN = {
    "x1": D("uniform", {"low": -5, "high": 10}),
    "x2": D("loguniform", {"low": -2, "high": 2.7}),
    "bonus": D("quniform", {"low": 0, "high": 3, "q": 1}),
    "c": D("choice", ["a", "b"]),
}


@pytest.mark.parametrize("algorithm", ["tpe", "anneal"])
def test_driven_one_trial_at_a_time_it_makes_exactly_fmins_choices(algorithm: str) -> None:
    matrix = hyperopt_matrix(BRANIN, num_runs=35, algorithm=algorithm)
    ours: list[Trial] = []
    while suggestions := HyperoptOptimizer(matrix).suggest(ours, 1):
        ours.append(trial(suggestions[0], loss=branin(dict(suggestions[0].params))))

    # hyperopt's own loop, given the same seed per trial id as ours.
    suggest_one = getattr(hyperopt, algorithm).suggest

    def seeded(new_ids: list[int], domain: Any, trials: Any, seed: int) -> Any:
        own_seed = int(np.random.default_rng([9, new_ids[0]]).integers(2**31 - 1))
        return suggest_one(new_ids, domain, trials, own_seed)

    theirs = hyperopt.Trials()
    hyperopt.fmin(branin, hyperopt_space(BRANIN), algo=seeded, max_evals=35, trials=theirs,
                  rstate=np.random.default_rng(0), show_progressbar=False)

    assert [t.metrics["loss"] for t in ours] == pytest.approx(theirs.losses(), rel=1e-12)


@pytest.mark.parametrize("size", [5, 30])
def test_tpe_suggests_what_hyperopts_own_suggest_does_from_a_mixed_history(size: int) -> None:
    """Succeeded, failed, running, metric-less and out-of-space trials, fewer and more than
    TPE's random start-up ones, several slots at once: the values hyperopt.tpe.suggest
    gives for the same documents and seeds."""
    matrix = hyperopt_matrix(BRANIN, kind="tpe", num_runs=60, metric={"name": "loss",
                                                                      "optimization": "minimize"})
    trials: list[Trial] = []
    while len(trials) < size:
        (suggestion,) = TPEOptimizer(matrix).suggest(trials, 1)
        kind = len(trials) % 7
        if kind == 1:
            trials.append(trial(suggestion, "failed"))
        elif kind == 3:
            trials.append(trial(suggestion, "running"))
        elif kind == 5:
            trials.append(trial(suggestion, "succeeded"))  # without the metric
        else:
            trials.append(trial(suggestion, loss=branin(dict(suggestion.params))))
    trials.append(Trial(len(trials), {**trials[0].params, "x1": 99.0}, "succeeded", {"loss": -5.0}, {}))

    optimizer = TPEOptimizer(matrix)
    ours = optimizer.suggest(trials, 3)

    domain = hyperopt.Domain(lambda params: 0.0, hyperopt_space(BRANIN))
    history = hyperopt.Trials()
    documents = [optimizer._document(history, domain, t) for t in trials]
    history.insert_trial_docs([d for d in documents if d is not None])
    history.refresh()
    theirs = []
    for index in [s.meta["index"] for s in ours]:
        (new,) = hyperopt.tpe.suggest([index], domain, history, optimizer._seed(index), verbose=False)
        theirs.append(optimizer._params(new["misc"]["vals"]))
        new["state"] = hyperopt.JOB_STATE_RUNNING
        history.insert_trial_docs([new])
        history.refresh()

    assert [s.params for s in ours] == theirs


def test_a_running_trial_changes_what_tpe_suggests_next() -> None:
    matrix = hyperopt_matrix(BRANIN, kind="tpe", num_runs=40)
    trials: list[Trial] = []
    while len(trials) < 25:
        (suggestion,) = TPEOptimizer(matrix).suggest(trials, 1)
        trials.append(trial(suggestion, loss=branin(dict(suggestion.params))))
    (alone,) = TPEOptimizer(matrix).suggest(trials, 1)
    pair = TPEOptimizer(matrix).suggest(trials, 2)

    running = trial(alone, "running")
    (after_running,) = TPEOptimizer(matrix).suggest([*trials, running], 1)

    assert pair[0] == alone
    assert pair[1] == after_running
    assert after_running.params != alone.params


def test_the_same_history_gives_the_same_suggestions() -> None:
    matrix = hyperopt_matrix(BRANIN, kind="tpe", num_runs=40)
    trials = [trial(s, loss=branin(dict(s.params))) for s in TPEOptimizer(matrix).suggest([], 1)]
    for _ in range(24):
        (suggestion,) = TPEOptimizer(matrix).suggest(trials, 1)
        trials.append(trial(suggestion, loss=branin(dict(suggestion.params))))

    assert TPEOptimizer(matrix).suggest(trials, 3) == TPEOptimizer(matrix).suggest(trials, 3)


def test_kept_documents_follow_a_trial_that_changes_and_keep_equal_values_of_two_types_apart() -> None:
    matrix = hyperopt_matrix({"c": D("choice", [1, True])}, kind="tpe", num_runs=10)
    domain = hyperopt.Domain(lambda params: 0.0, hyperopt_space(matrix.params))
    history = hyperopt.Trials()

    def document(t: Trial) -> dict[str, Any]:
        made = TPEOptimizer(matrix)._cached_document(history, domain, t)
        assert made is not None
        return made

    # 1 == True and hash(1) == hash(True): the positions of two different choices
    assert document(Trial(0, {"c": 1}, "succeeded", {"loss": 1.0}, {}))["misc"]["vals"] == {"c": [0]}
    assert document(Trial(0, {"c": True}, "succeeded", {"loss": 1.0}, {}))["misc"]["vals"] == {"c": [1]}
    assert document(Trial(1, {"c": 1}, "running", {}, {}))["state"] == hyperopt.JOB_STATE_RUNNING
    finished = document(Trial(1, {"c": 1}, "succeeded", {"loss": 0.5}, {}))
    assert (finished["state"], finished["result"]) == (hyperopt.JOB_STATE_DONE, {"status": "ok", "loss": 0.5})
    assert document(Trial(1, {"c": 1}, "succeeded", {"loss": 0.25}, {}))["result"]["loss"] == 0.25


# ----------------------------------------------------------------------- describe


def test_describe_reports_the_iteration_and_the_best_trial() -> None:
    matrix = hyperopt_matrix(BRANIN, num_runs=4, max_iterations=3, algorithm="rand")
    optimizer = HyperoptOptimizer(matrix)
    suggestions = optimizer.suggest([], 6)
    trials = [trial(s, loss=float(s.meta["index"] % 4)) for s in suggestions[:5]]
    trials.append(trial(suggestions[5], "running"))

    described = optimizer.describe(trials)

    assert json.loads(json.dumps(described)) == described
    assert {k: v for k, v in described.items() if k != "best"} == {
        "kind": "hyperopt", "algorithm": "rand", "planned": 12, "created": 6, "running": 1, "finished": 5,
        "iteration": 1, "max_iterations": 3, "num_runs": 4, "seed": 9,
    }
    assert [s.meta["iteration"] for s in suggestions] == [0, 0, 0, 0, 1, 1]
    assert (described["best"]["index"], described["best"]["value"]) == (0, 0.0)


def test_a_sweep_ends_after_the_planned_trials(make_trials: Callable[..., list[Trial]]) -> None:
    optimizer = TPEOptimizer(hyperopt_matrix(BRANIN, kind="tpe", num_runs=3, max_iterations=2))
    trials = make_trials(optimizer.suggest([], 10), status="succeeded")

    assert len(trials) == 6
    assert optimizer.suggest(trials, 5) == []
    assert optimizer.is_done(trials)
