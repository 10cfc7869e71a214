"""The early stopping rules as pure decisions over trials and the values they logged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from polyaxon_core.lifecycle import Status
from polyaxon_core.orchestrator.early_stopping import (
    FAILURE_REASON,
    METRIC_REASON,
    FailureRule,
    MetricRule,
    Policy,
    TrialProgress,
    decide,
    evaluation_point,
    read_rules,
)


def trial(index: int, values: Sequence[float] = (), status: str = "running") -> TrialProgress:
    return TrialProgress(index=index, uuid=f"uuid-{index:02d}", status=status,
                         series={"acc": list(values)})


def curve(quality: float, steps: int) -> list[float]:
    return [quality * (step + 1) for step in range(steps)]


def policy_rule(kind: str, optimization: str = "maximize", **fields: Any) -> MetricRule:
    return MetricRule("acc", 0.0, optimization, Policy(kind=kind, **fields))


def stopped(rules: Sequence[MetricRule | FailureRule], trials: Sequence[TrialProgress],
            planned: int | None = None) -> list[int]:
    decision = decide(rules, trials, planned)
    assert decision.sweep is None
    by_uuid = {t.uuid: t.index for t in trials}
    return sorted(by_uuid[stop.uuid] for stop in decision.trials)


# ------------------------------------------------------------------------ reading rules


def test_rules_are_read_from_the_matrix_options_with_polyaxons_fields() -> None:
    rules = read_rules({"early_stopping": [
        {"kind": "metric_early_stopping", "metric": "loss", "value": 0.1, "optimization": "MINIMIZE"},
        {"kind": "metric_early_stopping", "metric": "acc", "value": 0.9, "optimization": "maximize",
         "policy": {"kind": "truncation", "percent": 20, "evaluation_interval": 2,
                    "include_succeeded": True}},
        {"kind": "failure_early_stopping", "percent": 30},
    ]})
    assert rules == [
        MetricRule("loss", 0.1, "minimize"),
        MetricRule("acc", 0.9, "maximize", Policy("truncation", evaluation_interval=2, min_interval=1,
                                                  min_samples=3, percent=20.0, include_succeeded=True)),
        FailureRule(30.0),
    ]
    assert read_rules({}) == []


@pytest.mark.parametrize(("logged", "interval", "minimum", "point"), [
    (0, 1, 1, None), (1, 1, 1, 1), (5, 1, 1, 5), (5, 2, 1, 4), (5, 3, 1, 3), (2, 3, 1, None),
    (4, 1, 5, None), (5, 1, 5, 5), (7, 2, 5, 6), (5, 2, 5, None),
])
def test_the_evaluation_point_is_the_last_multiple_of_the_interval_from_the_minimum(
    logged: int, interval: int, minimum: int, point: int | None
) -> None:
    policy = Policy("median", evaluation_interval=interval, min_interval=minimum)
    assert evaluation_point(logged, policy) == point


# ---------------------------------------------------------------------------- threshold


@pytest.mark.parametrize(("optimization", "values", "fires"), [
    ("maximize", [0.5, 0.89], False), ("maximize", [0.5, 0.9], True), ("maximize", [0.95, 0.2], True),
    ("minimize", [1.5, 0.91], False), ("minimize", [0.9], True),
])
def test_a_threshold_stops_the_sweep_once_any_logged_value_reaches_it(
    optimization: str, values: list[float], fires: bool
) -> None:
    rule = MetricRule("acc", 0.9, optimization)
    decision = decide([rule], [trial(0, [0.1] if optimization == "maximize" else [5.0]),
                               trial(1, values, "succeeded")], None)
    if not fires:
        assert decision.sweep is None and decision.trials == ()
        return
    assert decision.sweep is not None
    assert decision.sweep.status == Status.SUCCEEDED and decision.sweep.reason == METRIC_REASON
    assert "trial 1 (uuid-01)" in decision.sweep.message and "acc" in decision.sweep.message


# ------------------------------------------------------------------------------ failures


def test_failures_stop_the_sweep_at_their_share_of_the_planned_trials() -> None:
    rule = FailureRule(30)
    trials = [trial(i, status="failed" if i in (1, 2) else "succeeded") for i in range(5)]
    assert decide([rule], trials, planned=10).sweep is None  # 2 of 10
    trials.append(trial(5, status="upstream_failed"))
    decision = decide([rule], trials, planned=10)
    assert decision.sweep is not None and decision.sweep.status == Status.FAILED
    assert decision.sweep.reason == FAILURE_REASON
    assert decision.sweep.message.startswith("3 of 10 trials failed")


def test_without_a_planned_total_failures_count_against_the_trials_created() -> None:
    trials = [trial(0, status="failed"), trial(1), trial(2, status="stopped")]
    assert decide([FailureRule(50)], trials, planned=None).sweep is None  # 1 of 3
    assert decide([FailureRule(33)], trials, planned=None).sweep is not None


def test_stopped_trials_are_not_failures() -> None:
    trials = [trial(i, status="stopped") for i in range(4)]
    assert decide([FailureRule(10)], trials, planned=4).sweep is None


# -------------------------------------------------------------------------------- median


def test_median_stops_a_running_trial_whose_best_is_below_the_median_of_running_averages() -> None:
    rule = policy_rule("median", min_samples=3)
    trials = [trial(0, curve(10, 4)), trial(1, curve(11, 4)), trial(2, curve(12, 4)),
              trial(3, curve(1, 4)), trial(4, curve(9, 4))]
    assert stopped([rule], trials) == [3]


def test_median_compares_at_the_same_interval_only_with_trials_that_reached_it() -> None:
    rule = policy_rule("median", min_samples=3)
    behind = [trial(0, curve(10, 2)), trial(1, curve(11, 2)), trial(2, curve(12, 2))]
    assert stopped([rule], [*behind, trial(3, curve(1, 4))]) == []  # nobody else at 4 yet
    assert stopped([rule], [*behind, trial(3, curve(1, 2))]) == [3]


def test_median_waits_for_min_samples_and_min_interval() -> None:
    few = [trial(0, curve(10, 5)), trial(1, curve(11, 5)), trial(3, curve(1, 5))]
    assert stopped([policy_rule("median", min_samples=3)], few) == []
    assert stopped([policy_rule("median", min_samples=2)], few) == [3]
    many = [trial(i, curve(10 + i, 5)) for i in range(3)] + [trial(3, curve(1, 5))]
    assert stopped([policy_rule("median", min_interval=6)], many) == []
    assert stopped([policy_rule("median", min_interval=5)], many) == [3]


def test_median_judges_at_the_last_multiple_of_the_evaluation_interval() -> None:
    # the laggard caught up at its 5th value, but the evaluation point is still 4
    others = [trial(i, curve(10, 5)) for i in range(3)]
    laggard = trial(3, [1, 2, 3, 4, 1000])
    assert stopped([policy_rule("median", evaluation_interval=4)], [*others, laggard]) == [3]
    assert stopped([policy_rule("median", evaluation_interval=5)], [*others, laggard]) == []


def test_median_uses_finished_and_stopped_trials_but_only_stops_running_ones() -> None:
    rule = policy_rule("median")
    trials = [trial(0, curve(10, 3), "succeeded"), trial(1, curve(11, 3), "stopped"),
              trial(2, curve(12, 3), "failed"), trial(3, curve(1, 3), "succeeded"),
              trial(4, curve(1, 3), "stopping"), trial(5, curve(1, 3))]
    assert stopped([rule], trials) == [5]


def test_median_to_minimize_stops_the_higher_values() -> None:
    rule = policy_rule("median", optimization="minimize")
    trials = [trial(i, curve(1 + i * 0.1, 3)) for i in range(3)] + [trial(3, curve(5, 3))]
    assert stopped([rule], trials) == [3]


# ---------------------------------------------------------------------------- truncation


def test_truncation_stops_the_lowest_percent_of_the_trials_at_an_interval() -> None:
    rule = policy_rule("truncation", percent=40)
    trials = [trial(i, curve(q, 3)) for i, q in enumerate([5, 1, 4, 2, 3])]
    assert stopped([rule], trials) == [1, 3]  # floor(40% of 5) = 2 lowest


def test_truncation_keeps_the_trials_it_already_stopped_in_the_ranking() -> None:
    rule = policy_rule("truncation", percent=40)
    trials = [trial(i, curve(q, 3), "stopped" if q < 3 else "running")
              for i, q in enumerate([5, 1, 4, 2, 3])]
    assert stopped([rule], trials) == []  # the cut at interval 3 was made once


def test_truncation_ranks_succeeded_trials_only_when_asked() -> None:
    trials = [trial(0, curve(10, 3), "succeeded"), trial(1, curve(11, 3), "succeeded"),
              trial(2, curve(12, 3), "succeeded"), trial(3, curve(4, 3)), trial(4, curve(5, 3)),
              trial(5, curve(6, 3)), trial(6, curve(7, 3))]
    excluded = policy_rule("truncation", percent=50)
    included = policy_rule("truncation", percent=50, include_succeeded=True)
    assert stopped([excluded], trials) == [3, 4]  # 2 of the 4 running
    assert stopped([included], trials) == [3, 4, 5]  # 3 of all 7


def test_truncation_ties_rank_the_later_trial_lower() -> None:
    trials = [trial(i, curve(1, 3)) for i in range(4)]
    assert stopped([policy_rule("truncation", percent=50)], trials) == [2, 3]


# ---------------------------------------------------------------------------------- diff


@pytest.mark.parametrize(("quality", "percent", "stops"), [(7, 25, True), (8, 25, False), (7.6, 25, False)])
def test_diff_stops_a_trial_worse_than_the_best_by_more_than_percent(
    quality: float, percent: float, stops: bool
) -> None:
    rule = policy_rule("diff", percent=percent)
    trials = [trial(0, curve(10, 3)), trial(1, curve(6, 3)), trial(2, curve(5, 3)),
              trial(3, curve(quality, 3))]
    assert (3 in stopped([rule], trials)) is stops
    assert 0 not in stopped([rule], trials)


def test_diff_to_minimize_measures_the_gap_above_the_best() -> None:
    rule = policy_rule("diff", optimization="minimize", percent=10)
    trials = [trial(0, [1.0, 1.0]), trial(1, [1.05, 1.05]), trial(2, [2.0, 2.0]), trial(3, [1.2, 1.2])]
    assert stopped([rule], trials) == [2, 3]


# ------------------------------------------------------------------------------ together


def test_a_sweep_stop_wins_over_stopping_trials_and_the_first_rule_written_wins() -> None:
    trials = [trial(i, curve(10, 3)) for i in range(3)] + [trial(3, curve(1, 3), "failed")]
    rules: list[MetricRule | FailureRule] = [
        policy_rule("median"), FailureRule(25), MetricRule("acc", 30, "maximize")]
    decision = decide(rules, trials, planned=4)
    assert decision.sweep is not None and decision.sweep.reason == FAILURE_REASON
    assert decision.trials == ()
    decision = decide([rules[2], rules[1]], trials, planned=4)
    assert decision.sweep is not None and decision.sweep.reason == METRIC_REASON


def test_a_trial_condemned_by_two_policies_is_stopped_once_with_the_first_reason() -> None:
    trials = [trial(i, curve(10, 3)) for i in range(3)] + [trial(3, curve(1, 3))]
    decision = decide([policy_rule("diff", percent=10), policy_rule("median")], trials, None)
    assert [(stop.uuid, stop.reason) for stop in decision.trials] == [("uuid-03", "early stopping: diff")]
    assert "worse than the best of 3 other trials" in decision.trials[0].message
