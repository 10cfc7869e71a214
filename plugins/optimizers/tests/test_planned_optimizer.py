"""The shared loop: handing out planned indexes, done-ness, progress and best trial."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from polyaxon_optimizers.grid import GridOptimizer

from polyaxon_core.entities import MatrixConfig, ParamDistribution, Trial
from polyaxon_core.interfaces import PluginConfigError

MakeTrials = Callable[..., list[Trial]]


def grid_with_metric(metric: Any) -> MatrixConfig:
    return MatrixConfig(
        kind="grid",
        params={"x": ParamDistribution("range", {"start": 0, "stop": 6, "step": 1})},
        options={"metric": metric},
    )


def finished(make_trials: MakeTrials, optimizer: GridOptimizer, scores: list[float]) -> list[Trial]:
    suggestions = optimizer.suggest([], len(scores))
    metrics = {s.meta["index"]: {"loss": score} for s, score in zip(suggestions, scores, strict=True)}
    return make_trials(suggestions, "succeeded", metrics)


@pytest.mark.parametrize(
    ("optimization", "best_index"), [("maximize", 2), ("MAXIMIZE", 2), ("minimize", 1), (None, 2)]
)
def test_best_follows_the_optimization(
    make_trials: MakeTrials, optimization: str | None, best_index: int
) -> None:
    optimizer = GridOptimizer(grid_with_metric({"name": "loss", "optimization": optimization}))
    best = optimizer.describe(finished(make_trials, optimizer, [0.5, 0.1, 0.9, 0.3]))["best"]
    assert best["index"] == best_index
    assert best["params"] == {"x": best_index}
    assert best["run_uuid"] == f"run-{best_index}"


def test_best_only_counts_succeeded_trials_with_a_finite_metric(make_trials: MakeTrials) -> None:
    optimizer = GridOptimizer(grid_with_metric({"name": "loss", "optimization": "maximize"}))
    suggestions = optimizer.suggest([], 5)
    trials = (
        make_trials(suggestions[:1], "succeeded", {0: {"loss": 0.2}})
        + make_trials(suggestions[1:2], "failed", {1: {"loss": 9.0}})
        + make_trials(suggestions[2:3], "running", {2: {"loss": 8.0}})
        + make_trials(suggestions[3:4], "succeeded", {3: {"loss": float("nan")}})
        + make_trials(suggestions[4:5], "succeeded", {4: {"accuracy": 7.0}})
    )
    described = optimizer.describe(trials)
    assert described["best"]["index"] == 0
    assert json.loads(json.dumps(described, allow_nan=False)) == described


def test_best_is_none_until_a_trial_succeeds(make_trials: MakeTrials) -> None:
    optimizer = GridOptimizer(grid_with_metric({"name": "loss", "optimization": "minimize"}))
    assert optimizer.describe(make_trials(optimizer.suggest([], 2)))["best"] is None


def test_ties_go_to_the_earliest_trial_whatever_the_history_order(make_trials: MakeTrials) -> None:
    optimizer = GridOptimizer(grid_with_metric({"name": "loss", "optimization": "minimize"}))
    trials = finished(make_trials, optimizer, [0.4, 0.1, 0.1])
    assert optimizer.describe(trials)["best"]["index"] == 1
    assert optimizer.describe(list(reversed(trials)))["best"]["index"] == 1


def test_no_best_without_a_metric() -> None:
    matrix = MatrixConfig(kind="grid", params={"x": ParamDistribution("choice", [1, 2])})
    assert "best" not in GridOptimizer(matrix).describe([])


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        ({"optimization": "maximize"}, "must be \\{name: <metric>"),
        ("loss", "must be \\{name: <metric>"),
        ({"name": "loss", "optimization": "best"}, "maximize or minimize, got 'best'"),
    ],
)
def test_a_malformed_metric_is_refused(metric: Any, message: str) -> None:
    with pytest.raises(PluginConfigError, match=message):
        GridOptimizer(grid_with_metric(metric))


def test_trials_outside_the_plan_do_not_count_but_must_be_final(make_trials: MakeTrials) -> None:
    optimizer = GridOptimizer(grid_with_metric({"name": "loss"}))
    planned = make_trials(optimizer.suggest([], 10), "succeeded")
    stray = Trial(index=99, params={"x": 0}, status="running")
    assert optimizer.is_done(planned)
    assert not optimizer.is_done([*planned, stray])
    assert not optimizer.is_done(planned[1:] + [Trial(index=99, params={}, status="succeeded")])
