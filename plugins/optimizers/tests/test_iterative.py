"""The iteration loop every tuner inherits, and how kind: iterative finds its tuner."""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Sequence
from typing import Any

import pytest
from polyaxon_optimizers.iterative import IterativeOptimizer, Tuner, TunerError

from polyaxon_core.entities import MatrixConfig, ParamDistribution, Suggestion, Trial
from polyaxon_core.interfaces import PluginConfigError

X = {"x": ParamDistribution("range", {"start": 0, "stop": 100, "step": 1})}


class StepTuner(Tuner):
    """Iteration k proposes ``k + 2`` values: the best x so far plus 1, 2, ... (plus a draw).

    Records what it was given, so tests can check the history and the random state.
    """

    name = "step"
    calls: list[tuple[int, list[int], float]] = []

    def configurations(
        self, iteration: int, history: Sequence[Trial], rng: random.Random
    ) -> list[dict[str, Any]]:
        draw = rng.random()
        type(self).calls.append((iteration, [trial.index for trial in history], draw))
        if self.params.get("stop_at") == iteration:
            return []
        scored = [t for t in history if t.status == "succeeded"]
        start = max((t.params["x"] for t in scored), default=0)
        return [{"x": start + step} for step in range(1, iteration + 3)]


class BrokenTuner(Tuner):
    name = "broken"

    def configurations(
        self, iteration: int, history: Sequence[Trial], rng: random.Random
    ) -> list[dict[str, Any]]:
        return [self.params["answer"]]


def tuner_matrix(kind: str = "step", iterations: int = 3, **params: Any) -> MatrixConfig:
    return MatrixConfig(
        kind=kind, params=X, seed=1,
        options={
            "max_iterations": iterations,
            "tuner": {"hub_ref": kind, "params": {k: {"value": v} for k, v in params.items()}},
        },
    )


def run(suggestions: list[Suggestion], status: str = "succeeded") -> list[Trial]:
    return [Trial(s.meta["index"], dict(s.params), status, {"loss": -s.params["x"]}, dict(s.meta))
            for s in suggestions]


@pytest.fixture(autouse=True)
def fresh_calls() -> None:
    StepTuner.calls = []


def test_the_first_iteration_is_numbered_from_zero() -> None:
    suggestions = StepTuner(tuner_matrix()).suggest([], 10)

    assert [s.params for s in suggestions] == [{"x": 1}, {"x": 2}]
    assert [s.meta for s in suggestions] == [
        {"index": 0, "iteration": 0, "iteration_size": 2},
        {"index": 1, "iteration": 0, "iteration_size": 2},
    ]


def test_a_batch_larger_than_the_slots_is_handed_out_over_several_calls() -> None:
    tuner = StepTuner(tuner_matrix())
    first = run(tuner.suggest([], 1), "running")

    rest = tuner.suggest(first, 5)

    assert [(s.meta["index"], s.params) for s in rest] == [(1, {"x": 2})]


def test_the_next_iteration_waits_until_every_trial_of_this_one_is_final() -> None:
    tuner = StepTuner(tuner_matrix())
    batch = run(tuner.suggest([], 2))
    batch[1] = Trial(1, batch[1].params, "running", {}, batch[1].meta)

    assert tuner.suggest(batch, 5) == []
    assert not tuner.is_done(batch)


def test_each_iteration_sees_every_earlier_trial_and_continues_the_numbering() -> None:
    tuner = StepTuner(tuner_matrix())
    trials = run(tuner.suggest([], 5))
    trials += run(tuner.suggest(trials, 5))

    following = tuner.suggest(trials, 10)

    # iteration 1 started from x = 2 (the best of iteration 0); iteration 2 from x = 5
    assert [t.params["x"] for t in trials] == [1, 2, 3, 4, 5]
    assert [(s.meta["index"], s.meta["iteration"], s.params["x"]) for s in following] == [
        (5, 2, 6), (6, 2, 7), (7, 2, 8), (8, 2, 9)]
    assert [call[:2] for call in StepTuner.calls] == [(0, []), (1, [0, 1]), (2, [0, 1, 2, 3, 4])]


def test_failed_trials_end_their_iteration_like_succeeded_ones() -> None:
    tuner = StepTuner(tuner_matrix())
    trials = run(tuner.suggest([], 2), "failed")

    following = tuner.suggest(trials, 5)

    assert [(s.meta["iteration"], s.params["x"]) for s in following] == [(1, 1), (1, 2), (1, 3)]


def test_the_search_ends_after_max_iterations() -> None:
    tuner = StepTuner(tuner_matrix(iterations=2))
    trials = run(tuner.suggest([], 5))
    trials += run(tuner.suggest(trials, 5))

    assert tuner.suggest(trials, 5) == []
    assert tuner.is_done(trials)
    assert len(trials) == 5


def test_an_empty_batch_ends_the_search_early() -> None:
    tuner = StepTuner(tuner_matrix(iterations=10, stop_at=1))
    trials = run(tuner.suggest([], 5))

    assert tuner.suggest(trials, 5) == []
    assert tuner.is_done(trials)


def test_a_restarted_tuner_recomputes_the_same_batch_with_the_same_random_state() -> None:
    trials = run(StepTuner(tuner_matrix()).suggest([], 1), "running")

    again = StepTuner(tuner_matrix()).suggest(trials, 1)

    assert [s.meta["index"] for s in again] == [1]
    assert StepTuner.calls[0] == StepTuner.calls[1]


def test_the_random_state_depends_on_the_seed_and_the_iteration() -> None:
    trials = run(StepTuner(tuner_matrix()).suggest([], 5))
    StepTuner(tuner_matrix()).suggest(trials, 5)
    StepTuner(dataclasses.replace(tuner_matrix(), seed=2)).suggest([], 5)

    draws = [call[2] for call in StepTuner.calls]
    assert len(set(draws)) == 3


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"x": 500}, "tuner 'broken', iteration 0: x=500 is not in range"),
        ({"y": 1}, "must set exactly the params x"),
        ({"x": float("nan")}, "is not plain JSON"),
        ("x=1", "a configuration must be a mapping"),
    ],
)
def test_what_a_tuner_proposes_is_checked(answer: Any, message: str) -> None:
    tuner = BrokenTuner(tuner_matrix("broken", answer=answer))

    with pytest.raises(TunerError, match=message):
        tuner.suggest([], 1)


def test_describe_reports_the_iteration_and_the_best_trial_of_the_tuners_objective() -> None:
    tuner = StepTuner(tuner_matrix(metric="loss", optimization="minimize"))
    trials = run(tuner.suggest([], 5))
    trials += run(tuner.suggest(trials, 1), "running")

    described = tuner.describe(trials)

    assert json.loads(json.dumps(described)) == described
    assert {k: v for k, v in described.items() if k != "best"} == {
        "kind": "step", "tuner": "step", "planned": None, "created": 3, "running": 1, "finished": 2,
        "iteration": 1, "max_iterations": 3, "seed": 1,
    }
    assert (described["best"]["index"], described["best"]["value"]) == (1, -2)


def test_without_an_objective_describe_has_no_best() -> None:
    assert "best" not in StepTuner(tuner_matrix()).describe([])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_iterations": None}, "needs maxIterations"),
        ({"tuner": {"hub_ref": "step", "queue": "gpu"}}, "tuner.queue does not apply"),
        ({"tuner": {"hub_ref": "step", "presets": ["a"]}}, "tuner.presets does not apply"),
        ({"tuner": {"hub_ref": "step", "params": {"k": {"ref": "ops.x"}}}}, "must be written {value: ...}"),
        ({"tuner": {"hub_ref": "step",
                    "params": {"metric": {"value": "l"}, "optimization": {"value": "up"}}}},
         "optimization must be maximize or minimize"),
    ],
)
def test_bad_tuner_settings_are_refused(options: dict[str, Any], message: str) -> None:
    matrix = tuner_matrix()
    with pytest.raises(PluginConfigError, match=message):
        StepTuner(dataclasses.replace(matrix, options={**matrix.options, **options}))


# ------------------------------------------------------------------ finding the tuner


def iterative(tuner: dict[str, Any] | None) -> MatrixConfig:
    options: dict[str, Any] = {"max_iterations": 2}
    if tuner is not None:
        options["tuner"] = tuner
    return MatrixConfig(kind="iterative", params=X, options=options)


def test_iterative_needs_a_tuner_and_says_what_a_tuner_is() -> None:
    with pytest.raises(PluginConfigError) as refused:
        IterativeOptimizer(iterative(None))

    assert str(refused.value).startswith(
        "matrix kind 'iterative' needs tuner.hubRef, the name of an installed tuner (a plugin "
        "contributing a polyaxon_optimizers.iterative.Tuner); installed: "
    )


def test_an_unknown_tuner_is_refused_with_the_installed_ones() -> None:
    with pytest.raises(PluginConfigError, match="no tuner named 'nope'; installed: "):
        IterativeOptimizer(iterative({"hub_ref": "nope"}))


def test_naming_an_optimizer_points_to_its_own_kind() -> None:
    with pytest.raises(PluginConfigError, match="'grid' is an optimizer, not a tuner: use kind: grid"):
        IterativeOptimizer(iterative({"hub_ref": "grid"}))
