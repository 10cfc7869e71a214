"""ASHA: promote as soon as a trial is in its rung's top 1/eta, never wait."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from polyaxon_optimizers import space
from polyaxon_optimizers.asha import AshaOptimizer
from polyaxon_optimizers.random_search import RandomSearchOptimizer

from polyaxon_core.entities import MatrixConfig, ParamDistribution, Suggestion, Trial
from polyaxon_core.interfaces import PluginConfigError
from polyaxon_core.testing import OptimizerContract
from polyaxon_core.testing.optimizer import Containment, simulate_sweep

D = ParamDistribution
PARAMS = {"x": D("uniform", {"low": 0, "high": 1}), "depth": D("choice", [1, 2, 3, 4])}


def asha_matrix(num_runs: int = 20, *, max_resource: float = 27, min_resource: float = 1,
                eta: float = 3, resume: bool = True, optimization: str = "maximize",
                **options: Any) -> MatrixConfig:
    return MatrixConfig(
        kind="asha", params=PARAMS, num_runs=num_runs, seed=9, concurrency=4,
        options={
            "max_resource": max_resource, "min_resource": min_resource, "eta": eta,
            "resource": {"name": "epochs", "type": "int"},
            "metric": {"name": "score", "optimization": optimization},
            "resume": resume, **options,
        },
    )


def score(params: dict[str, Any]) -> float:
    return float(params["x"] * params["epochs"] / (params["epochs"] + 1))


def trial_of(suggestion: Suggestion) -> Trial:
    index = suggestion.meta["index"]
    return Trial(index=index, params=dict(suggestion.params), status="running",
                 meta=dict(suggestion.meta), run_uuid=f"run-{index}")


def finish(trial: Trial, status: str = "succeeded",
           metric: Callable[[dict[str, Any]], float] = score) -> Trial:
    metrics = {"score": metric(dict(trial.params))} if status == "succeeded" else {}
    return Trial(trial.index, trial.params, status, metrics, trial.meta, trial.run_uuid)


def run_sweep(optimizer: AshaOptimizer, slots: int = 4, seed: int = 0) -> list[Trial]:
    return simulate_sweep(optimizer, slots, finish, seed)


def test_rungs_multiply_the_minimum_resource_by_eta_up_to_the_maximum() -> None:
    assert [AshaOptimizer(asha_matrix()).rung_resource(k) for k in range(4)] == [1, 3, 9, 27]
    optimizer = AshaOptimizer(asha_matrix(max_resource=30, min_resource=2, eta=2))
    assert optimizer.top == 3  # 2, 4, 8, 16 (32 would pass 30)
    assert AshaOptimizer(asha_matrix(max_resource=243)).top == 5  # exact, not log() = 4.99


def test_a_fresh_sweep_starts_new_configurations_on_the_bottom_rung() -> None:
    optimizer = AshaOptimizer(asha_matrix())
    suggestions = optimizer.suggest([], 5)
    assert [(s.meta["configuration"], s.meta["rung"], s.params["epochs"]) for s in suggestions] == [
        (c, 0, 1) for c in range(5)]
    assert [s.meta["index"] for s in suggestions] == [0, 4, 8, 12, 16]  # configuration * (K + 1)


def test_the_bottom_rung_runs_random_searchs_configurations() -> None:
    matrix = asha_matrix(num_runs=6)
    random_search = RandomSearchOptimizer(
        MatrixConfig(kind="random", params=PARAMS, num_runs=6, seed=matrix.seed))
    suggestions = AshaOptimizer(matrix).suggest([], 6)
    assert [{k: v for k, v in s.params.items() if k != "epochs"} for s in suggestions] == [
        random_search.configuration(i) for i in range(6)]


def test_the_best_of_three_finished_is_promoted_while_others_still_run() -> None:
    optimizer = AshaOptimizer(asha_matrix())
    started = [trial_of(s) for s in optimizer.suggest([], 5)]
    finished = [finish(t) for t in started[:3]]
    history = [*finished, *started[3:]]  # two stragglers keep running
    best = max(finished, key=lambda t: t.metrics["score"])
    (promotion,) = optimizer.suggest(history, 1)
    assert promotion.meta["rung"] == 1 and promotion.meta["promoted_from"] == best.index
    assert promotion.params == {**best.params, "epochs": 3}
    assert promotion.meta["resume_from"] == best.run_uuid


def test_with_fewer_than_eta_results_a_new_configuration_starts_instead_of_waiting() -> None:
    optimizer = AshaOptimizer(asha_matrix())
    started = [trial_of(s) for s in optimizer.suggest([], 4)]
    history = [finish(started[0]), finish(started[1]), started[2], started[3]]
    (job,) = optimizer.suggest(history, 1)
    assert job.meta["rung"] == 0 and job.meta["configuration"] == 4


def test_a_trial_outside_the_top_third_is_not_promoted() -> None:
    optimizer = AshaOptimizer(asha_matrix())
    started = [trial_of(s) for s in optimizer.suggest([], 6)]
    history = [finish(t) for t in started]
    ranked = sorted(history, key=lambda t: -t.metrics["score"])
    promotions = [s for s in optimizer.suggest(history, 4) if s.meta["rung"] == 1]
    assert [s.meta["promoted_from"] for s in promotions] == [t.index for t in ranked[:2]]


def test_higher_rungs_are_promoted_first() -> None:
    optimizer = AshaOptimizer(asha_matrix())
    bottom = [finish(trial_of(s)) for s in optimizer.suggest([], 9)]
    middle = [finish(trial_of(s)) for s in optimizer.suggest(bottom, 3)]
    assert [s.meta["rung"] for s in middle] and {s.meta["rung"] for s in middle} == {1}
    history = [*bottom, *middle]
    jobs = optimizer.suggest(history, 1)
    assert jobs[0].meta["rung"] == 2


def test_a_configuration_is_promoted_to_a_rung_only_once() -> None:
    optimizer = AshaOptimizer(asha_matrix())
    history = [finish(trial_of(s)) for s in optimizer.suggest([], 3)]
    promoted = [trial_of(s) for s in optimizer.suggest(history, 1)]
    assert promoted[0].meta["rung"] == 1
    again = optimizer.suggest([*history, *promoted], 1)
    assert again[0].meta["rung"] == 0  # the top third of three is that one trial, already promoted


def test_failed_trials_count_in_their_rung_but_are_never_promoted() -> None:
    optimizer = AshaOptimizer(asha_matrix())
    started = [trial_of(s) for s in optimizer.suggest([], 6)]
    ranked = sorted(started, key=lambda t: -score(dict(t.params)))
    history = [finish(t, "failed" if t is ranked[0] else "succeeded") for t in started]
    promotions = [s for s in optimizer.suggest(history, 4) if s.meta["rung"] == 1]
    # the top third of six finished is two trials: the failure ranks last, so the two best successes
    assert [s.meta["promoted_from"] for s in promotions] == [t.index for t in ranked[1:3]]


def test_ties_go_to_the_lower_index() -> None:
    optimizer = AshaOptimizer(asha_matrix())
    history = [finish(trial_of(s), metric=lambda params: 0.5) for s in optimizer.suggest([], 3)]
    assert optimizer.suggest(history, 1)[0].meta["promoted_from"] == 0


def test_the_sweep_ends_when_every_configuration_started_and_nothing_is_promotable() -> None:
    optimizer = AshaOptimizer(asha_matrix(num_runs=9, max_resource=9))
    trials = run_sweep(optimizer)
    rungs = [[t for t in trials if t.meta["rung"] == k] for k in range(3)]
    assert len(rungs[0]) == 9
    # at the end every rung's top third has been promoted
    for below, above in zip(rungs, rungs[1:], strict=False):
        best = sorted(below, key=lambda t: -t.metrics["score"])[: len(below) // 3]
        assert {t.index for t in best} <= {t.meta["promoted_from"] for t in above}
    assert optimizer.suggest(trials, 5) == []
    assert optimizer.describe(trials)["planned"] == len(trials)


def test_one_call_with_several_slots_answers_like_several_calls() -> None:
    optimizer = AshaOptimizer(asha_matrix())
    history = [finish(trial_of(s)) for s in optimizer.suggest([], 9)]
    together = optimizer.suggest(history, 5)
    one_by_one: list[Suggestion] = []
    for _ in range(5):
        one_by_one += optimizer.suggest([*history, *map(trial_of, one_by_one)], 1)
    assert together == one_by_one
    assert [s.meta["rung"] for s in together] == [1, 1, 1, 0, 0]


def test_the_same_history_in_any_order_gives_the_same_suggestions() -> None:
    optimizer = AshaOptimizer(asha_matrix())
    history = [finish(trial_of(s)) for s in optimizer.suggest([], 7)]
    shuffled = list(history)
    random.Random(2).shuffle(shuffled)
    assert AshaOptimizer(asha_matrix()).suggest(shuffled, 4) == optimizer.suggest(history, 4)


def test_describe_shows_rungs_and_knows_its_total_only_at_the_end() -> None:
    optimizer = AshaOptimizer(asha_matrix(num_runs=9, max_resource=9))
    assert optimizer.describe([])["planned"] is None
    trials = run_sweep(optimizer)
    described = optimizer.describe(trials)
    assert described["planned"] == described["created"] == len(trials)
    assert [r["resource"] for r in described["rungs"]] == [1, 3, 9]
    assert [r["created"] for r in described["rungs"]] == [
        sum(t.meta["rung"] == k for t in trials) for k in range(3)]
    assert described["rungs"][0]["promoted"] == described["rungs"][1]["created"]
    assert described["best"]["value"] == max(t.metrics["score"] for t in trials)


@pytest.mark.parametrize(("change", "message"), [
    ({"num_runs": None}, "needs numRuns"),
    ({"max_resource": None}, "needs maxResource"),
    ({"min_resource": 0}, "minResource must be a number above 0"),
    ({"eta": 1}, "eta must be a number above 1"),
    ({"max_resource": 2}, "maxResource \\(2\\) must be at least eta x minResource"),
    ({"max_resource": 10**9, "eta": 1.00001}, "more than 1000 rungs"),
    ({"resource": None}, "needs resource"),
    ({"metric": None}, "needs metric"),
])
def test_validation_names_the_field_and_the_fix(change: dict[str, Any], message: str) -> None:
    matrix = asha_matrix()
    num_runs = change.get("num_runs", matrix.num_runs)
    options = {k: v for k, v in {**matrix.options, **change}.items() if v is not None and k != "num_runs"}
    with pytest.raises(PluginConfigError, match=message):
        AshaOptimizer(MatrixConfig(kind="asha", params=PARAMS, num_runs=num_runs, options=options))


class TestAshaContract(OptimizerContract):
    @pytest.fixture
    def optimizer_class(self) -> type[AshaOptimizer]:
        return AshaOptimizer

    @pytest.fixture
    def matrix(self) -> MatrixConfig:
        return asha_matrix(num_runs=10, max_resource=9)

    @pytest.fixture
    def search_space(self, matrix: MatrixConfig) -> dict[str, ParamDistribution]:
        return {**matrix.params, "epochs": D("choice", [1, 3, 9])}

    @pytest.fixture
    def param_contains(self) -> Containment:
        return space.contains
