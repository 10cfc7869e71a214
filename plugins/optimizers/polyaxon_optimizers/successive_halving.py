"""What Hyperband and ASHA share: resources, exact powers of eta, ranking a rung.

Both algorithms run configurations on a growing *resource* (epochs, steps, samples)
injected as one of the trial's inputs, and keep the best ``1/eta`` of each *rung* for
the next, ``eta`` times larger, resource. This module holds the pieces they have in
common and that must be exact or deterministic:

* ``eta`` and the resources are handled as :class:`fractions.Fraction`, so "how many
  times does eta fit into R" is integer arithmetic. ``math.log(243) / math.log(3)`` is
  ``4.999...`` and a float ``floor`` would lose a whole bracket.
* :func:`rank` orders a rung's trials the same way whatever order they come in.
* :func:`base_configurations` draws the fresh configurations of a bracket (or of ASHA's
  bottom rung) with random search, from a seed derived from the matrix alone.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from polyaxon_core.entities import MatrixConfig, Trial
from polyaxon_core.interfaces import PluginConfigError
from polyaxon_core.lifecycle import Status, is_final
from polyaxon_optimizers.base import metric_option, validate_distributions
from polyaxon_optimizers.random_search import RandomSearchOptimizer, derived_seed

#: ``eta`` when the matrix does not set it, as in the Hyperband paper and Polyaxon.
DEFAULT_ETA = 3
RESOURCE_TYPES = ("int", "float")


@dataclass(frozen=True)
class Resource:
    """The input a trial's budget is given through, and how its values are written."""

    name: str
    type: str = "float"

    def cast(self, amount: Fraction) -> int | float:
        """``amount`` as the input's type: ``int`` rounds down (as Polyaxon's
        ``int(value)`` does), ``float`` is the nearest float."""
        return math.floor(amount) if self.type == "int" else float(amount)


def as_fraction(value: int | float) -> Fraction:
    """The exact rational value of an int or a float (a float is a binary fraction)."""
    return Fraction(value)


def floor_log(value: Fraction, base: Fraction) -> int:
    """The largest ``s >= 0`` with ``base ** s <= value``, exactly; ``value >= 1``, ``base > 1``."""
    exponent, power = 0, base
    while power <= value:
        exponent += 1
        power *= base
    return exponent


def read_number(matrix: MatrixConfig, field: str, spelled: str, *, default: Any = None,
                integer: bool = False, above: float | None = None,
                at_least: float | None = None) -> Any:
    """``matrix.options[field]`` checked to be a number (``spelled`` names it in errors)."""
    value = matrix.options.get(field, default)
    if value is None:
        raise PluginConfigError(f"matrix kind '{matrix.kind}' needs {spelled}")
    kind = "a whole number" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, int if integer else int | float) or (
        not math.isfinite(value)
    ):
        raise PluginConfigError(f"matrix {spelled} must be {kind}, got {value!r}")
    if above is not None and not value > above:
        raise PluginConfigError(f"matrix {spelled} must be {kind} above {above:g}, got {value!r}")
    if at_least is not None and not value >= at_least:
        raise PluginConfigError(f"matrix {spelled} must be {kind} >= {at_least:g}, got {value!r}")
    return value


def read_resource(matrix: MatrixConfig) -> Resource:
    """``matrix.options["resource"]``: ``{name, type: int|float}``, type defaulting to float.

    The resource is an input of the component filled in by the optimizer, so it cannot
    also be one of the searched params.
    """
    resource = matrix.options.get("resource")
    if not isinstance(resource, Mapping) or not isinstance(resource.get("name"), str) or (
        not resource["name"]
    ):
        raise PluginConfigError(
            f"matrix kind '{matrix.kind}' needs resource: {{name: <input>, type: int|float}}, "
            "the input that receives each trial's budget (e.g. epochs)"
        )
    kind = str(resource.get("type") or "float").lower()
    if kind not in RESOURCE_TYPES:
        raise PluginConfigError(f"matrix resource.type must be int or float, got {resource.get('type')!r}")
    if resource["name"] in matrix.params:
        raise PluginConfigError(
            f"matrix resource '{resource['name']}' is also a param; the optimizer sets the "
            "resource itself, remove it from params"
        )
    return Resource(name=resource["name"], type=kind)


def read_metric(matrix: MatrixConfig) -> tuple[str, str]:
    """``(name, optimization)`` of the required ``metric`` option."""
    metric = metric_option(matrix)
    if metric is None:
        raise PluginConfigError(
            f"matrix kind '{matrix.kind}' needs metric: {{name: <metric>, optimization: "
            "maximize|minimize}}, the metric that decides which configurations go on"
        )
    return metric


def read_flag(matrix: MatrixConfig, field: str, spelled: str) -> bool:
    value = matrix.options.get(field, False)
    if not isinstance(value, bool):
        raise PluginConfigError(f"matrix {spelled} must be true or false, got {value!r}")
    return value


def validate_params(matrix: MatrixConfig) -> None:
    """At least one param (a sweep of the resource alone compares nothing), each well formed."""
    if not matrix.params:
        raise PluginConfigError(
            f"matrix kind '{matrix.kind}' needs at least one param to sample configurations from"
        )
    validate_distributions(matrix)


def sweep_seed(matrix: MatrixConfig) -> int:
    """``matrix.seed``, or a seed derived from the params when it is not set."""
    return matrix.seed if matrix.seed is not None else derived_seed(matrix)


def sub_seed(seed: int, label: str) -> int:
    """An independent seed for one part of a sweep (a bracket), stable across runs."""
    return int.from_bytes(hashlib.sha256(f"{seed}/{label}".encode()).digest()[:8], "big")


def base_configurations(matrix: MatrixConfig, count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` distinct configurations of the params drawn by random search.

    Fewer when the params are a discrete space with fewer combinations. The list
    depends only on the params, ``count`` and ``seed``.
    """
    sampler = RandomSearchOptimizer(
        MatrixConfig(kind="random", params=matrix.params, num_runs=count, seed=seed)
    )
    return [sampler.configuration(index) for index in range(sampler.planned)]


def metric_value(trial: Trial, metric: str) -> float | None:
    """The trial's last value of ``metric`` when it is a finite number, else None."""
    value = trial.metrics.get(metric)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def is_promotable(trial: Trial, metric: str) -> bool:
    """Only a trial that succeeded with a finite value of the metric can go on."""
    return trial.status == Status.SUCCEEDED and metric_value(trial, metric) is not None


def rank(trials: Sequence[Trial], metric: str, optimization: str) -> list[Trial]:
    """Best first: promotable trials by metric, ties to the lower index; then the rest
    (failed, stopped, succeeded without the metric) by index."""
    sign = -1 if optimization == "maximize" else 1
    scored = sorted(
        (trial for trial in trials if is_promotable(trial, metric)),
        key=lambda trial: (sign * (metric_value(trial, metric) or 0.0), trial.index),
    )
    rest = sorted((trial for trial in trials if not is_promotable(trial, metric)),
                  key=lambda trial: trial.index)
    return [*scored, *rest]


def best_trial(trials: Sequence[Trial], metric: str, optimization: str,
               resource: Resource) -> dict[str, Any] | None:
    """The best succeeded trial by ``metric`` (ties to the earliest) for ``describe``."""
    ranked = [trial for trial in rank(trials, metric, optimization) if is_promotable(trial, metric)]
    if not ranked:
        return None
    best = ranked[0]
    return {
        "metric": metric,
        "optimization": optimization,
        "value": metric_value(best, metric),
        "index": best.index,
        "resource": best.params.get(resource.name),
        "params": dict(best.params),
        "run_uuid": best.run_uuid,
    }


def progress(trials: Sequence[Trial]) -> dict[str, int]:
    finished = sum(1 for trial in trials if is_final(trial.status))
    return {"created": len(trials), "running": len(trials) - finished, "finished": finished}


def plain_number(value: Fraction | int | float) -> int | float:
    """A JSON number for ``describe``: an int when whole, else the nearest float."""
    fraction = Fraction(value)
    return int(fraction) if fraction.denominator == 1 else float(fraction)
