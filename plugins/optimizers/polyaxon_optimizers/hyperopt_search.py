"""Search through the hyperopt library: ``matrix.kind: tpe`` and ``matrix.kind: hyperopt``.

The entry point ``optimizer-hyperopt`` registers :class:`HyperoptOptimizer`
(Polyaxon 1.x's kind, whose ``algorithm`` picks ``tpe``, ``rand`` or ``anneal``), and
``optimizer-tpe`` (module :mod:`polyaxon_optimizers.tpe`) registers
:class:`TPEOptimizer` (Polyaxon 2.x's kind: Tree-structured Parzen Estimators).
hyperopt is an optional dependency (``pip install 'polyaxon-optimizers[hyperopt]'``),
imported only when a suggestion is computed: importing it takes about two seconds.

Each call gives hyperopt the sweep's whole history, so hyperopt keeps no state between
calls either; the trial documents made of it are kept between calls (:data:`_DOCUMENTS`),
as making them cost more than TPE itself on a long history. ``rand`` and ``anneal`` get
them as hyperopt's ``Trials``; TPE gets them as ``hyperopt.tpe.suggest`` would hand them
to its model (:func:`_tpe_values`), which spares rebuilding that model's expression and
re-reading every document on each call.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, ClassVar, TypeGuard

from polyaxon_core.entities import MatrixConfig, ParamDistribution, Suggestion, Trial
from polyaxon_core.hookspecs import hookimpl
from polyaxon_core.interfaces import Optimizer, PluginConfigError
from polyaxon_core.lifecycle import Status, is_final
from polyaxon_optimizers import extras, space
from polyaxon_optimizers.base import Kept, _best_trial, metric_option, validate_distributions
from polyaxon_optimizers.random_search import derived_seed

ALGORITHMS = ("tpe", "rand", "anneal")


def _whole(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def hyperopt_space(params: Mapping[str, ParamDistribution]) -> dict[str, Any]:
    """The params as hyperopt expressions, each labelled with the param's name.

    Discrete kinds become ``hp.choice`` of their values (hyperopt then works on the
    value's position). The continuous kinds map to the hyperopt distribution of the same
    name with the same arguments: our semantics are hyperopt's, so ``loguniform`` bounds
    are natural-log exponents in both. ``pchoice`` is refused by the optimizers' validation.
    """
    from hyperopt import hp

    expressions: dict[str, Any] = {}
    for name, distribution in sorted(params.items()):
        kind, spec = distribution.kind, distribution.value
        if space.is_discrete(distribution):
            expressions[name] = hp.choice(name, space.enumerate_values(distribution))
        elif kind in ("uniform", "loguniform"):
            expressions[name] = getattr(hp, kind)(name, spec["low"], spec["high"])
        elif kind in ("quniform", "qloguniform"):
            expressions[name] = getattr(hp, kind)(name, spec["low"], spec["high"], spec["q"])
        elif kind in ("normal", "lognormal"):
            expressions[name] = getattr(hp, kind)(name, spec["loc"], spec["scale"])
        elif kind in ("qnormal", "qlognormal"):
            expressions[name] = getattr(hp, kind)(name, spec["loc"], spec["scale"], spec["q"])
        else:
            raise ValueError(f"hyperopt has no equivalent of {kind}")
    return expressions


#: the hyperopt documents of trials, by all that makes one: the search space, metric and
#: direction, and the trial's index, status, metric value and params. A sweep's history is
#: read again on every pass, where only the trials that changed need a new document.
#: Documents are never changed once made (hyperopt's ``Trials`` copies what it is given,
#: and TPE's model only reads them). Enough for the histories of a few sweeps of
#: thousands of trials (about 1 kB each).
_DOCUMENTS: Kept[Hashable, dict[str, Any] | None] = Kept(20_000)
#: the same, found by the :class:`~polyaxon_core.entities.Trial` object they were made
#: from (kept with them, so its ``id`` stays its own) in a space: the orchestrator hands
#: the same Trial to every pass until its run changes, and finding it so builds no key
_DOCUMENTS_OF: Kept[tuple[int, Hashable], tuple[Trial, dict[str, Any] | None]] = Kept(20_000)


class _Space:
    """hyperopt's ``Domain`` of a search space, built once, as ``fmin`` does for all its
    suggestions, and TPE's model of it (built on first use); used by one suggestion at a
    time (``lock``)."""

    def __init__(self, params: Mapping[str, ParamDistribution]) -> None:
        import hyperopt

        self.domain = hyperopt.Domain(lambda _params: 0.0, hyperopt_space(params))
        self.lock = threading.Lock()
        self._posterior: tuple[Any, Any, Any] | None = None

    def posterior(self) -> tuple[Any, Any, Any]:
        """What ``hyperopt.tpe.build_posterior_wrapper`` makes of the domain with TPE's
        default prior weight and gamma: the same expression for every call, its
        observations given apart (by the lock's holder)."""
        from hyperopt import tpe

        if self._posterior is None:
            self._posterior = tpe.build_posterior_wrapper(
                self.domain, tpe._default_prior_weight, tpe._default_gamma)
        return self._posterior


#: the :class:`_Space` of each search space
_SPACES: Kept[str, _Space] = Kept(64)


def _space(params: Mapping[str, ParamDistribution]) -> _Space:
    key = repr(sorted(params.items()))
    _, kept = _SPACES.get(key)
    return kept if kept is not None else _SPACES.put(key, _Space(params))


def _tpe_values(kept: _Space, documents: Sequence[Mapping[str, Any]], new_id: int,
                seed: int) -> dict[str, list[Any]]:
    """The values (by label) ``hyperopt.tpe.suggest([new_id], domain, trials, seed)``
    suggests, with default settings, for ``trials`` holding ``documents``: the same
    computation (each trial id's best loss, running and failed ones counted as infinitely
    bad; random draws until enough trials; then the model evaluated on the observations
    ordered by trial id), from the kept model. The parity with ``fmin`` is tested. (Our
    spaces have no ``hp.randint``, whose values hyperopt's TPE shifts afterwards.)"""
    import numpy as np
    from hyperopt import Trials, pyll, rand, tpe
    from hyperopt.base import miscs_update_idxs_vals

    domain = kept.domain
    best: dict[int, tuple[float, Mapping[str, Any]]] = {}
    for document in documents:
        tid = document["misc"].get("from_tid", document["tid"])
        raw = document["result"].get("loss")
        loss = math.inf if raw is None else float(raw)
        held = best.get(tid)
        if held is None or loss <= held[0]:
            best[tid] = (loss, document)
    if len(best) < tpe._default_n_startup_jobs:
        (drawn,) = rand.suggest([new_id], domain, Trials(), seed)
        return dict(drawn["misc"]["vals"])
    tids = sorted(best)
    # our spaces are flat: every document has one value of every label, at its own id
    values = [best[tid][1]["misc"]["vals"] for tid in tids]
    observed_idxs = {label: list(tids) for label in domain.params}
    observed_vals = {label: [value[label][0] for value in values] for label in domain.params}
    # candidates get ids no trial has, as in hyperopt
    first_candidate = max(tids[-1], new_id) + 2
    candidates = list(range(first_candidate, first_candidate + tpe._default_n_EI_candidates))
    observed, observed_loss, posterior = kept.posterior()
    memo = {
        domain.s_new_ids: candidates, domain.s_rng: np.random.default_rng(seed),
        observed["idxs"]: observed_idxs, observed["vals"]: observed_vals,
        observed_loss["idxs"]: tuple(tids), observed_loss["vals"]: [best[tid][0] for tid in tids],
    }
    idxs, vals = pyll.rec_eval(posterior, memo=memo, print_node_on_error=False)
    misc: dict[str, Any] = {"tid": new_id}
    miscs_update_idxs_vals([misc], idxs, vals, idxs_map={candidates[0]: new_id},
                           assert_all_vals_used=False)
    return dict(misc["vals"])


class HyperoptOptimizer(Optimizer):
    """hyperopt's ``tpe``, ``rand`` or ``anneal`` (``algorithm``, default ``tpe``).

    The sweep plans ``numRuns * maxIterations`` trials (each defaults to 1 when the other
    is given), as Polyaxon: an iteration is ``numRuns`` trials. Unlike Polyaxon, which
    waits for a whole iteration before asking hyperopt again, every free slot gets a
    suggestion from all the results known at that moment. Trial ``index`` is hyperopt's
    trial id.

    The history is given to hyperopt the way its own ``fmin`` records it: a succeeded
    trial with the metric is a finished trial whose loss is the metric (negated when it
    is maximized); a failed or stopped trial, or one without the metric, is a finished
    trial with status ``fail``; a trial still queued or running is a running trial, as
    in hyperopt's asynchronous mode (TPE counts it as a bad result, which steers the
    next suggestion away from it). Suggestions for several slots are made one after the
    other, each seeing the previous ones as running.

    The random state of the suggestion of trial ``index`` is seeded by ``seed`` (or one
    derived from the params) and ``index``, so equal histories give equal suggestions.
    hyperopt does not avoid repeats: on a small discrete space a configuration may run
    twice, as with hyperopt itself.
    """

    name = "hyperopt"
    description = "hyperopt's tpe, rand or anneal algorithm (option algorithm)."
    supported_distributions = frozenset(space.ALL_KINDS - {"pchoice"})
    #: The algorithm, when the matrix kind fixes it.
    fixed_algorithm: ClassVar[str | None] = None

    @classmethod
    def validate(cls, matrix: MatrixConfig) -> None:
        """Check params, budget, metric, algorithm and that the ``hyperopt`` extra is installed."""
        if not matrix.params:
            raise PluginConfigError(f"matrix kind '{matrix.kind}' needs at least one param to search")
        weighted = sorted(name for name, param in matrix.params.items() if param.kind == "pchoice")
        if weighted:
            raise PluginConfigError(
                f"matrix kind '{matrix.kind}' does not take pchoice ({', '.join(weighted)}), as in "
                f"Polyaxon: use choice, whose values it learns to weight from the results, or "
                f"kind: random to draw with fixed probabilities"
            )
        super().validate(matrix)
        validate_distributions(matrix)
        if matrix.options.get("tuner") is not None:
            raise PluginConfigError(
                f"matrix kind '{matrix.kind}' computes its suggestions with hyperopt and takes no "
                f"tuner; to bring your own suggestion logic use kind: iterative with tuner.hubRef"
            )
        cls._budget(matrix)
        if metric_option(matrix) is None:
            raise PluginConfigError(
                f"matrix kind '{matrix.kind}' needs metric: "
                f"{{name: <metric>, optimization: maximize|minimize}}"
            )
        cls._algorithm(matrix)
        extras.require(matrix.kind, "hyperopt", "hyperopt")

    @classmethod
    def _budget(cls, matrix: MatrixConfig) -> tuple[int, int]:
        num_runs, iterations = matrix.num_runs, matrix.options.get("max_iterations")
        if num_runs is None and iterations is None:
            raise PluginConfigError(
                f"matrix kind '{matrix.kind}' needs numRuns and/or maxIterations: the sweep runs "
                f"numRuns trials per iteration for maxIterations iterations (each defaults to 1)"
            )
        for value, field in ((num_runs, "numRuns"), (iterations, "maxIterations")):
            if value is not None and not _whole(value):
                raise PluginConfigError(f"matrix {field} must be a whole number >= 1, got {value!r}")
        return num_runs or 1, iterations or 1

    @classmethod
    def _algorithm(cls, matrix: MatrixConfig) -> str:
        if cls.fixed_algorithm is not None:
            return cls.fixed_algorithm
        algorithm = matrix.options.get("algorithm") or "tpe"
        if algorithm not in ALGORITHMS:
            raise PluginConfigError(
                f"matrix algorithm must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}"
            )
        return str(algorithm)

    def __init__(self, matrix: MatrixConfig) -> None:
        super().__init__(matrix)
        self.num_runs, self.max_iterations = self._budget(matrix)
        self.planned = self.num_runs * self.max_iterations
        self.algorithm = self._algorithm(matrix)
        self.metric, self.optimization = metric_option(matrix) or ("", "maximize")
        self.seed = matrix.seed if matrix.seed is not None else derived_seed(matrix)
        self._names = sorted(matrix.params)
        self._space_key = (repr(sorted(matrix.params.items())), self.metric, self.optimization)

    # ------------------------------------------------------------------- suggestions

    def suggest(self, trials: Sequence[Trial], slots: int) -> list[Suggestion]:
        """One hyperopt suggestion per free index, lowest first, up to ``slots``."""
        taken = {trial.index for trial in trials}
        free = [index for index in range(self.planned) if index not in taken][: max(slots, 0)]
        if not free:
            return []
        kept = _space(self.matrix.params)
        with kept.lock:
            if self.algorithm == "tpe":
                return self._suggest_tpe(kept, trials, free)
            return self._suggest(kept.domain, trials, free)

    def _documents(self, domain: Any, trials: Sequence[Trial]) -> list[dict[str, Any]]:
        """The kept documents of ``trials`` (those in the space)."""
        import hyperopt

        history = None  # what makes new documents, made only when one is needed
        documents = []
        kept = _DOCUMENTS_OF.get_many([(id(trial), self._space_key) for trial in trials])
        for trial, (_, made) in zip(trials, kept, strict=True):
            if made is not None and made[0] is trial:
                document = made[1]
            else:
                if history is None:
                    history = hyperopt.Trials()
                document = self._cached_document(history, domain, trial)
                _DOCUMENTS_OF.put((id(trial), self._space_key), (trial, document))
            if document:
                documents.append(document)
        return documents

    def _seed(self, index: int) -> int:
        import numpy as np

        return int(np.random.default_rng([self.seed % 2**64, index]).integers(2**31 - 1))

    def _suggestion(self, values: Mapping[str, list[Any]], index: int) -> Suggestion:
        return Suggestion(self._params(values), {"index": index, "iteration": index // self.num_runs})

    def _suggest_tpe(self, kept: _Space, trials: Sequence[Trial], free: Sequence[int]) -> list[Suggestion]:
        documents = self._documents(kept.domain, trials)
        suggestions = []
        for index in free:
            values = _tpe_values(kept, documents, index, self._seed(index))
            suggestions.append(self._suggestion(values, index))
            # The next slot sees this suggestion as running, as hyperopt's own queue would.
            documents.append({"tid": index, "result": {"status": "new"},
                              "misc": {"tid": index, "idxs": {label: [index] for label in values},
                                       "vals": values}})
        return suggestions

    def _suggest(self, domain: Any, trials: Sequence[Trial], free: Sequence[int]) -> list[Suggestion]:
        import hyperopt

        suggest_one = hyperopt.rand.suggest if self.algorithm == "rand" else hyperopt.anneal.suggest
        history = hyperopt.Trials()
        history.insert_trial_docs(self._documents(domain, trials))
        history.refresh()
        suggestions = []
        for index in free:
            (new,) = suggest_one([index], domain, history, self._seed(index))
            suggestions.append(self._suggestion(new["misc"]["vals"], index))
            # The next slot sees this suggestion as running, as hyperopt's own queue would.
            new["state"] = hyperopt.JOB_STATE_RUNNING
            history.insert_trial_docs([new])
            history.refresh()
        return suggestions

    def _cached_document(self, history: Any, domain: Any, trial: Trial) -> dict[str, Any] | None:
        """:meth:`_document`, made once for each state of a trial (see :data:`_DOCUMENTS`)."""
        key = (self._space_key, trial.index, trial.status, trial.metrics.get(self.metric),
               tuple((type(value), value) for value in map(trial.params.get, self._names)))
        try:
            found, document = _DOCUMENTS.get(key)
        except TypeError:  # a param value that cannot be a key (a list): made every time
            return self._document(history, domain, trial)
        if not found:
            document = self._document(history, domain, trial)
            _DOCUMENTS.put(key, document)
        return document

    def _document(self, history: Any, domain: Any, trial: Trial) -> dict[str, Any] | None:
        """``trial`` as a hyperopt trial document, or None when its params are not in the space."""
        import hyperopt

        values: dict[str, list[Any]] = {}
        for name, distribution in self.matrix.params.items():
            value = self._hyperopt_value(distribution, trial.params.get(name))
            if value is None:
                return None
            values[name] = [value]
        metric = trial.metrics.get(self.metric)
        if not is_final(trial.status):
            state, result = hyperopt.JOB_STATE_RUNNING, domain.new_result()
        elif trial.status == Status.SUCCEEDED and _number(metric):
            loss = -float(metric) if self.optimization == "maximize" else float(metric)
            state, result = hyperopt.JOB_STATE_DONE, {"status": hyperopt.STATUS_OK, "loss": loss}
        else:
            state, result = hyperopt.JOB_STATE_DONE, {"status": hyperopt.STATUS_FAIL}
        misc = {
            "tid": trial.index, "cmd": domain.cmd, "workdir": domain.workdir,
            "idxs": {name: [trial.index] for name in values}, "vals": values,
        }
        (document,) = history.new_trial_docs([trial.index], [None], [result], [misc])
        document["state"] = state
        return dict(document)

    @staticmethod
    def _hyperopt_value(distribution: ParamDistribution, value: Any) -> Any:
        """What hyperopt records for ``value``: a choice's position, else the value itself."""
        if not space.is_discrete(distribution):
            return float(value) if _number(value) and space.contains(distribution, value) else None
        if not space.contains(distribution, value):
            return None
        values = space.enumerate_values(distribution)
        for position, candidate in enumerate(values):
            if candidate == value and isinstance(candidate, bool) == isinstance(value, bool):
                return position
        # A float equal within tolerance (contains() accepted it) but not bit for bit.
        return min(range(len(values)), key=lambda position: abs(values[position] - value))

    def _params(self, values: Mapping[str, list[Any]]) -> dict[str, Any]:
        """hyperopt's values (numpy scalars, choice positions) as plain JSON params."""
        params: dict[str, Any] = {}
        for name, distribution in self.matrix.params.items():
            raw = values[name][0]
            if space.is_discrete(distribution):
                params[name] = space.value_at(distribution, int(raw))
            elif distribution.kind.startswith("q") and isinstance(distribution.value["q"], int):
                params[name] = int(round(float(raw)))
            elif distribution.kind.startswith("q"):
                params[name] = space._quantize(float(raw), distribution.value["q"])
            else:
                params[name] = float(raw)
        return params

    # -------------------------------------------------------------------- progress

    def is_done(self, trials: Sequence[Trial]) -> bool:
        """Every planned index has a trial, and every trial reached a final status."""
        created = {trial.index for trial in trials if 0 <= trial.index < self.planned}
        return len(created) == self.planned and all(is_final(trial.status) for trial in trials)

    def describe(self, trials: Sequence[Trial]) -> dict[str, Any]:
        """Progress, the iteration of the latest trial, the algorithm, the seed and the best trial."""
        finished = sum(1 for trial in trials if is_final(trial.status))
        latest = max((trial.index for trial in trials), default=None)
        return {
            "kind": self.matrix.kind,
            "algorithm": self.algorithm,
            "planned": self.planned,
            "created": len(trials),
            "running": len(trials) - finished,
            "finished": finished,
            "iteration": None if latest is None else latest // self.num_runs,
            "max_iterations": self.max_iterations,
            "num_runs": self.num_runs,
            "seed": self.seed,
            "best": _best_trial(trials, self.metric, self.optimization),
        }


class TPEOptimizer(HyperoptOptimizer):
    """Polyaxon 2.x's ``tpe`` kind: hyperopt's TPE, with the same fields minus ``algorithm``."""

    name = "tpe"
    description = "Tree-structured Parzen Estimators (hyperopt's tpe)."
    fixed_algorithm = "tpe"


@hookimpl
def polyaxon_register_optimizers() -> list[type[Optimizer]]:
    return [HyperoptOptimizer]
