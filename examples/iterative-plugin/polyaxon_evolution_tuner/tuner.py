"""A small evolutionary search: each iteration mutates the best trials found so far.

Iteration 0 draws ``population`` random configurations. Every later iteration takes the
``parents`` best succeeded trials of all earlier iterations and makes ``population``
children from them, in turn: a child copies its parent and redraws each param from the
param's distribution with probability ``mutation`` (at least one param always changes).
Configurations already tried are not proposed again.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from typing import Any

from polyaxon_optimizers import space
from polyaxon_optimizers.iterative import Tuner, tuner_params

from polyaxon_core.entities import MatrixConfig, Trial
from polyaxon_core.interfaces import PluginConfigError
from polyaxon_core.lifecycle import Status

#: Tries to find a configuration not seen before, per child.
ATTEMPTS = 50


class EvolutionTuner(Tuner):
    """Mutates the best trials so far; tuner params: metric, optimization, population,
    parents, mutation."""

    name = "evolution"
    description = "Evolutionary search: mutate the best trials of earlier iterations."

    @classmethod
    def validate(cls, matrix: MatrixConfig) -> None:
        super().validate(matrix)
        if not matrix.params:
            raise PluginConfigError("tuner 'evolution' needs matrix params to search")
        if cls.objective_of(matrix) is None:
            raise PluginConfigError(
                "tuner 'evolution' needs tuner.params.metric: {value: <metric name>} "
                "(and optimization: {value: maximize|minimize})"
            )
        params = tuner_params(matrix)
        for name, minimum in (("population", 1), ("parents", 1)):
            value = params.get(name, minimum)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise PluginConfigError(
                    f"tuner.params.{name} must be a whole number >= {minimum}, got {value!r}"
                )
        mutation = params.get("mutation", 0.5)
        if isinstance(mutation, bool) or not isinstance(mutation, int | float) or not 0 < mutation <= 1:
            raise PluginConfigError(f"tuner.params.mutation must be in (0, 1], got {mutation!r}")

    @property
    def population(self) -> int:
        return int(self.params.get("population", 6))

    @property
    def parents(self) -> int:
        return int(self.params.get("parents", 2))

    @property
    def mutation(self) -> float:
        return float(self.params.get("mutation", 0.5))

    def configurations(
        self, iteration: int, history: Sequence[Trial], rng: random.Random
    ) -> list[dict[str, Any]]:
        names = sorted(self.matrix.params)
        seen = {_fingerprint(trial.params) for trial in history}
        parents = self._best(history)
        children: list[dict[str, Any]] = []
        for number in range(self.population):
            parent = parents[number % len(parents)].params if parents else None
            for _ in range(ATTEMPTS):
                child = self._child(names, parent, rng)
                if _fingerprint(child) not in seen:
                    seen.add(_fingerprint(child))
                    children.append(child)
                    break
        return children

    def _best(self, history: Sequence[Trial]) -> list[Trial]:
        assert self.objective is not None  # validate() requires it
        metric, optimization = self.objective
        scored = [
            trial for trial in history
            if trial.status == Status.SUCCEEDED
            and isinstance(trial.metrics.get(metric), int | float)
            and math.isfinite(trial.metrics[metric])
        ]
        sign = -1.0 if optimization == "maximize" else 1.0
        scored.sort(key=lambda trial: (sign * trial.metrics[metric], trial.index))
        return scored[: self.parents]

    def _child(self, names: list[str], parent: Any, rng: random.Random) -> dict[str, Any]:
        if parent is None:
            return {name: space.sample(self.matrix.params[name], rng) for name in names}
        child = dict(parent)
        changed = [name for name in names if rng.random() < self.mutation] or [rng.choice(names)]
        for name in changed:
            child[name] = space.sample(self.matrix.params[name], rng)
        return child


def _fingerprint(params: Any) -> str:
    return json.dumps(dict(params), sort_keys=True)
