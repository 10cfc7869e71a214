"""Hyperband (``matrix.kind: hyperband``): Li et al., JMLR 18 (2018), Algorithm 1.

The entry point ``optimizer-hyperband`` registers :class:`HyperbandOptimizer`.

With ``R = maxIterations`` and ``eta``, Hyperband runs ``s_max + 1`` brackets, where
``s_max`` is the largest ``s`` with ``eta ** s <= R``. Bracket ``s`` (run in the order
``s_max, ..., 0``) is one synchronous successive halving:

* ``n = ceil((s_max + 1) / (s + 1) * eta ** s)`` configurations, drawn at random;
* rung ``i = 0..s`` holds ``n_i = floor(n * eta ** -i)`` configurations, each run with
  ``r_i = R * eta ** (i - s)`` units of the resource;
* rung ``i + 1`` is created once every trial of rung ``i`` is final, with the best
  ``n_{i+1}`` of rung ``i`` (by the metric) continuing on the larger resource.

For ``R = 81, eta = 3`` that is the paper's Table 1: 81, 34, 15, 8 and 5 configurations
starting at 1, 3, 9, 27 and 81 units, 206 trials in all.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import Any

from polyaxon_core.entities import MatrixConfig, Suggestion, Trial
from polyaxon_core.hookspecs import hookimpl
from polyaxon_core.interfaces import Optimizer, PluginConfigError
from polyaxon_core.lifecycle import is_final
from polyaxon_optimizers import successive_halving as sh

#: Sweeps planning more trials than this are refused: a typo in maxIterations or an
#: eta barely above 1 would otherwise plan millions of runs.
MAX_PLANNED_TRIALS = 1_000_000
#: Brackets are triangular: s_max + 1 brackets hold at least (s_max + 1)(s_max + 2) / 2
#: trials, over MAX_PLANNED_TRIALS beyond this many.
MAX_BRACKETS = 1414


@dataclass(frozen=True)
class Rung:
    """One round of a bracket: ``size`` configurations on ``resource`` units each.

    The rung's trials have the indexes ``offset .. offset + size - 1``: slot ``j`` of
    the rung is always trial ``offset + j``, whatever the order trials finish in.
    """

    bracket: int
    number: int
    size: int
    resource: Fraction
    offset: int


@dataclass(frozen=True)
class Bracket:
    """One successive halving: ``s`` is the paper's bracket index, ``number`` its position
    in the run order (``s_max`` first, so ``number = s_max - s``)."""

    number: int
    s: int
    configurations: int
    rungs: tuple[Rung, ...]


def hyperband_brackets(max_iterations: int, eta: Fraction | int | float) -> tuple[Bracket, ...]:
    """The brackets of Hyperband for ``R = max_iterations`` and ``eta``, in run order.

    Everything is exact rational arithmetic: ``s_max``, every ``n`` (a ceiling), every
    ``n_i`` (a floor) and every ``r_i``.
    """
    eta = Fraction(eta)
    maximum = Fraction(max_iterations)
    s_max = sh.floor_log(maximum, eta)
    brackets: list[Bracket] = []
    offset = 0
    for number, s in enumerate(range(s_max, -1, -1)):
        configurations = math.ceil(Fraction(s_max + 1, s + 1) * eta**s)
        rungs = []
        for i in range(s + 1):
            size = math.floor(configurations / eta**i)
            rungs.append(Rung(number, i, size, maximum * eta ** (i - s), offset))
            offset += size
        brackets.append(Bracket(number, s, configurations, tuple(rungs)))
    return tuple(brackets)


@dataclass
class _RungState:
    """A rung as the history shows it.

    ``target`` is how many configurations the rung runs: known for the bottom rung, and
    for a higher rung once the rung below is complete (it is the number of survivors);
    None before. ``survivors`` are the trials of the rung below that continue here, in
    slot order. ``estimate`` is ``target`` when known, else an upper bound.
    """

    rung: Rung
    members: dict[int, Trial]
    target: int | None
    survivors: list[Trial]
    estimate: int

    @property
    def complete(self) -> bool:
        return self.target is not None and all(
            slot in self.members and is_final(self.members[slot].status)
            for slot in range(self.target)
        )

    def missing(self) -> list[int]:
        return [slot for slot in range(self.target or 0) if slot not in self.members]


class HyperbandOptimizer(Optimizer):
    """Hyperband's brackets of successive halving (see the module docstring).

    Fields (``matrix.options`` unless said otherwise): ``max_iterations`` (R, required),
    ``eta`` (above 1, default 3), ``resource`` ``{name, type: int|float}`` (the input
    that receives the budget; ``int`` rounds down), ``metric`` ``{name, optimization}``,
    ``resume`` (promoted trials name the trial they continue), and on the matrix itself
    ``params``, ``seed`` and ``concurrency``.

    Each bracket's configurations are drawn by random search from a seed derived from
    the sweep's seed and the bracket, so brackets sample independently and a restarted
    orchestrator draws the same ones. Survivors are the best of the rung below by the
    trial's last value of the metric, ties to the lower index; a trial that did not
    succeed with a finite value never continues, so its rung above runs fewer
    configurations (and ``planned`` shrinks accordingly).

    Work is handed out bracket by bracket in run order (``s = s_max`` first): a free
    slot goes to the first bracket that has a trial ready to create. A bracket waiting
    for the stragglers of a rung does not block the next bracket, and a bracket's
    promotions take precedence over later brackets' trials.
    """

    name = "hyperband"
    description = "Hyperband: brackets of successive halving over a growing resource."

    @classmethod
    def validate(cls, matrix: MatrixConfig) -> None:
        """Refuse a matrix Hyperband cannot run, naming the field and the fix."""
        super().validate(matrix)
        sh.validate_params(matrix)
        max_iterations = sh.read_number(matrix, "max_iterations", "maxIterations (R, the largest "
                                        "resource a configuration gets)", integer=True, at_least=1)
        eta = sh.read_number(matrix, "eta", "eta", default=sh.DEFAULT_ETA, above=1)
        sh.read_resource(matrix)
        sh.read_metric(matrix)
        sh.read_flag(matrix, "resume", "resume")
        # Bracket s alone has s + 1 rungs of at least one trial, so a sweep with more
        # than MAX_BRACKETS brackets is over the limit whatever its sizes; checked with a
        # float estimate first so the exact arithmetic below never runs for ages.
        if math.log(max_iterations) / math.log(eta) > MAX_BRACKETS:
            raise _too_many(max_iterations, eta, "more than a million")
        planned = sum(rung.size for bracket in _brackets(max_iterations, eta) for rung in bracket.rungs)
        if planned > MAX_PLANNED_TRIALS:
            raise _too_many(max_iterations, eta, str(planned))

    def __init__(self, matrix: MatrixConfig) -> None:
        super().__init__(matrix)
        self.max_iterations: int = matrix.options["max_iterations"]
        self.eta = matrix.options.get("eta", sh.DEFAULT_ETA)
        self.resource = sh.read_resource(matrix)
        self.metric, self.optimization = sh.read_metric(matrix)
        self.resume = sh.read_flag(matrix, "resume", "resume")
        self.seed = sh.sweep_seed(matrix)
        self.brackets = _brackets(self.max_iterations, self.eta)
        self._configurations: dict[int, list[dict[str, Any]]] = {}

    @cached_property
    def table_size(self) -> int:
        """Trials of the whole sweep when every trial succeeds (the paper's count)."""
        return sum(rung.size for bracket in self.brackets for rung in bracket.rungs)

    def configurations(self, bracket: Bracket) -> list[dict[str, Any]]:
        """The bracket's fresh configurations (without the resource), drawn once."""
        if bracket.number not in self._configurations:
            self._configurations[bracket.number] = sh.base_configurations(
                self.matrix, bracket.configurations,
                sh.sub_seed(self.seed, f"hyperband/bracket/{bracket.number}"),
            )
        return self._configurations[bracket.number]

    # ------------------------------------------------------------------ the history

    def _rung_states(self, bracket: Bracket, by_index: Mapping[int, Trial]) -> Iterator[_RungState]:
        drawn = len(self.configurations(bracket))
        eta = Fraction(self.eta)
        below: _RungState | None = None
        for rung in bracket.rungs:
            members = {
                slot: by_index[rung.offset + slot]
                for slot in range(rung.size)
                if rung.offset + slot in by_index
            }
            # A discrete space smaller than n shrinks every rung in proportion.
            capacity = min(rung.size, math.floor(drawn / eta**rung.number))
            survivors: list[Trial] = []
            if below is None:
                target: int | None = capacity
            elif below.complete:
                ranked = sh.rank(list(below.members.values()), self.metric, self.optimization)
                survivors = [t for t in ranked if sh.is_promotable(t, self.metric)][:capacity]
                target = len(survivors)
            else:
                target = None
            if target is not None:
                estimate = target
            else:
                assert below is not None
                lost = sum(1 for t in below.members.values()
                           if is_final(t.status) and not sh.is_promotable(t, self.metric))
                estimate = max(0, min(capacity, below.estimate - lost))
            state = _RungState(rung, members, target, survivors, estimate)
            yield state
            below = state

    def _suggestion(self, bracket: Bracket, state: _RungState, slot: int) -> Suggestion:
        rung = state.rung
        resource = self.resource.cast(rung.resource)
        meta: dict[str, Any] = {
            "index": rung.offset + slot,
            "bracket": bracket.number,
            "rung": rung.number,
            "resource": resource,
        }
        if rung.number == 0:
            params = dict(self.configurations(bracket)[slot])
        else:
            source = state.survivors[slot]
            params = {name: value for name, value in source.params.items()
                      if name != self.resource.name}
            meta["promoted_from"] = source.index
            if self.resume and source.run_uuid is not None:
                meta["resume_from"] = source.run_uuid
        params[self.resource.name] = resource
        return Suggestion(params=params, meta=meta)

    # ------------------------------------------------------------------ the contract

    def suggest(self, trials: Sequence[Trial], slots: int) -> list[Suggestion]:
        """Up to ``slots`` trials that can be created now, brackets in run order.

        In each bracket, the trials ready to create are the missing slots of its first
        rung that is not complete, if its size is known (the rung below is complete).
        """
        by_index = {trial.index: trial for trial in trials}
        suggestions: list[Suggestion] = []
        for bracket in self.brackets:
            if len(suggestions) >= slots:
                break
            for state in self._rung_states(bracket, by_index):
                if state.complete:
                    continue
                for slot in state.missing()[: slots - len(suggestions)]:
                    suggestions.append(self._suggestion(bracket, state, slot))
                break
        return suggestions

    def is_done(self, trials: Sequence[Trial]) -> bool:
        """Every trial is final and no rung has a trial left to create."""
        return all(is_final(trial.status) for trial in trials) and not self.suggest(trials, 1)

    def describe(self, trials: Sequence[Trial]) -> dict[str, Any]:
        """Progress, the brackets and their rungs, and the best trial so far.

        ``planned`` is the total number of trials: the paper's count until a trial fails,
        then the count with the rungs above it shrunk by the configurations that can no
        longer continue. Each rung shows ``configurations`` (its size; an upper bound
        while the rung below is running), ``resource``, ``created`` and ``finished``.
        ``best`` is the succeeded trial with the best value of the metric at any
        resource (the paper's "smallest intermediate loss seen so far").
        """
        by_index = {trial.index: trial for trial in trials}
        brackets = []
        planned = 0
        for bracket in self.brackets:
            rungs = []
            for state in self._rung_states(bracket, by_index):
                planned += state.estimate
                rungs.append({
                    "rung": state.rung.number,
                    "resource": self.resource.cast(state.rung.resource),
                    "configurations": state.estimate,
                    "created": len(state.members),
                    "finished": sum(1 for t in state.members.values() if is_final(t.status)),
                })
            brackets.append({"bracket": bracket.number, "s": bracket.s,
                             "configurations": bracket.configurations, "rungs": rungs})
        return {
            "kind": self.matrix.kind,
            "planned": planned,
            **sh.progress(trials),
            "max_iterations": self.max_iterations,
            "eta": sh.plain_number(sh.as_fraction(self.eta)),
            "resource": self.resource.name,
            "seed": self.seed,
            "brackets": brackets,
            "best": sh.best_trial(trials, self.metric, self.optimization, self.resource),
        }


def _too_many(max_iterations: int, eta: int | float, planned: str) -> PluginConfigError:
    return PluginConfigError(
        f"matrix kind 'hyperband' with maxIterations {max_iterations} and eta {eta:g} plans "
        f"{planned} trials, more than {MAX_PLANNED_TRIALS:,}; lower maxIterations or raise eta"
    )


def _brackets(max_iterations: int, eta: int | float) -> tuple[Bracket, ...]:
    return hyperband_brackets(max_iterations, sh.as_fraction(eta))


@hookimpl
def polyaxon_register_optimizers() -> list[type[Optimizer]]:
    return [HyperbandOptimizer]
