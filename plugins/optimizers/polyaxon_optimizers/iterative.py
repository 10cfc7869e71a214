"""Bring your own search logic (``matrix.kind: iterative``).

The entry point ``optimizer-iterative`` registers :class:`IterativeOptimizer`. The logic
itself is a *tuner*: a subclass of :class:`Tuner` that a plugin contributes like any
optimizer, through ``polyaxon_register_optimizers`` in the ``polyaxon.plugins``
entry-point group. A matrix names it in ``tuner.hubRef``, Polyaxon's field for the
component that holds the suggestion logic, and passes it ``tuner.params``::

    matrix:
      kind: iterative
      maxIterations: 5
      tuner:
        hubRef: evolution            # the tuner's `name`
        params:
          metric: {value: loss}
          optimization: {value: minimize}
      params:
        lr: {kind: loguniform, value: {low: -9.2, high: -2.3}}

The search runs in iterations, as in Polyaxon: the tuner proposes a batch of
configurations, the batch runs (``concurrency`` at a time), and once every trial of it
is final the tuner sees all results and proposes the next batch, up to
``maxIterations`` batches or until it proposes none. The tuner runs inside the
orchestrator, so ``tuner.queue`` and ``tuner.presets`` (which place a tuner component
on a queue) do not apply and are refused.
"""

from __future__ import annotations

import json
import random
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from polyaxon_core.entities import MatrixConfig, Suggestion, Trial
from polyaxon_core.hookspecs import hookimpl
from polyaxon_core.interfaces import Optimizer, PluginConfigError
from polyaxon_core.lifecycle import is_final
from polyaxon_optimizers import space
from polyaxon_optimizers.base import OPTIMIZATIONS, _best_trial, metric_option, validate_distributions
from polyaxon_optimizers.random_search import derived_seed


class TunerError(ValueError):
    """A tuner proposed something that cannot be run; the message names the tuner."""


def tuner_section(matrix: MatrixConfig) -> Mapping[str, Any]:
    """``matrix.options["tuner"]``, or an empty mapping when the matrix has none."""
    section = matrix.options.get("tuner") or {}
    if not isinstance(section, Mapping):
        raise PluginConfigError(f"matrix tuner must be a mapping with hubRef, got {section!r}")
    return section


def tuner_params(matrix: MatrixConfig) -> dict[str, Any]:
    """``tuner.params`` as ``{name: value}``: each param is written ``{value: ...}``."""
    raw = tuner_section(matrix).get("params") or {}
    if not isinstance(raw, Mapping):
        raise PluginConfigError(f"matrix tuner.params must be a mapping, got {raw!r}")
    params: dict[str, Any] = {}
    for name, param in raw.items():
        if not isinstance(param, Mapping) or set(param) != {"value"}:
            raise PluginConfigError(
                f"matrix tuner.params.{name} must be written {{value: ...}}; the tuner runs in "
                f"the orchestrator, so references to other runs or connections do not apply, "
                f"got {param!r}"
            )
        params[name] = param["value"]
    return params


class Tuner(Optimizer):
    """Suggestion logic run in iterations; subclass it and implement :meth:`configurations`.

    Register the subclass with ``polyaxon_register_optimizers``; its ``name`` is what
    matrices put in ``tuner.hubRef``. The base class does the bookkeeping: it numbers
    trials, waits for each iteration to finish, stops after ``maxIterations``, checks
    what the tuner proposes, and describes progress. A tuner can also be selected
    directly as ``matrix.kind: <name>`` from Python (the polyaxonfile only knows
    Polyaxon's kinds, hence ``kind: iterative``).

    Available to :meth:`configurations`: ``self.matrix`` (its params are the space to
    search, possibly empty when the tuner defines its own), ``self.params`` (the
    tuner's params, from ``tuner.params``), ``self.objective`` (``(metric,
    optimization)`` or None) and ``self.max_iterations``.

    The objective is ``matrix.options["metric"]`` if the matrix has one, else the tuner
    params ``metric`` and ``optimization`` (default ``maximize``); it decides the
    ``best`` trial that ``describe`` reports. ``configurations`` may use it or not.
    """

    description = "A tuner for kind: iterative."

    @classmethod
    def validate(cls, matrix: MatrixConfig) -> None:
        """Check the params, ``maxIterations``, the tuner section and the objective.

        Subclasses that take tuner params check them here too (call ``super()`` first)
        and raise PluginConfigError naming ``tuner.params.<name>``.
        """
        super().validate(matrix)
        validate_distributions(matrix)
        iterations = matrix.options.get("max_iterations")
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
            raise PluginConfigError(
                f"matrix kind '{matrix.kind}' needs maxIterations, a whole number >= 1 of "
                f"iterations, got {iterations!r}"
            )
        section = tuner_section(matrix)
        for field in ("queue", "presets"):
            if section.get(field):
                raise PluginConfigError(
                    f"matrix tuner.{field} does not apply: tuner '{cls.name}' runs inside the "
                    f"orchestrator, not as a run of its own; remove tuner.{field}"
                )
        cls.objective_of(matrix)

    @classmethod
    def objective_of(cls, matrix: MatrixConfig) -> tuple[str, str] | None:
        """``(metric, optimization)`` of ``matrix``, or None: what ``self.objective`` holds."""
        metric = metric_option(matrix)
        if metric is not None:
            return metric
        params = tuner_params(matrix)
        if params.get("metric") is None:
            return None
        if not isinstance(params["metric"], str):
            raise PluginConfigError(
                f"matrix tuner.params.metric must be the name of a metric, got {params['metric']!r}"
            )
        optimization = str(params.get("optimization") or "maximize").lower()
        if optimization not in OPTIMIZATIONS:
            raise PluginConfigError(
                f"matrix tuner.params.optimization must be maximize or minimize, "
                f"got {params.get('optimization')!r}"
            )
        return params["metric"], optimization

    def __init__(self, matrix: MatrixConfig) -> None:
        super().__init__(matrix)
        self.params = tuner_params(matrix)
        self.objective = self.objective_of(matrix)
        self.max_iterations: int = matrix.options["max_iterations"]
        self.seed = matrix.seed if matrix.seed is not None else derived_seed(matrix)

    @abstractmethod
    def configurations(
        self, iteration: int, history: Sequence[Trial], rng: random.Random
    ) -> list[dict[str, Any]]:
        """The configurations to run in ``iteration`` (0 for the first batch).

        ``history`` is every trial of the earlier iterations, all final, in index order:
        their ``params``, ``status`` and ``metrics`` (each metric's last value). Return a
        list of ``{param: value}`` with plain JSON values, inside the matrix's params
        when it has some; an empty list ends the search. Draw randomness from ``rng`` only
        (it is seeded by the matrix's seed and ``iteration``) and depend on nothing but
        the arguments and ``self``: the orchestrator may ask again for the same
        iteration, after a restart or to fill more slots, and must get the same answer.
        """

    # --------------------------------------------------------------- the loop

    def _iterations(self, trials: Sequence[Trial]) -> dict[int, list[Trial]]:
        grouped: dict[int, list[Trial]] = {}
        for trial in trials:
            iteration = trial.meta.get("iteration")
            if isinstance(iteration, bool) or not isinstance(iteration, int):
                raise TunerError(
                    f"trial {trial.index} has no iteration in its meta; it was not created by "
                    f"an iterative sweep"
                )
            grouped.setdefault(iteration, []).append(trial)
        return grouped

    def _batch(self, iteration: int, history: Sequence[Trial]) -> list[dict[str, Any]]:
        """The tuner's configurations for ``iteration``, checked."""
        rng = random.Random(f"{self.seed}:{iteration}")
        ordered = sorted(history, key=lambda trial: trial.index)
        proposed = self.configurations(iteration, ordered, rng)
        if not isinstance(proposed, list):
            raise TunerError(f"tuner '{self.name}' must return a list of configurations, got {proposed!r}")
        return [self._checked(iteration, configuration) for configuration in proposed]

    def _checked(self, iteration: int, configuration: Any) -> dict[str, Any]:
        where = f"tuner '{self.name}', iteration {iteration}"
        if not isinstance(configuration, Mapping):
            raise TunerError(f"{where}: a configuration must be a mapping, got {configuration!r}")
        try:
            plain = json.loads(json.dumps(dict(configuration), allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise TunerError(f"{where}: configuration {configuration!r} is not plain JSON ({exc})") from None
        if plain != dict(configuration):
            raise TunerError(f"{where}: configuration {configuration!r} is not plain JSON")
        if self.matrix.params:
            if set(plain) != set(self.matrix.params):
                raise TunerError(
                    f"{where}: configuration {plain!r} must set exactly the params "
                    f"{', '.join(sorted(self.matrix.params))}"
                )
            for name, value in plain.items():
                if not space.contains(self.matrix.params[name], value):
                    distribution = self.matrix.params[name]
                    raise TunerError(
                        f"{where}: {name}={value!r} is not in {distribution.kind} {distribution.value!r}"
                    )
        return plain

    def suggest(self, trials: Sequence[Trial], slots: int) -> list[Suggestion]:
        """The missing entries of the current batch, else the next batch once this one is final."""
        if slots <= 0:
            return []
        grouped = self._iterations(trials)
        if not grouped:
            iteration, offset, batch, created = 0, 0, self._batch(0, []), set()
        else:
            iteration = max(grouped)
            members = grouped[iteration]
            history = [trial for trial in trials if trial.meta["iteration"] < iteration]
            offset = max((trial.index for trial in history), default=-1) + 1
            size = members[0].meta.get("iteration_size", len(members))
            if len(members) < size:
                batch = self._batch(iteration, history)
                created = {trial.index - offset for trial in members}
            elif all(is_final(trial.status) for trial in trials) and iteration + 1 < self.max_iterations:
                iteration, offset = iteration + 1, max(trial.index for trial in trials) + 1
                batch, created = self._batch(iteration, trials), set()
            else:
                return []
        suggestions: list[Suggestion] = []
        for position, configuration in enumerate(batch):
            if position in created:
                continue
            if len(suggestions) == slots:
                break
            meta = {"index": offset + position, "iteration": iteration, "iteration_size": len(batch)}
            suggestions.append(Suggestion(configuration, meta))
        return suggestions

    def is_done(self, trials: Sequence[Trial]) -> bool:
        """Every trial is final, the last batch is complete, and no further batch follows."""
        grouped = self._iterations(trials)
        if not grouped:
            return not self._batch(0, [])
        if not all(is_final(trial.status) for trial in trials):
            return False
        iteration = max(grouped)
        members = grouped[iteration]
        if len(members) < members[0].meta.get("iteration_size", len(members)):
            return False
        return iteration + 1 >= self.max_iterations or not self._batch(iteration + 1, trials)

    def describe(self, trials: Sequence[Trial]) -> dict[str, Any]:
        """Progress by iteration and the best trial; ``planned`` is unknown (None) here:
        the tuner decides each batch's size."""
        finished = sum(1 for trial in trials if is_final(trial.status))
        iterations = [
            trial.meta["iteration"] for trial in trials if isinstance(trial.meta.get("iteration"), int)
        ]
        described: dict[str, Any] = {
            "kind": self.matrix.kind,
            "tuner": self.name,
            "planned": None,
            "created": len(trials),
            "running": len(trials) - finished,
            "finished": finished,
            "iteration": max(iterations, default=None),
            "max_iterations": self.max_iterations,
            "seed": self.seed,
        }
        if self.objective is not None:
            described["best"] = _best_trial(trials, *self.objective)
        return described


class IterativeOptimizer(Optimizer):
    """``kind: iterative``: runs the installed tuner named in ``tuner.hubRef``.

    The tuner is looked up by name among the optimizer classes that installed plugins
    contribute, and must be a :class:`Tuner`. Everything else is the tuner's: this
    class only delegates to it.
    """

    name = "iterative"
    description = "Runs a tuner (your own suggestion logic, from a plugin) in iterations."

    @classmethod
    def validate(cls, matrix: MatrixConfig) -> None:
        """Resolve ``tuner.hubRef`` to an installed tuner and let it check the matrix."""
        cls.tuner_class(matrix).validate(matrix)

    @staticmethod
    def tuner_class(matrix: MatrixConfig) -> type[Tuner]:
        from polyaxon_core.plugins import get_plugin_manager

        name = tuner_section(matrix).get("hub_ref")
        contributed = get_plugin_manager().contributions("optimizer")
        tuners = sorted(
            tuner for tuner, found in contributed.items()
            if isinstance(found, type) and issubclass(found, Tuner)
        )
        listed = ", ".join(tuners) or "none installed"
        if not isinstance(name, str) or not name:
            raise PluginConfigError(
                f"matrix kind 'iterative' needs tuner.hubRef, the name of an installed tuner "
                f"(a plugin contributing a polyaxon_optimizers.iterative.Tuner); installed: {listed}"
            )
        found = contributed.get(name)
        if found is None:
            raise PluginConfigError(f"matrix tuner.hubRef: no tuner named '{name}'; installed: {listed}")
        if not (isinstance(found, type) and issubclass(found, Tuner)):
            raise PluginConfigError(
                f"matrix tuner.hubRef: '{name}' is an optimizer, not a tuner: use kind: {name} "
                f"instead of kind: iterative; installed tuners: {listed}"
            )
        return found

    def __init__(self, matrix: MatrixConfig) -> None:
        super().__init__(matrix)
        self.tuner = self.tuner_class(matrix)(matrix)

    def suggest(self, trials: Sequence[Trial], slots: int) -> list[Suggestion]:
        return self.tuner.suggest(trials, slots)

    def is_done(self, trials: Sequence[Trial]) -> bool:
        return self.tuner.is_done(trials)

    def describe(self, trials: Sequence[Trial]) -> Mapping[str, Any]:
        return self.tuner.describe(trials)


@hookimpl
def polyaxon_register_optimizers() -> list[type[Optimizer]]:
    return [IterativeOptimizer]
