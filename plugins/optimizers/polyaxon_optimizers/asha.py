"""Asynchronous successive halving (``matrix.kind: asha``): Li et al., MLSys 2020, Algorithm 2.

The entry point ``optimizer-asha`` registers :class:`AshaOptimizer`.

Rung ``k = 0..K`` runs configurations on ``minResource * eta ** k`` units of the
resource, where ``K`` is the largest ``k`` with ``minResource * eta ** k <= maxResource``.
Whenever a slot is free, the next job is:

1. a promotion: going down from the rung below the top, the best trial of rung ``k``
   that is among the top ``floor(finished / eta)`` of the rung's finished trials and has
   not been promoted yet continues on rung ``k + 1``;
2. otherwise a new configuration on rung 0, while fewer than ``numRuns`` were started.

Nothing waits for stragglers: a rung's running trials simply do not count yet. A
configuration promoted early may later drop out of its rung's top ``1/eta``; it keeps
its promotion, as in the paper.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from polyaxon_core.entities import MatrixConfig, Suggestion, Trial
from polyaxon_core.hookspecs import hookimpl
from polyaxon_core.interfaces import Optimizer, PluginConfigError
from polyaxon_core.lifecycle import is_final
from polyaxon_optimizers import successive_halving as sh

#: More rungs than this means an eta barely above 1: refused rather than computed.
MAX_RUNGS = 1000


class AshaOptimizer(Optimizer):
    """ASHA's promote-or-grow rule (see the module docstring).

    Fields (``matrix.options`` unless said otherwise): ``max_resource`` (required),
    ``min_resource`` (default 1), ``eta`` (above 1, default 3), ``resource``
    ``{name, type: int|float}``, ``metric`` ``{name, optimization}``, ``resume``; on the
    matrix itself ``num_runs`` (required: how many configurations enter rung 0),
    ``params``, ``seed`` and ``concurrency``.

    The configurations entering rung 0 are, in order, those random search draws for the
    same params, ``num_runs`` and seed. Trial indexes encode the configuration and the
    rung (``index = configuration * (K + 1) + rung``), so a configuration is promoted to
    a rung at most once, whoever asks. Ranking is by the trial's last value of the
    metric, ties to the lower index; a trial that did not succeed with a finite value
    ranks last and is never promoted.
    """

    name = "asha"
    description = "Asynchronous successive halving: promote the top 1/eta of a rung as soon as known."

    @classmethod
    def validate(cls, matrix: MatrixConfig) -> None:
        """Refuse a matrix ASHA cannot run, naming the field and the fix."""
        super().validate(matrix)
        sh.validate_params(matrix)
        if isinstance(matrix.num_runs, bool) or not isinstance(matrix.num_runs, int) or matrix.num_runs < 1:
            raise PluginConfigError(
                "matrix kind 'asha' needs numRuns: how many configurations enter the bottom "
                f"rung (a whole number >= 1), got {matrix.num_runs!r}"
            )
        minimum = sh.read_number(matrix, "min_resource", "minResource", default=1, above=0)
        maximum = sh.read_number(matrix, "max_resource", "maxResource (the largest resource a "
                                 "configuration gets)", above=0)
        eta = sh.read_number(matrix, "eta", "eta", default=sh.DEFAULT_ETA, above=1)
        if maximum < minimum * eta:
            raise PluginConfigError(
                f"matrix maxResource ({maximum:g}) must be at least eta x minResource "
                f"({eta:g} x {minimum:g}); with less, no configuration is ever promoted"
            )
        # A float estimate is enough to bound the exact count computed later.
        if math.log(maximum / minimum) / math.log(eta) > MAX_RUNGS:
            raise PluginConfigError(
                f"matrix maxResource / minResource ({maximum:g} / {minimum:g}) with eta {eta:g} "
                f"makes more than {MAX_RUNGS} rungs; raise eta or narrow the resources"
            )
        sh.read_resource(matrix)
        sh.read_metric(matrix)
        sh.read_flag(matrix, "resume", "resume")

    def __init__(self, matrix: MatrixConfig) -> None:
        super().__init__(matrix)
        assert matrix.num_runs is not None  # validate() refuses a matrix without it
        self.num_runs: int = matrix.num_runs
        self.min_resource = sh.as_fraction(matrix.options.get("min_resource", 1))
        self.max_resource = sh.as_fraction(matrix.options["max_resource"])
        self.eta = sh.as_fraction(matrix.options.get("eta", sh.DEFAULT_ETA))
        self.resource = sh.read_resource(matrix)
        self.metric, self.optimization = sh.read_metric(matrix)
        self.resume = sh.read_flag(matrix, "resume", "resume")
        self.seed = sh.sweep_seed(matrix)
        #: the top rung's number, K
        self.top = sh.floor_log(self.max_resource / self.min_resource, self.eta)
        self._configurations: list[dict[str, Any]] | None = None

    @property
    def configurations(self) -> list[dict[str, Any]]:
        """The configurations entering rung 0, in order (drawn once)."""
        if self._configurations is None:
            self._configurations = sh.base_configurations(self.matrix, self.num_runs, self.seed)
        return self._configurations

    def rung_resource(self, rung: int) -> int | float:
        return self.resource.cast(self.min_resource * self.eta**rung)

    def index(self, configuration: int, rung: int) -> int:
        return configuration * (self.top + 1) + rung

    def locate(self, index: int) -> tuple[int, int]:
        """``(configuration, rung)`` of a trial index."""
        return divmod(index, self.top + 1)

    def _rungs(self, trials: Sequence[Trial]) -> list[list[Trial]]:
        rungs: list[list[Trial]] = [[] for _ in range(self.top + 1)]
        for trial in trials:
            configuration, rung = self.locate(trial.index)
            if 0 <= configuration < self.num_runs:
                rungs[rung].append(trial)
        return rungs

    def promotable(self, rung: Sequence[Trial]) -> list[Trial]:
        """The trials of a rung in its top ``1/eta`` so far, best first, that may go on."""
        finished = [trial for trial in rung if is_final(trial.status)]
        top = sh.rank(finished, self.metric, self.optimization)[: math.floor(len(finished) / self.eta)]
        return [trial for trial in top if sh.is_promotable(trial, self.metric)]

    # ------------------------------------------------------------------ the contract

    def suggest(self, trials: Sequence[Trial], slots: int) -> list[Suggestion]:
        """Up to ``slots`` jobs, each chosen by the promote-or-grow rule.

        Jobs chosen in the same call count as taken for the next one, so one call with
        ``slots = 3`` answers like three calls in a row would.
        """
        rungs = self._rungs(trials)
        taken = {trial.index for trial in trials}
        suggestions: list[Suggestion] = []
        candidates = [self.promotable(rungs[rung]) for rung in range(self.top)]
        while len(suggestions) < slots:
            suggestion = self._promotion(candidates, taken) or self._new_configuration(taken)
            if suggestion is None:
                break
            taken.add(suggestion.meta["index"])
            suggestions.append(suggestion)
        return suggestions

    def _promotion(self, candidates: list[list[Trial]], taken: set[int]) -> Suggestion | None:
        for rung in range(self.top - 1, -1, -1):
            for trial in candidates[rung]:
                configuration, _ = self.locate(trial.index)
                index = self.index(configuration, rung + 1)
                if index not in taken:
                    params = {name: value for name, value in trial.params.items()
                              if name != self.resource.name}
                    meta: dict[str, Any] = {"promoted_from": trial.index}
                    if self.resume and trial.run_uuid is not None:
                        meta["resume_from"] = trial.run_uuid
                    return self._job(configuration, rung + 1, params, meta)
        return None

    def _new_configuration(self, taken: set[int]) -> Suggestion | None:
        for configuration, params in enumerate(self.configurations):
            if self.index(configuration, 0) not in taken:
                return self._job(configuration, 0, dict(params), {})
        return None

    def _job(self, configuration: int, rung: int, params: dict[str, Any],
             meta: dict[str, Any]) -> Suggestion:
        resource = self.rung_resource(rung)
        params[self.resource.name] = resource
        return Suggestion(params=params, meta={
            "index": self.index(configuration, rung),
            "configuration": configuration,
            "rung": rung,
            "resource": resource,
            **meta,
        })

    def is_done(self, trials: Sequence[Trial]) -> bool:
        """Every trial is final, every configuration started, and nothing is promotable."""
        return all(is_final(trial.status) for trial in trials) and not self.suggest(trials, 1)

    def describe(self, trials: Sequence[Trial]) -> dict[str, Any]:
        """Progress, the rungs, and the best trial so far.

        ASHA's total is only known at the end (how many promotions happen depends on the
        order results arrive in), so ``planned`` is None until the sweep is done, then
        the number of trials. Each rung shows ``resource``, ``created``, ``finished`` and
        ``promoted`` (how many of its trials went on to the next rung).
        """
        rungs = self._rungs(trials)
        created = {trial.index for trial in trials}
        return {
            "kind": self.matrix.kind,
            "planned": len(trials) if self.is_done(trials) else None,
            **sh.progress(trials),
            "num_runs": self.num_runs,
            "min_resource": sh.plain_number(self.min_resource),
            "max_resource": sh.plain_number(self.max_resource),
            "eta": sh.plain_number(self.eta),
            "resource": self.resource.name,
            "seed": self.seed,
            "rungs": [
                {
                    "rung": number,
                    "resource": self.rung_resource(number),
                    "created": len(members),
                    "finished": sum(1 for t in members if is_final(t.status)),
                    "promoted": sum(
                        1 for t in members
                        if self.index(self.locate(t.index)[0], number + 1) in created
                    ) if number < self.top else 0,
                }
                for number, members in enumerate(rungs)
            ],
            "best": sh.best_trial(trials, self.metric, self.optimization, self.resource),
        }


@hookimpl
def polyaxon_register_optimizers() -> list[type[Optimizer]]:
    return [AshaOptimizer]
