"""The shared loop of optimizers whose whole sweep is fixed up front.

Grid, random and mapping all decide every configuration from the matrix alone, before a
single trial ran: the sweep is a numbered list. Trial ``index`` runs configuration
``index`` of that list. Handing out work is then the same for the three: the lowest
indexes not yet in the history, so a restarted orchestrator that passes the same matrix
and the same trials gets the same answer and never a configuration twice.
"""

from __future__ import annotations

import copy
import math
import threading
from abc import abstractmethod
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from polyaxon_core.entities import MatrixConfig, Suggestion, Trial
from polyaxon_core.interfaces import Optimizer, PluginConfigError
from polyaxon_core.lifecycle import Status, is_final
from polyaxon_optimizers import space

OPTIMIZATIONS = ("maximize", "minimize")


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Kept(Generic[K, V]):
    """What optimizers keep between calls (they hold no state of their own): at most
    ``size`` values, the least recently used dropped first; safe across threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> tuple[bool, V | None]:
        """Whether ``key`` is kept, and its value."""
        with self._lock:
            if key not in self._entries:
                return False, None
            self._entries.move_to_end(key)
            return True, self._entries[key]

    def get_many(self, keys: Iterable[K]) -> list[tuple[bool, V | None]]:
        """:meth:`get` of each of ``keys`` in order, the lock taken once."""
        entries = self._entries
        found: list[tuple[bool, V | None]] = []
        with self._lock:
            for key in keys:
                if key in entries:
                    entries.move_to_end(key)
                    found.append((True, entries[key]))
                else:
                    found.append((False, None))
        return found

    def put(self, key: K, value: V) -> V:
        """Keep ``value`` for ``key`` unless one is kept already; the value kept."""
        with self._lock:
            value = self._entries.setdefault(key, value)
            self._entries.move_to_end(key)
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)
            return value


def metric_option(matrix: MatrixConfig) -> tuple[str, str] | None:
    """``(name, optimization)`` of ``matrix.options["metric"]``, or None when not set.

    ``optimization`` defaults to ``maximize``, as in Polyaxon.
    """
    metric = matrix.options.get("metric")
    if metric is None:
        return None
    if not isinstance(metric, Mapping) or not isinstance(metric.get("name"), str):
        raise PluginConfigError(
            f"matrix option 'metric' must be {{name: <metric>, optimization: maximize|minimize}}, "
            f"got {metric!r}"
        )
    optimization = str(metric.get("optimization") or "maximize").lower()
    if optimization not in OPTIMIZATIONS:
        raise PluginConfigError(
            f"matrix option metric.optimization must be maximize or minimize, "
            f"got {metric.get('optimization')!r}"
        )
    return metric["name"], optimization


def validate_distributions(matrix: MatrixConfig) -> None:
    """Raise PluginConfigError naming the first malformed param (in name order)."""
    for name, distribution in sorted(matrix.params.items()):
        try:
            space.validate(distribution)
        except ValueError as exc:
            raise PluginConfigError(f"matrix param '{name}' ({distribution.kind}): {exc}") from None


class PlannedOptimizer(Optimizer):
    """An optimizer whose sweep is a list of configurations known from the matrix alone.

    Subclasses say how long the list is (:attr:`planned`) and what entry ``index`` is
    (:meth:`configuration`); both must depend on the matrix only, never on trials or on
    time. Every suggestion carries ``meta["index"]``, its position in the list.
    """

    @classmethod
    def validate(cls, matrix: MatrixConfig) -> None:
        """Reject unsupported kinds, malformed distributions and a malformed metric."""
        super().validate(matrix)
        validate_distributions(matrix)
        metric_option(matrix)

    @property
    @abstractmethod
    def planned(self) -> int:
        """How many configurations the sweep runs in total."""

    @abstractmethod
    def configuration(self, index: int) -> dict[str, Any]:
        """The params of trial ``index``, for ``0 <= index < planned``; JSON types only."""

    def suggest(self, trials: Sequence[Trial], slots: int) -> list[Suggestion]:
        """The first ``slots`` planned configurations whose index is not in ``trials``."""
        taken = {trial.index for trial in trials}
        suggestions: list[Suggestion] = []
        index = 0
        while len(suggestions) < slots and index < self.planned:
            if index not in taken:
                # A deep copy: choice values and mapping entries may be lists or dicts
                # of the matrix, which the receiver must not be able to alter.
                params = copy.deepcopy(self.configuration(index))
                suggestions.append(Suggestion(params=params, meta={"index": index}))
            index += 1
        return suggestions

    def is_done(self, trials: Sequence[Trial]) -> bool:
        """Every planned index has a trial, and every trial reached a final status."""
        created = {trial.index for trial in trials if 0 <= trial.index < self.planned}
        return len(created) == self.planned and all(is_final(trial.status) for trial in trials)

    def describe(self, trials: Sequence[Trial]) -> dict[str, Any]:
        """Progress (planned, created, running, finished) and the best trial so far.

        ``best`` is present when ``matrix.options["metric"]`` is set: the succeeded trial
        with the highest (maximize) or lowest (minimize) finite value of that metric,
        ``None`` until there is one.
        """
        finished = sum(1 for trial in trials if is_final(trial.status))
        progress: dict[str, Any] = {
            "kind": self.matrix.kind,
            "planned": self.planned,
            "created": len(trials),
            "running": len(trials) - finished,
            "finished": finished,
        }
        metric = metric_option(self.matrix)
        if metric is not None:
            progress["best"] = _best_trial(trials, *metric)
        return progress


def _best_trial(trials: Sequence[Trial], name: str, optimization: str) -> dict[str, Any] | None:
    sign = 1 if optimization == "maximize" else -1
    succeeded = Status.SUCCEEDED.value
    best: Trial | None = None
    best_key: tuple[float, int] | None = None
    # one plain loop: a sweep of thousands of trials is described on every pass
    for trial in trials:
        value = trial.metrics.get(name)
        if trial.status != succeeded or not isinstance(value, (int, float)) or not math.isfinite(value):
            continue
        # ties go to the earliest trial, so the answer does not depend on the order of `trials`
        key = (sign * value, -trial.index)
        if best_key is None or key > best_key:
            best, best_key = trial, key
    if best is None:
        return None
    return {
        "metric": name,
        "optimization": optimization,
        "value": best.metrics[name],
        "index": best.index,
        "params": dict(best.params),
        "run_uuid": best.run_uuid,
    }
