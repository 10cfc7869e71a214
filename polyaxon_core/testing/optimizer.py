"""The contract every optimizer plugin passes.

Subclass :class:`OptimizerContract` in your plugin's tests and provide two fixtures::

    from polyaxon_core.entities import MatrixConfig, ParamDistribution
    from polyaxon_core.testing import OptimizerContract

    class TestMyOptimizer(OptimizerContract):
        @pytest.fixture
        def optimizer_class(self):
            return MyOptimizer

        @pytest.fixture
        def matrix(self):
            return MatrixConfig(kind="my-kind", num_runs=8, params={
                "lr": ParamDistribution("uniform", {"low": 0.001, "high": 0.1}),
            })

The contract is the orchestrator's side of the deal: the optimizer is found by name
through the ``polyaxon.plugins`` entry points, keeps no state between calls, gives each
suggestion an integer ``meta["index"]`` never seen in the sweep, answers the same
(matrix, trials) with the same suggestions, and finishes a sweep.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, ClassVar

import pytest

from polyaxon_core.config import Settings
from polyaxon_core.entities import MatrixConfig, ParamDistribution, Suggestion, Trial
from polyaxon_core.interfaces import Optimizer
from polyaxon_core.lifecycle import Status, is_final
from polyaxon_core.plugins import build_plugin_manager

#: Checks that a suggested value belongs to a distribution.
Containment = Callable[[ParamDistribution, Any], bool]


def _number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _between(value: Any, low: float, high: float, slack: float = 0.0) -> bool:
    tolerance = 1e-9 * max(abs(low), abs(high), 1.0) + slack
    return _number(value) and low - tolerance <= value <= high + tolerance


def _iso_between(value: Any, start: Any, stop: Any, parse: Callable[[str], Any]) -> bool:
    try:
        point = parse(value)
        return bool(parse(str(start)) <= point < parse(str(stop)))
    except (TypeError, ValueError):
        return False


def within_bounds(distribution: ParamDistribution, value: Any) -> bool:
    """Whether ``value`` lies within the support of ``distribution`` (normalized form).

    A deliberately coarse check, the least every optimizer must honour: membership for
    ``choice``/``pchoice``, and for the others the interval the values live in
    (``range`` stop exclusive, ``loguniform`` within ``[e**low, e**high]``, quantized
    kinds ``q / 2`` past their bounds, ``lognormal`` positive, dates as ISO strings). It
    does not check that a value sits on a ``range``/``linspace`` grid point or is a
    multiple of ``q``; plugins with an exact check pass it as the ``param_contains``
    fixture.
    """
    kind, spec = distribution.kind, distribution.value
    if kind == "choice":
        return any(value == item and type(value) is type(item) for item in spec)
    if kind == "pchoice":
        return any(value == item and type(value) is type(item) for item, _ in spec)
    if kind == "range":
        return _number(value) and spec["start"] <= value < spec["stop"]
    if kind == "daterange":
        return isinstance(value, str) and _iso_between(
            value, spec["start"], spec["stop"], date.fromisoformat
        )
    if kind == "datetimerange":
        return isinstance(value, str) and _iso_between(
            value, spec["start"], spec["stop"], datetime.fromisoformat
        )
    if kind in ("linspace", "geomspace"):
        return _between(value, min(spec["start"], spec["stop"]), max(spec["start"], spec["stop"]))
    if kind == "logspace":
        base = spec.get("base", 10)
        ends = (base ** spec["start"], base ** spec["stop"])
        return _between(value, min(ends), max(ends))
    if kind in ("uniform", "quniform"):
        return _between(value, spec["low"], spec["high"], spec.get("q", 0) / 2)
    if kind in ("loguniform", "qloguniform"):
        ends = math.exp(spec["low"]), math.exp(spec["high"])
        return _between(value, *ends, spec.get("q", 0) / 2)
    if kind in ("normal", "qnormal"):
        return _number(value)
    if kind == "lognormal":
        return _number(value) and value > 0
    if kind == "qlognormal":
        return _number(value) and value >= 0
    return False


def _metric_name(matrix: MatrixConfig) -> str:
    metric = matrix.options.get("metric")
    return metric["name"] if isinstance(metric, Mapping) and "name" in metric else "loss"


def _trials_from(
    suggestions: Sequence[Suggestion], status: str, metric: str | None = None
) -> list[Trial]:
    """Child runs as the orchestrator would store them for ``suggestions``."""
    trials = []
    for suggestion in suggestions:
        index = suggestion.meta["index"]
        trials.append(
            Trial(
                index=index,
                params=dict(suggestion.params),
                status=status,
                # A metric that is not monotonic in the index, so "best" means something.
                metrics={metric: float((index * 7) % 11)} if metric else {},
                meta=dict(suggestion.meta),
                run_uuid=f"run-{index}",
            )
        )
    return trials


def simulate_sweep(optimizer: Optimizer, slots: int, finish: Callable[[Trial], Trial],
                   seed: int = 0) -> list[Trial]:
    """Run a sweep the way the orchestrator does, without processes.

    Suggestions fill the free slots as running trials; then one running trial, picked at
    random (``seed``), is finished by ``finish`` (which returns it final, with metrics),
    and so on until nothing runs. Asserts that indexes are never reused and that the
    optimizer says it is done at the end. Returns the trials by index.
    """
    rng = random.Random(seed)
    trials: dict[int, Trial] = {}
    while True:
        running = [t for t in trials.values() if not is_final(t.status)]
        for suggestion in optimizer.suggest(list(trials.values()), slots - len(running)):
            index = suggestion.meta["index"]
            assert index not in trials, f"index {index} suggested twice"
            trials[index] = Trial(index=index, params=dict(suggestion.params), status="running",
                                  meta=dict(suggestion.meta), run_uuid=f"run-{index}")
        running = [t for t in trials.values() if not is_final(t.status)]
        if not running:
            assert optimizer.is_done(list(trials.values()))
            return sorted(trials.values(), key=lambda t: t.index)
        done = rng.choice(running)
        trials[done.index] = finish(done)


def _as_json(value: Any) -> Any:
    return json.loads(json.dumps(value, allow_nan=False))


class OptimizerContract:
    """Inherited tests for an optimizer plugin; see the module docstring for use.

    Required fixtures: ``optimizer_class`` (the class the plugin registers) and
    ``matrix`` (a :class:`MatrixConfig` it can search, with ``kind`` equal to the
    class's ``name`` and at least three configurations). Optional fixtures to override:
    ``search_space`` (the distributions suggestions must draw from; defaults to
    ``matrix.params``) and ``param_contains`` (defaults to :func:`within_bounds`).
    """

    #: A simulated sweep that creates more trials than this is reported as endless.
    max_trials: ClassVar[int] = 1000

    @pytest.fixture
    def search_space(self, matrix: MatrixConfig) -> Mapping[str, ParamDistribution]:
        return matrix.params

    @pytest.fixture
    def param_contains(self) -> Containment:
        return within_bounds

    @pytest.fixture
    def optimizer(self, optimizer_class: type[Optimizer], matrix: MatrixConfig) -> Optimizer:
        return optimizer_class(matrix)

    def _sweep(self, optimizer: Optimizer, matrix: MatrixConfig) -> list[Trial]:
        """Suggest, run every suggestion to success, repeat until nothing is suggested."""
        slots = matrix.concurrency or 3
        trials: list[Trial] = []
        while True:
            suggestions = optimizer.suggest(trials, slots)
            if not suggestions:
                return trials
            trials += _trials_from(suggestions, Status.SUCCEEDED, _metric_name(matrix))
            assert len(trials) <= self.max_trials, (
                f"the sweep created more than {self.max_trials} trials without finishing"
            )

    # ---------------------------------------------------------------- registration

    def test_is_an_optimizer_named_after_its_matrix_kind(
        self, optimizer_class: type[Optimizer], matrix: MatrixConfig
    ) -> None:
        assert issubclass(optimizer_class, Optimizer)
        assert optimizer_class.name == matrix.kind

    def test_is_registered_by_name_through_entry_points(
        self, optimizer_class: type[Optimizer], polyaxon_settings: Settings
    ) -> None:
        manager = build_plugin_manager(polyaxon_settings)
        assert manager.get("optimizer", optimizer_class.name) is optimizer_class

    # ----------------------------------------------------------------- suggestions

    def test_zero_slots_suggests_nothing(self, optimizer: Optimizer) -> None:
        assert optimizer.suggest([], 0) == []

    @pytest.mark.parametrize("slots", [1, 2])
    def test_a_fresh_sweep_suggests_between_one_and_slots(
        self, optimizer: Optimizer, slots: int
    ) -> None:
        suggestions = optimizer.suggest([], slots)
        assert 1 <= len(suggestions) <= slots

    def test_suggestions_cover_exactly_the_params_with_values_in_their_distributions(
        self,
        optimizer: Optimizer,
        matrix: MatrixConfig,
        search_space: Mapping[str, ParamDistribution],
        param_contains: Containment,
    ) -> None:
        for trial in self._sweep(optimizer, matrix):
            assert set(trial.params) == set(search_space)
            for name, value in trial.params.items():
                assert param_contains(search_space[name], value), (
                    f"{name}={value!r} is not in {search_space[name]}"
                )

    def test_suggestions_are_plain_json(self, optimizer: Optimizer) -> None:
        for suggestion in optimizer.suggest([], 5):
            assert _as_json(dict(suggestion.params)) == dict(suggestion.params)
            assert _as_json(dict(suggestion.meta)) == dict(suggestion.meta)

    def test_indexes_are_integers_unique_within_the_sweep(
        self, optimizer: Optimizer, matrix: MatrixConfig
    ) -> None:
        indexes = [trial.index for trial in self._sweep(optimizer, matrix)]
        assert all(type(index) is int for index in indexes)
        assert len(indexes) == len(set(indexes))

    def test_never_suggests_an_index_already_in_the_history(self, optimizer: Optimizer) -> None:
        history = _trials_from(optimizer.suggest([], 2), Status.RUNNING)
        assert history, "the matrix fixture must allow at least three configurations"
        later = optimizer.suggest(history, 5)
        assert {s.meta["index"] for s in later}.isdisjoint({t.index for t in history})

    def test_same_matrix_and_trials_give_the_same_suggestions(
        self, optimizer_class: type[Optimizer], matrix: MatrixConfig
    ) -> None:
        first, second = optimizer_class(matrix), optimizer_class(matrix)
        history = _trials_from(first.suggest([], 1), Status.SUCCEEDED, _metric_name(matrix))
        assert first.suggest(history, 3) == second.suggest(history, 3)
        assert first.suggest(history, 3) == first.suggest(history, 3)

    def test_a_restarted_optimizer_continues_without_repeats(
        self, optimizer_class: type[Optimizer], matrix: MatrixConfig
    ) -> None:
        before = optimizer_class(matrix)
        history = _trials_from(before.suggest([], 2), Status.RUNNING)
        after_restart = optimizer_class(matrix).suggest(history, 3)
        assert after_restart, "the matrix fixture must allow more than two configurations"
        assert after_restart == before.suggest(history, 3)
        assert {s.meta["index"] for s in after_restart}.isdisjoint({t.index for t in history})

    # ---------------------------------------------------------------- termination

    def test_a_fresh_sweep_is_not_done(self, optimizer: Optimizer) -> None:
        assert not optimizer.is_done([])

    def test_not_done_while_a_trial_is_running(self, optimizer: Optimizer) -> None:
        assert not optimizer.is_done(_trials_from(optimizer.suggest([], 1), Status.RUNNING))

    def test_a_simulated_sweep_ends_done(self, optimizer: Optimizer, matrix: MatrixConfig) -> None:
        trials = self._sweep(optimizer, matrix)
        assert all(is_final(trial.status) for trial in trials)
        assert optimizer.is_done(trials), "nothing more was suggested but the sweep is not done"

    # ------------------------------------------------------------------- describe

    def test_describe_is_json_serializable_throughout(
        self, optimizer: Optimizer, matrix: MatrixConfig
    ) -> None:
        trials = self._sweep(optimizer, matrix)
        for history in ([], trials[:1], trials):
            described = dict(optimizer.describe(history))
            assert _as_json(described) == described
