from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from polyaxon_core.entities import MatrixConfig, Suggestion, Trial
from polyaxon_core.interfaces.base import PluginClass


class Optimizer(PluginClass):
    """A search algorithm: given the trials so far, which configurations to run next.

    Optimizers keep no state of their own between calls: everything they need is in
    ``trials`` (the sweep's child runs, read back from the database), so a sweep survives
    a restart of the orchestrator. Algorithms that are random must derive their draws
    from ``matrix.seed`` and the trial history alone.
    """

    #: Distribution kinds this optimizer can search; others are rejected by :meth:`validate`.
    supported_distributions: ClassVar[frozenset[str]] = frozenset(
        {
            "choice", "pchoice", "range", "daterange", "datetimerange", "linspace",
            "logspace", "geomspace", "uniform", "quniform", "loguniform", "qloguniform",
            "normal", "qnormal", "lognormal", "qlognormal",
        }
    )

    def __init__(self, matrix: MatrixConfig) -> None:
        self.validate(matrix)
        self.matrix = matrix

    @classmethod
    def validate(cls, matrix: MatrixConfig) -> None:
        """Raise PluginConfigError when this optimizer cannot search ``matrix``."""
        from polyaxon_core.interfaces.base import PluginConfigError

        unsupported = {
            name: param.kind
            for name, param in matrix.params.items()
            if param.kind not in cls.supported_distributions
        }
        if unsupported:
            listed = ", ".join(f"{name} ({kind})" for name, kind in sorted(unsupported.items()))
            raise PluginConfigError(
                f"matrix kind '{matrix.kind}' cannot search {listed}; use one of: "
                f"{', '.join(sorted(cls.supported_distributions))}"
            )

    @abstractmethod
    def suggest(self, trials: Sequence[Trial], slots: int) -> list[Suggestion]:
        """Return at most ``slots`` new configurations to evaluate now (may be empty)."""

    @abstractmethod
    def is_done(self, trials: Sequence[Trial]) -> bool:
        """Whether the search has nothing more to suggest once ``trials`` are final."""

    def describe(self, trials: Sequence[Trial]) -> Mapping[str, Any]:
        """The algorithm's state for people (progress, best so far); JSON-serializable."""
        return {"kind": self.matrix.kind, "trials": len(trials)}
