"""Hyperband: exact bracket arithmetic, synchronous promotions, determinism."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import pytest
from polyaxon_optimizers import space
from polyaxon_optimizers.hyperband import HyperbandOptimizer, hyperband_brackets

from polyaxon_core.entities import MatrixConfig, ParamDistribution, Suggestion, Trial
from polyaxon_core.interfaces import PluginConfigError
from polyaxon_core.lifecycle import is_final
from polyaxon_core.testing import OptimizerContract
from polyaxon_core.testing.optimizer import Containment, simulate_sweep

D = ParamDistribution
PARAMS = {"x": D("uniform", {"low": 0, "high": 1}), "depth": D("choice", [1, 2, 3, 4])}


def hyperband_matrix(max_iterations: int = 81, eta: float = 3, *, resume: bool = True,
                     resource_type: str = "int", optimization: str = "maximize",
                     params: dict[str, ParamDistribution] | None = None,
                     **options: Any) -> MatrixConfig:
    return MatrixConfig(
        kind="hyperband",
        params=PARAMS if params is None else params,
        seed=5,
        concurrency=4,
        options={
            "max_iterations": max_iterations,
            "eta": eta,
            "resource": {"name": "epochs", "type": resource_type},
            "metric": {"name": "score", "optimization": optimization},
            "resume": resume,
            **options,
        },
    )


def score(params: dict[str, Any]) -> float:
    """Better with larger x and more epochs; never tied for distinct x."""
    return float(params["x"] * params["epochs"] / (params["epochs"] + 1))


def trial_of(suggestion: Suggestion, status: str = "running",
             metrics: dict[str, float] | None = None) -> Trial:
    index = suggestion.meta["index"]
    return Trial(index=index, params=dict(suggestion.params), status=status,
                 metrics=metrics or {}, meta=dict(suggestion.meta), run_uuid=f"run-{index}")


def finish(trial: Trial, status: str = "succeeded",
           metric: Callable[[dict[str, Any]], float] = score) -> Trial:
    metrics = {"score": metric(dict(trial.params))} if status == "succeeded" else {}
    return Trial(trial.index, trial.params, status, metrics, trial.meta, trial.run_uuid)


def run_sweep(optimizer: HyperbandOptimizer, slots: int = 7, seed: int = 0,
              fail: Callable[[Trial], bool] = lambda trial: False,
              metric: Callable[[dict[str, Any]], float] = score) -> list[Trial]:
    """Suggest into free slots, finish one running trial at random, until done."""
    return simulate_sweep(
        optimizer, slots,
        lambda done: finish(done, "failed" if fail(done) else "succeeded", metric), seed)


def by_rung(trials: Sequence[Trial]) -> dict[tuple[int, int], list[Trial]]:
    rungs: dict[tuple[int, int], list[Trial]] = {}
    for trial in trials:
        rungs.setdefault((trial.meta["bracket"], trial.meta["rung"]), []).append(trial)
    return rungs


# ------------------------------------------------------------------ bracket arithmetic


def test_r81_eta3_is_table_1_of_the_paper() -> None:
    brackets = hyperband_brackets(81, 3)
    assert [bracket.s for bracket in brackets] == [4, 3, 2, 1, 0]
    assert [bracket.configurations for bracket in brackets] == [81, 34, 15, 8, 5]
    assert [[(rung.size, rung.resource) for rung in bracket.rungs] for bracket in brackets] == [
        [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
        [(34, 3), (11, 9), (3, 27), (1, 81)],
        [(15, 9), (5, 27), (1, 81)],
        [(8, 27), (2, 81)],
        [(5, 81)],
    ]
    assert sum(rung.size for bracket in brackets for rung in bracket.rungs) == 206


def test_r243_eta3_has_six_brackets_where_a_float_logarithm_finds_five() -> None:
    assert math.floor(math.log(243) / math.log(3)) == 4  # why the arithmetic is exact
    brackets = hyperband_brackets(243, 3)
    assert [bracket.s for bracket in brackets] == [5, 4, 3, 2, 1, 0]
    assert [bracket.configurations for bracket in brackets] == [243, 98, 41, 18, 9, 6]
    assert [rung.resource for rung in brackets[0].rungs] == [1, 3, 9, 27, 81, 243]


def _reference_s_max(max_iterations: int, eta: Fraction) -> int:
    s = 0
    while eta ** (s + 1) <= max_iterations:
        s += 1
    return s


@pytest.mark.parametrize("eta", [2, 3, 4, 5, 10])
@pytest.mark.parametrize("exponent", range(0, 9))
def test_at_a_power_of_eta_the_brackets_grow_by_one(eta: int, exponent: int) -> None:
    # s_max is `exponent` from eta ** exponent up to just below eta ** (exponent + 1)
    assert len(hyperband_brackets(eta**exponent, eta)) == exponent + 1
    assert len(hyperband_brackets(eta ** (exponent + 1) - 1, eta)) == exponent + 1
    if exponent:
        assert len(hyperband_brackets(eta**exponent - 1, eta)) == exponent


@pytest.mark.parametrize(("max_iterations", "eta"), [
    (1, 3), (2, 3), (8, 2), (9, 3), (10, 3), (26, 3), (27, 3), (100, 3), (243, 3), (728, 3),
    (729, 3), (1000, 10), (64, 4), (50, 2.5), (100, 1.5), (7, 1.1), (1024, 2),
])
def test_every_bracket_follows_the_papers_formulas_exactly(max_iterations: int, eta: float) -> None:
    exact_eta = Fraction(eta)
    s_max = _reference_s_max(max_iterations, exact_eta)
    brackets = hyperband_brackets(max_iterations, eta)
    assert [bracket.s for bracket in brackets] == list(range(s_max, -1, -1))
    offset = 0
    for bracket in brackets:
        s = bracket.s
        n = bracket.configurations
        assert n == math.ceil(Fraction(s_max + 1, s + 1) * exact_eta**s)
        assert len(bracket.rungs) == s + 1
        for i, rung in enumerate(bracket.rungs):
            assert rung.size == math.floor(n / exact_eta**i) >= 1
            assert rung.resource == max_iterations * exact_eta ** (i - s)
            assert rung.offset == offset  # indexes are consecutive across all rungs
            offset += rung.size
        assert bracket.rungs[-1].resource == max_iterations


def test_an_int_resource_rounds_down_and_a_float_resource_is_exact() -> None:
    as_int = HyperbandOptimizer(hyperband_matrix(10, resource_type="int"))
    as_float = HyperbandOptimizer(hyperband_matrix(10, resource_type="float"))
    trials = run_sweep(as_int)
    assert sorted({t.params["epochs"] for t in trials if t.meta["bracket"] == 0}) == [1, 3, 10]
    first = as_float.suggest([], 1)[0]
    assert first.params["epochs"] == pytest.approx(10 / 9) and first.meta["resource"] == 10 / 9


# ----------------------------------------------------------------- a whole sweep


def test_a_simulated_sweep_creates_the_table_and_promotes_the_best_of_each_rung() -> None:
    optimizer = HyperbandOptimizer(hyperband_matrix(81, 3))
    trials = run_sweep(optimizer)
    rungs = by_rung(trials)
    sizes = {(b.number, r.number): r.size for b in hyperband_brackets(81, 3) for r in b.rungs}
    assert {key: len(members) for key, members in rungs.items()} == sizes
    for (bracket, rung), members in rungs.items():
        assert {t.params["epochs"] for t in members} == {81 // 3 ** (4 - bracket - rung)}
        if rung == 0:
            continue
        below = rungs[bracket, rung - 1]
        best_below = sorted(below, key=lambda t: -t.metrics["score"])[: len(members)]
        assert sorted(t.params["x"] for t in members) == sorted(t.params["x"] for t in best_below)
        sources = {t.index: t for t in below}
        for trial in members:
            source = sources[trial.meta["promoted_from"]]
            assert trial.meta["resume_from"] == source.run_uuid
            assert {k: v for k, v in trial.params.items() if k != "epochs"} == {
                k: v for k, v in source.params.items() if k != "epochs"}
    # each bracket samples its own configurations
    firsts = [tuple(sorted(rungs[b, 0][0].params.items())) for b in range(5)]
    assert len(set(firsts)) == 5


def test_survivors_fill_the_slots_of_the_next_rung_best_first() -> None:
    optimizer = HyperbandOptimizer(hyperband_matrix(9, 3))
    base = optimizer.suggest([], 9)
    finished = [finish(trial_of(s)) for s in base]
    promoted = optimizer.suggest(finished, 3)
    ranked = sorted(finished, key=lambda t: -t.metrics["score"])
    assert [s.meta["promoted_from"] for s in promoted] == [t.index for t in ranked[:3]]
    assert [s.meta["index"] for s in promoted] == [9, 10, 11]


def test_a_rung_waits_for_every_trial_below_while_the_next_bracket_gets_the_slots() -> None:
    optimizer = HyperbandOptimizer(hyperband_matrix(9, 3))
    base = [trial_of(s) for s in optimizer.suggest([], 9)]
    straggler, *others = base
    history = [straggler, *(finish(t) for t in others)]
    waiting = optimizer.suggest(history, 4)
    # bracket 0 still has a running trial in rung 0: the slots go to bracket 1's rung 0
    assert [(s.meta["bracket"], s.meta["rung"]) for s in waiting] == [(1, 0)] * 4
    history = [finish(straggler), *(finish(t) for t in others)]
    assert [(s.meta["bracket"], s.meta["rung"]) for s in optimizer.suggest(history, 4)] == [
        (0, 1), (0, 1), (0, 1), (1, 0)]


def test_failed_trials_rank_last_and_never_continue() -> None:
    optimizer = HyperbandOptimizer(hyperband_matrix(9, 3))
    base = [trial_of(s) for s in optimizer.suggest([], 9)]
    ranked = sorted(base, key=lambda t: -score(dict(t.params)))
    failed = {ranked[0].index, ranked[1].index}
    history = [finish(t, "failed" if t.index in failed else "succeeded") for t in base]
    promoted = optimizer.suggest(history, 3)
    assert [s.meta["promoted_from"] for s in promoted] == [t.index for t in ranked[2:5]]


def test_a_rung_with_too_few_succeeded_trials_shrinks_and_planned_follows() -> None:
    optimizer = HyperbandOptimizer(hyperband_matrix(9, 3))
    assert optimizer.describe([])["planned"] == 22
    base = [trial_of(s) for s in optimizer.suggest([], 9)]
    survivor = base[4]
    history = [finish(t, "succeeded" if t is survivor else "stopped") for t in base]
    promoted = [s for s in optimizer.suggest(history, 3) if s.meta["bracket"] == 0]
    assert [s.meta["promoted_from"] for s in promoted] == [survivor.index]
    # bracket 0 now runs 9 + 1 + 1 instead of 9 + 3 + 1
    assert optimizer.describe(history)["planned"] == 22 - 2
    described = optimizer.describe(history)["brackets"][0]["rungs"]
    assert [rung["configurations"] for rung in described] == [9, 1, 1]


def test_a_failure_lowers_the_bound_of_the_rung_above_before_it_is_decided() -> None:
    optimizer = HyperbandOptimizer(hyperband_matrix(9, 3))
    base = [trial_of(s) for s in optimizer.suggest([], 9)]
    history = [finish(t, "failed") if t.index < 7 else t for t in base]
    # 2 configurations can still go on to rung 1 (size 3), then 1 to rung 2
    assert [r["configurations"] for r in optimizer.describe(history)["brackets"][0]["rungs"]] == [9, 2, 1]


def test_a_sweep_where_every_trial_fails_ends_without_promotions() -> None:
    optimizer = HyperbandOptimizer(hyperband_matrix(9, 3))
    trials = run_sweep(optimizer, fail=lambda trial: True)
    assert {t.meta["rung"] for t in trials} == {0}
    assert len(trials) == 9 + 5 + 3
    assert optimizer.describe(trials)["planned"] == len(trials)


def test_ties_go_to_the_lower_index() -> None:
    optimizer = HyperbandOptimizer(hyperband_matrix(9, 3))
    base = [trial_of(s) for s in optimizer.suggest([], 9)]
    history = [finish(t, metric=lambda params: 1.0) for t in base]
    assert [s.meta["promoted_from"] for s in optimizer.suggest(history, 3)] == [0, 1, 2]


def test_minimize_promotes_the_lowest_values() -> None:
    optimizer = HyperbandOptimizer(hyperband_matrix(9, 3, optimization="minimize"))
    base = [trial_of(s) for s in optimizer.suggest([], 9)]
    history = [finish(t) for t in base]
    lowest = sorted(history, key=lambda t: t.metrics["score"])[:3]
    assert [s.meta["promoted_from"] for s in optimizer.suggest(history, 3)] == [t.index for t in lowest]


def test_without_resume_promotions_do_not_name_a_trial_to_continue() -> None:
    optimizer = HyperbandOptimizer(hyperband_matrix(9, 3, resume=False))
    history = [finish(trial_of(s)) for s in optimizer.suggest([], 9)]
    promoted = optimizer.suggest(history, 3)
    assert promoted and all("resume_from" not in s.meta for s in promoted)
    assert all("promoted_from" in s.meta for s in promoted)


def test_a_small_discrete_space_shrinks_each_bracket_in_proportion() -> None:
    small = {"depth": D("choice", [1, 2, 3, 4])}
    optimizer = HyperbandOptimizer(hyperband_matrix(9, 3, params=small))
    trials = run_sweep(optimizer, metric=lambda params: params["depth"] * params["epochs"])
    assert {key: len(members) for key, members in by_rung(trials).items()} == {
        (0, 0): 4, (0, 1): 1, (1, 0): 4, (1, 1): 1, (2, 0): 3}
    assert all(len({t.params["depth"] for t in members}) == len(members)
               for (_, rung), members in by_rung(trials).items() if rung == 0)


# ------------------------------------------------------------------ determinism


def test_the_same_history_in_any_order_gives_the_same_suggestions() -> None:
    optimizer = HyperbandOptimizer(hyperband_matrix(27, 3))
    history = [finish(trial_of(s)) for s in optimizer.suggest([], 27)]
    history += [trial_of(s) for s in optimizer.suggest(history, 4)]
    shuffled = list(history)
    random.Random(1).shuffle(shuffled)
    fresh = HyperbandOptimizer(hyperband_matrix(27, 3))
    assert fresh.suggest(shuffled, 6) == optimizer.suggest(history, 6)


def test_a_restarted_sweep_goes_on_exactly_as_an_uninterrupted_one() -> None:
    uninterrupted = run_sweep(HyperbandOptimizer(hyperband_matrix(27, 3)), seed=3)
    # the same run of events, with a new optimizer object built before every call
    rng = random.Random(3)
    trials: dict[int, Trial] = {}
    while True:
        running = [t for t in trials.values() if not is_final(t.status)]
        optimizer = HyperbandOptimizer(hyperband_matrix(27, 3))
        for suggestion in optimizer.suggest(list(trials.values()), 7 - len(running)):
            trials[suggestion.meta["index"]] = trial_of(suggestion)
        running = [t for t in trials.values() if not is_final(t.status)]
        if not running:
            break
        done = rng.choice(running)
        trials[done.index] = finish(done)
    assert sorted(trials.values(), key=lambda t: t.index) == uninterrupted


def test_an_unseeded_matrix_derives_its_seed_from_the_params() -> None:
    unseeded = MatrixConfig(**{**hyperband_matrix(9, 3).__dict__, "seed": None})
    first, second = HyperbandOptimizer(unseeded), HyperbandOptimizer(unseeded)
    assert first.suggest([], 9) == second.suggest([], 9)
    assert first.describe([])["seed"] == second.describe([])["seed"]


# ------------------------------------------------------------------ describe


def test_describe_shows_brackets_rungs_progress_and_the_best_trial() -> None:
    optimizer = HyperbandOptimizer(hyperband_matrix(81, 3))
    fresh = optimizer.describe([])
    assert fresh["planned"] == 206 and fresh["created"] == 0 and fresh["best"] is None
    assert [(b["s"], b["configurations"]) for b in fresh["brackets"]] == [
        (4, 81), (3, 34), (2, 15), (1, 8), (0, 5)]
    trials = run_sweep(optimizer)
    done = optimizer.describe(trials)
    assert done["planned"] == done["created"] == done["finished"] == 206 and done["running"] == 0
    assert all(r["created"] == r["finished"] == r["configurations"]
               for b in done["brackets"] for r in b["rungs"])
    best = max(trials, key=lambda t: t.metrics["score"])
    assert done["best"] == {"metric": "score", "optimization": "maximize",
                            "value": best.metrics["score"], "index": best.index, "resource": 81,
                            "params": dict(best.params), "run_uuid": best.run_uuid}


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(("change", "message"), [
    ({"max_iterations": None}, "needs maxIterations"),
    ({"max_iterations": 0}, "maxIterations .* must be a whole number >= 1"),
    ({"max_iterations": 8.5}, "maxIterations .* must be a whole number"),
    ({"eta": 1}, "eta must be a number above 1"),
    ({"resource": None}, "needs resource: \\{name: <input>"),
    ({"resource": {"name": "epochs", "type": "str"}}, "resource.type must be int or float"),
    ({"resource": {"name": "x", "type": "int"}}, "resource 'x' is also a param"),
    ({"metric": None}, "needs metric"),
    ({"metric": {"name": "score", "optimization": "best"}}, "maximize or minimize"),
    ({"resume": "yes"}, "resume must be true or false"),
    ({"max_iterations": 10**9, "eta": 1.001}, "more than 1,000,000"),
    ({"max_iterations": 3**14, "eta": 3}, "plans 11180174 trials, more than 1,000,000"),
])
def test_validation_names_the_field_and_the_fix(change: dict[str, Any], message: str) -> None:
    matrix = hyperband_matrix(81, 3)
    options = {k: v for k, v in {**matrix.options, **change}.items() if v is not None}
    with pytest.raises(PluginConfigError, match=message):
        HyperbandOptimizer(MatrixConfig(kind="hyperband", params=PARAMS, options=options))


def test_a_matrix_without_params_is_refused() -> None:
    with pytest.raises(PluginConfigError, match="at least one param"):
        HyperbandOptimizer(hyperband_matrix(params={}))


# ------------------------------------------------------------------ the contract


class TestHyperbandContract(OptimizerContract):
    @pytest.fixture
    def optimizer_class(self) -> type[HyperbandOptimizer]:
        return HyperbandOptimizer

    @pytest.fixture
    def matrix(self) -> MatrixConfig:
        return hyperband_matrix(9, 3)

    @pytest.fixture
    def search_space(self, matrix: MatrixConfig) -> dict[str, ParamDistribution]:
        # the optimizer injects the resource itself: one of R * eta ** -k
        return {**matrix.params, "epochs": D("choice", [1, 3, 9])}

    @pytest.fixture
    def param_contains(self) -> Containment:
        return space.contains


def test_the_contract_sweep_runs_the_whole_plan() -> None:
    optimizer = HyperbandOptimizer(hyperband_matrix(9, 3))
    trials = run_sweep(optimizer, slots=3)
    assert Counter(t.params["epochs"] for t in trials) == {1: 9, 3: 3 + 5, 9: 1 + 1 + 3}
