"""Random search (``matrix.kind: random``): ``num_runs`` distinct samples of the params.

The entry point ``optimizer-random`` registers :class:`RandomSearchOptimizer`.
"""

from __future__ import annotations

import copy
import hashlib
import heapq
import itertools
import json
import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

from polyaxon_core.entities import MatrixConfig, ParamDistribution, Trial
from polyaxon_core.hookspecs import hookimpl
from polyaxon_core.interfaces import Optimizer, PluginConfigError
from polyaxon_optimizers import space
from polyaxon_optimizers.base import Kept, PlannedOptimizer

#: Fully discrete spaces up to this many combinations are sampled exactly without
#: replacement; larger or continuous ones are drawn and deduplicated.
ENUMERATION_LIMIT = 100_000
#: Draws allowed per wanted configuration before deduplication gives up on a space
#: that keeps repeating itself (e.g. a narrow qnormal).
DRAWS_PER_RUN = 100


#: the plans drawn lately, by params, num_runs and seed: an orchestrator asks a sweep's
#: optimizer for its next trials on every pass, and a plan of thousands of draws is the
#: same each time
PLANS_KEPT = 64
_PLANS: Kept[tuple[str, int, int], list[dict[str, Any]]] = Kept(PLANS_KEPT)


def _canonical(matrix: MatrixConfig) -> str:
    """The params' distributions (names, kinds, values) as one text."""

    def plain(value: Any) -> Any:
        return dict(value) if isinstance(value, Mapping) else str(value)

    return json.dumps(
        {name: [param.kind, param.value] for name, param in matrix.params.items()},
        sort_keys=True,
        separators=(",", ":"),
        default=plain,
    )


def derived_seed(matrix: MatrixConfig) -> int:
    """A seed that depends on the params' distributions only (names, kinds, values)."""
    return int.from_bytes(hashlib.sha256(_canonical(matrix).encode()).digest()[:8], "big")


class RandomSearchOptimizer(PlannedOptimizer):
    """``num_runs`` distinct configurations drawn from the params' distributions.

    The whole list is drawn up front from one ``random.Random``, seeded by
    ``matrix.seed``; without a seed, by :func:`derived_seed` of the params, so the same
    unseeded matrix always yields the same trials (set ``seed`` to draw a different
    sample). Either way the list is a function of the matrix alone, which is what lets
    a restarted orchestrator continue the sweep without repeating or changing a trial.
    Drawing more runs only appends: the first ``n`` configurations do not depend on
    ``num_runs``.

    Configurations are distinct. A fully discrete space with fewer combinations than
    ``num_runs`` runs each combination once, then the sweep ends. Sampling without
    replacement keeps the distributions' probabilities (pchoice weights), as if
    duplicates were drawn and thrown away; a space that yields no new configuration in
    ``DRAWS_PER_RUN`` draws per run ends the list early.
    """

    name = "random"
    description = "num_runs distinct samples of the params' distributions."

    @classmethod
    def validate(cls, matrix: MatrixConfig) -> None:
        """Require ``num_runs`` and at least one param, then the common checks."""
        if matrix.num_runs is None:
            raise PluginConfigError(
                "matrix kind 'random' needs num_runs: how many configurations to sample "
                "(e.g. num_runs: 20)"
            )
        if isinstance(matrix.num_runs, bool) or not isinstance(matrix.num_runs, int) or (
            matrix.num_runs < 1
        ):
            raise PluginConfigError(
                f"matrix num_runs must be a whole number >= 1, got {matrix.num_runs!r}"
            )
        if not matrix.params:
            raise PluginConfigError("matrix kind 'random' needs at least one param to sample")
        super().validate(matrix)

    def __init__(self, matrix: MatrixConfig) -> None:
        super().__init__(matrix)
        self.seed = matrix.seed if matrix.seed is not None else derived_seed(matrix)
        assert matrix.num_runs is not None  # validate() refuses a matrix without it
        key = (_canonical(matrix), matrix.num_runs, self.seed)
        _, plan = _PLANS.get(key)
        if plan is None:
            plan = _PLANS.put(key, _draw_plan(matrix.params, matrix.num_runs, random.Random(self.seed)))
        self._plan = plan

    @property
    def planned(self) -> int:
        return len(self._plan)

    def configuration(self, index: int) -> dict[str, Any]:
        return copy.deepcopy(self._plan[index])  # the plan is shared: never handed out

    def describe(self, trials: Sequence[Trial]) -> dict[str, Any]:
        """Progress, best so far, and the ``seed`` in use (given or derived)."""
        return {**super().describe(trials), "seed": self.seed}


def _draw_plan(
    params: Mapping[str, ParamDistribution], num_runs: int, rng: random.Random
) -> list[dict[str, Any]]:
    # Sorted names: the draw order must not depend on how the matrix was stored.
    names = sorted(params)
    distributions = [params[name] for name in names]
    if all(space.is_discrete(distribution) for distribution in distributions):
        combinations = math.prod(space.size(distribution) for distribution in distributions)
        if combinations <= ENUMERATION_LIMIT:
            return _sample_without_replacement(names, distributions, num_runs, rng)
        num_runs = min(num_runs, combinations)
    return _draw_distinct(names, distributions, num_runs, rng)


def _sample_without_replacement(
    names: list[str], distributions: list[ParamDistribution], count: int, rng: random.Random
) -> list[dict[str, Any]]:
    """Weighted sampling without replacement over every combination.

    Each combination of weight w gets the key log(u) / w with u uniform in (0, 1]; the
    ``count`` largest keys, in decreasing order, are distributed exactly like successive
    weighted draws that skip repeats (Efraimidis and Spirakis, 2006). Zero-weight
    combinations are never chosen.
    """
    per_param = [space.weights(distribution) for distribution in distributions]
    keyed: list[tuple[float, tuple[int, ...]]] = []
    for digits in itertools.product(*(range(len(weights)) for weights in per_param)):
        weight = math.prod(weights[digit] for weights, digit in zip(per_param, digits, strict=True))
        draw = 1.0 - rng.random()
        if weight > 0:
            keyed.append((math.log(draw) / weight, digits))
    chosen = heapq.nlargest(count, keyed, key=lambda item: item[0])
    return [
        {
            name: space.value_at(distribution, digit)
            for name, distribution, digit in zip(names, distributions, digits, strict=True)
        }
        for _, digits in chosen
    ]


def _draw_distinct(
    names: list[str], distributions: list[ParamDistribution], count: int, rng: random.Random
) -> list[dict[str, Any]]:
    plan: list[dict[str, Any]] = []
    seen: set[str] = set()
    draws = 0
    while len(plan) < count and draws < DRAWS_PER_RUN * count:
        draws += 1
        configuration = {
            name: space.sample(distribution, rng)
            for name, distribution in zip(names, distributions, strict=True)
        }
        fingerprint = json.dumps(configuration, sort_keys=True)
        if fingerprint not in seen:
            seen.add(fingerprint)
            plan.append(configuration)
    return plan


@hookimpl
def polyaxon_register_optimizers() -> list[type[Optimizer]]:
    return [RandomSearchOptimizer]
