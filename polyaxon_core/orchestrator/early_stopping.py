"""Early stopping of sweeps: Polyaxon's ``metric_early_stopping`` and ``failure_early_stopping``.

A matrix's ``earlyStopping`` is a list of rules, each one of:

* ``metric_early_stopping`` without ``policy`` — a threshold: once any trial has logged
  ``metric`` at ``value`` or better (``>=`` to maximize, ``<=`` to minimize), the sweep
  stops: no new trials, running ones are stopped, and the sweep ends ``succeeded``.
* ``metric_early_stopping`` with a ``policy`` — only the running trials the policy
  condemns are stopped; the sweep goes on (``value`` is not used, as in Polyaxon).
* ``failure_early_stopping`` — once ``percent`` % of the sweep's trials failed, the sweep
  stops and ends ``failed``. The share is of the optimizer's ``planned`` total, or of
  the trials created so far when the optimizer does not know its total.

Policies read the metric's *intermediate* values: every value a trial logged, in the
order it logged them. A trial's ``n``-th logged value is its interval ``n``. A trial is
judged at its latest *evaluation point*: the largest multiple of ``evaluationInterval``
(default 1) it has reached, once that is at least ``minInterval`` (default 1). It is
compared with the other trials of the sweep that reached the same point (whatever their
status), and only when there are at least ``minSamples`` (default 3) of them. A trial's
*score* at point ``N`` is its best value among its first ``N``.

* ``median`` — stop the trial when its score at ``N`` is worse than the median of the
  others' running averages over their first ``N`` values.
* ``truncation`` — rank the trials that reached ``N`` by score (ties: the later trial
  ranks lower); stop the trial when it is among the lowest ``floor(percent% x count)``.
  Succeeded trials are part of the ranking only with ``includeSucceeded``. Trials
  already stopped stay in the ranking, so the cut at one point is made once, not again
  every time a stopped trial leaves.
* ``diff`` — stop the trial when its score at ``N`` is worse than the best of the
  others' scores at ``N`` by more than ``percent`` % of that best score's magnitude.

Everything here is a pure function of the rows (statuses and logged values): an
orchestrator restarted at any moment takes the same decisions, and the decisions it
already applied are in the statuses (a stopped trial, a stopping sweep) themselves.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from polyaxon_core.lifecycle import Status, is_final

#: Reasons recorded in the status timelines; a sweep's reason decides its final status.
METRIC_REASON = "early stopping: metric"
FAILURE_REASON = "early stopping: failures"
SWEEP_OUTCOMES: Mapping[str, Status] = {
    METRIC_REASON: Status.SUCCEEDED,
    FAILURE_REASON: Status.FAILED,
}
FAILED_STATUSES = frozenset({Status.FAILED.value, Status.UPSTREAM_FAILED.value})

DEFAULT_EVALUATION_INTERVAL = 1
DEFAULT_MIN_INTERVAL = 1
DEFAULT_MIN_SAMPLES = 3


def policy_reason(kind: str) -> str:
    return f"early stopping: {kind}"


@dataclass(frozen=True)
class Policy:
    kind: str
    evaluation_interval: int = DEFAULT_EVALUATION_INTERVAL
    min_interval: int = DEFAULT_MIN_INTERVAL
    min_samples: int = DEFAULT_MIN_SAMPLES
    percent: float = 0.0
    include_succeeded: bool = False


@dataclass(frozen=True)
class MetricRule:
    metric: str
    value: float
    optimization: str
    policy: Policy | None = None


@dataclass(frozen=True)
class FailureRule:
    percent: float


Rule = MetricRule | FailureRule


@dataclass(frozen=True)
class TrialProgress:
    """A trial as early stopping sees it: ``series`` maps a metric to every value the
    trial logged, in the order logged."""

    index: int
    uuid: str
    status: str
    series: Mapping[str, Sequence[float]]


@dataclass(frozen=True)
class TrialStop:
    uuid: str
    reason: str
    message: str


@dataclass(frozen=True)
class SweepStop:
    status: Status
    reason: str
    message: str


@dataclass(frozen=True)
class Decision:
    sweep: SweepStop | None = None
    trials: tuple[TrialStop, ...] = ()


def read_rules(options: Mapping[str, Any]) -> list[Rule]:
    """The rules of ``matrix.options["early_stopping"]`` (validated by the polyaxonfile schema)."""
    rules: list[Rule] = []
    for entry in options.get("early_stopping") or ():
        if entry.get("kind") == "failure_early_stopping":
            rules.append(FailureRule(percent=float(entry["percent"])))
            continue
        policy = entry.get("policy")
        rules.append(
            MetricRule(
                metric=entry["metric"],
                value=float(entry["value"]),
                optimization=str(entry.get("optimization") or "maximize").lower(),
                policy=None if not policy else Policy(
                    kind=policy["kind"],
                    evaluation_interval=policy.get("evaluation_interval") or DEFAULT_EVALUATION_INTERVAL,
                    min_interval=policy.get("min_interval") or DEFAULT_MIN_INTERVAL,
                    min_samples=policy.get("min_samples") or DEFAULT_MIN_SAMPLES,
                    percent=float(policy.get("percent") or 0.0),
                    include_succeeded=bool(policy.get("include_succeeded")),
                ),
            )
        )
    return rules


def metric_names(rules: Sequence[Rule]) -> set[str]:
    """The metrics whose series the rules read."""
    return {rule.metric for rule in rules if isinstance(rule, MetricRule)}


def decide(rules: Sequence[Rule], trials: Sequence[TrialProgress], planned: int | None) -> Decision:
    """What the rules call for now.

    A sweep-level stop (the first rule that fires, in the order written) wins over
    stopping single trials. Only running trials are condemned by policies: a trial whose
    stop was already requested (``stopping``) or that is final is left alone.
    """
    for rule in rules:
        stop = _sweep_stop(rule, trials, planned)
        if stop is not None:
            return Decision(sweep=stop)
    condemned: dict[str, TrialStop] = {}
    for rule in rules:
        if not isinstance(rule, MetricRule) or rule.policy is None:
            continue
        for trial in trials:
            if trial.uuid in condemned or is_final(trial.status) or trial.status == Status.STOPPING:
                continue
            message = _judge(rule, rule.policy, trial, trials)
            if message is not None:
                condemned[trial.uuid] = TrialStop(trial.uuid, policy_reason(rule.policy.kind), message)
    return Decision(trials=tuple(condemned.values()))


# -------------------------------------------------------------------------- sweep rules


def _sweep_stop(rule: Rule, trials: Sequence[TrialProgress], planned: int | None) -> SweepStop | None:
    if isinstance(rule, FailureRule):
        failed = sum(1 for trial in trials if trial.status in FAILED_STATUSES)
        total = planned if planned else len(trials)
        if failed and failed * 100 >= rule.percent * total:
            return SweepStop(
                Status.FAILED, FAILURE_REASON,
                f"{failed} of {total} trials failed, at least the {rule.percent:g}% "
                "failure_early_stopping allows",
            )
        return None
    if rule.policy is not None:
        return None
    for trial in sorted(trials, key=lambda t: t.index):
        for value in trial.series.get(rule.metric, ()):
            if _reaches(value, rule.value, rule.optimization):
                sign = ">=" if rule.optimization == "maximize" else "<="
                return SweepStop(
                    Status.SUCCEEDED, METRIC_REASON,
                    f"trial {trial.index} ({trial.uuid[:12]}) logged {rule.metric} = {value:g}, "
                    f"{sign} {rule.value:g}",
                )
    return None


def _reaches(value: float, threshold: float, optimization: str) -> bool:
    return value >= threshold if optimization == "maximize" else value <= threshold


# ---------------------------------------------------------------------------- policies


def evaluation_point(logged: int, policy: Policy) -> int | None:
    """The interval a trial with ``logged`` values is judged at, or None before ``minInterval``."""
    point = logged - logged % policy.evaluation_interval
    return point if point >= max(policy.min_interval, 1) else None


def _score(values: Sequence[float], point: int, optimization: str) -> float:
    head = values[:point]
    return max(head) if optimization == "maximize" else min(head)


def _worse(value: float, than: float, optimization: str) -> bool:
    return value < than if optimization == "maximize" else value > than


def _judge(rule: MetricRule, policy: Policy, trial: TrialProgress,
           trials: Sequence[TrialProgress]) -> str | None:
    """Why ``trial`` should stop under ``policy`` now, or None."""
    values = trial.series.get(rule.metric, ())
    point = evaluation_point(len(values), policy)
    if point is None:
        return None
    others = [
        (other, series)
        for other in trials
        if other.uuid != trial.uuid
        and len(series := other.series.get(rule.metric, ())) >= point
    ]
    if policy.kind == "truncation" and not policy.include_succeeded:
        others = [(other, series) for other, series in others if other.status != Status.SUCCEEDED]
    if len(others) < policy.min_samples:
        return None
    score = _score(values, point, rule.optimization)
    name = rule.metric
    if policy.kind == "median":
        median = statistics.median(statistics.fmean(series[:point]) for _, series in others)
        if _worse(score, median, rule.optimization):
            return (f"its best {name} over {point} values, {score:g}, is worse than the median "
                    f"{median:g} of {len(others)} other trials' running averages")
        return None
    if policy.kind == "diff":
        scores = [_score(series, point, rule.optimization) for _, series in others]
        best = max(scores) if rule.optimization == "maximize" else min(scores)
        margin = abs(best) * policy.percent / 100
        bound = best - margin if rule.optimization == "maximize" else best + margin
        if _worse(score, bound, rule.optimization):
            return (f"its best {name} over {point} values, {score:g}, is more than "
                    f"{policy.percent:g}% worse than the best of {len(others)} other trials, {best:g}")
        return None
    if policy.kind == "truncation":
        sign = 1 if rule.optimization == "maximize" else -1
        ranking = sorted(
            [(score, trial.index), *((_score(series, point, rule.optimization), other.index)
                                     for other, series in others)],
            key=lambda item: (sign * item[0], -item[1]),
        )
        cut = math.floor(len(ranking) * policy.percent / 100)
        position = ranking.index((score, trial.index))
        if position < cut:
            return (f"its best {name} over {point} values, {score:g}, ranks {len(ranking) - position} "
                    f"of {len(ranking)}, in the lowest {policy.percent:g}%")
        return None
    return None
