"""Grid search (``matrix.kind: grid``): every combination of the params' values.

The entry point ``optimizer-grid`` registers :class:`GridOptimizer`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

from polyaxon_core.entities import MatrixConfig, Trial
from polyaxon_core.hookspecs import hookimpl
from polyaxon_core.interfaces import Optimizer, PluginConfigError
from polyaxon_optimizers import space
from polyaxon_optimizers.base import PlannedOptimizer

# The discrete kind closest to each distribution grid search refuses.
_INSTEAD = {
    "pchoice": "choice",
    "uniform": "linspace",
    "quniform": "range",
    "loguniform": "logspace",
    "qloguniform": "geomspace",
    "lognormal": "geomspace",
}


class GridOptimizer(PlannedOptimizer):
    """The cartesian product of discrete params, capped by ``num_runs`` when it is set.

    Params are combined in the order of their sorted names, the last name changing
    fastest, and each param's values keep their own order; sorting makes the numbering
    independent of how the matrix was stored (JSON columns may reorder keys). Like
    Polyaxon, grid search takes no probability distributions, ``pchoice`` included:
    every value is run exactly once, so probabilities would mean nothing. ``seed`` is
    not used.
    """

    name = "grid"
    description = "Every combination of discrete values (cartesian product)."

    supported_distributions: ClassVar[frozenset[str]] = frozenset(
        space.DISCRETE_KINDS - {"pchoice"}
    )

    @classmethod
    def validate(cls, matrix: MatrixConfig) -> None:
        """Reject distributions grid cannot enumerate, naming each param and the way out."""
        for name, distribution in sorted(matrix.params.items()):
            if distribution.kind not in cls.supported_distributions:
                alternative = _INSTEAD.get(distribution.kind, "choice")
                raise PluginConfigError(
                    f"matrix param '{name}' uses the distribution '{distribution.kind}', which "
                    f"grid search cannot enumerate. Give it discrete values "
                    f"({', '.join(sorted(cls.supported_distributions))}; e.g. {alternative}) "
                    f"or use matrix kind 'random' to sample it."
                )
        if not matrix.params:
            raise PluginConfigError("matrix kind 'grid' needs at least one param to combine")
        if matrix.num_runs is not None and matrix.num_runs < 1:
            raise PluginConfigError(f"matrix num_runs must be >= 1, got {matrix.num_runs}")
        super().validate(matrix)

    def __init__(self, matrix: MatrixConfig) -> None:
        super().__init__(matrix)
        self._names = sorted(matrix.params)
        self._sizes = [space.size(matrix.params[name]) for name in self._names]
        self.combinations = math.prod(self._sizes)
        cap = matrix.num_runs if matrix.num_runs is not None else self.combinations
        self._planned = min(cap, self.combinations)

    @property
    def planned(self) -> int:
        return self._planned

    def configuration(self, index: int) -> dict[str, Any]:
        # Decode `index` as a mixed-radix number (one digit per param) so that a grid of
        # millions of combinations is never materialized.
        digits: list[int] = []
        for radix in reversed(self._sizes):
            index, digit = divmod(index, radix)
            digits.append(digit)
        digits.reverse()
        return {
            name: space.value_at(self.matrix.params[name], digit)
            for name, digit in zip(self._names, digits, strict=True)
        }

    def describe(self, trials: Sequence[Trial]) -> dict[str, Any]:
        """Progress, best so far, and ``combinations``: the grid's size before ``num_runs``."""
        return {**super().describe(trials), "combinations": self.combinations}


@hookimpl
def polyaxon_register_optimizers() -> list[type[Optimizer]]:
    return [GridOptimizer]
