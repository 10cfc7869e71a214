"""Mapping (``matrix.kind: mapping``): one trial per entry of an explicit list of params.

The entry point ``optimizer-mapping`` registers :class:`MappingOptimizer`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from polyaxon_core.entities import MatrixConfig
from polyaxon_core.hookspecs import hookimpl
from polyaxon_core.interfaces import Optimizer, PluginConfigError
from polyaxon_optimizers.base import PlannedOptimizer


class MappingOptimizer(PlannedOptimizer):
    """Runs ``matrix.options["values"]``, a list of ``{param: value}`` dicts, in order.

    Trial ``index`` gets entry ``index`` unchanged. As in Polyaxon, a mapping has no
    ``params`` to search and no ``num_runs``: the list is the sweep, so both are
    refused rather than silently ignored. ``seed`` is not used.
    """

    name = "mapping"
    description = "One trial per entry of an explicit list of params, in order."

    supported_distributions: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def validate(cls, matrix: MatrixConfig) -> None:
        """Require a non-empty list of JSON objects in ``options["values"]``."""
        if matrix.params:
            raise PluginConfigError(
                f"matrix kind 'mapping' takes its trials from 'values', not from params "
                f"({', '.join(sorted(matrix.params))}); list each trial's params under values"
            )
        if matrix.num_runs is not None:
            raise PluginConfigError(
                "matrix kind 'mapping' runs one trial per entry of 'values'; num_runs does not "
                "apply: remove it (shorten 'values' to run fewer trials)"
            )
        values = matrix.options.get("values")
        if not isinstance(values, list | tuple) or not values:
            raise PluginConfigError(
                "matrix kind 'mapping' needs 'values': a non-empty list of {param: value} "
                f"mappings, one per trial; got {values!r}"
            )
        for position, entry in enumerate(values):
            if not isinstance(entry, Mapping) or not all(isinstance(key, str) for key in entry):
                raise PluginConfigError(
                    f"matrix values[{position}] must be a mapping of param names to values, "
                    f"got {entry!r}"
                )
            try:
                json.dumps(dict(entry), allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise PluginConfigError(
                    f"matrix values[{position}] is not plain JSON data: {exc}"
                ) from None
        super().validate(matrix)

    def __init__(self, matrix: MatrixConfig) -> None:
        super().__init__(matrix)
        self._values: list[Mapping[str, Any]] = list(matrix.options["values"])

    @property
    def planned(self) -> int:
        return len(self._values)

    def configuration(self, index: int) -> dict[str, Any]:
        return dict(self._values[index])


@hookimpl
def polyaxon_register_optimizers() -> list[type[Optimizer]]:
    return [MappingOptimizer]
