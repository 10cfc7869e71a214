"""Bayesian optimization with a Gaussian process (``matrix.kind: bayes``).

The entry point ``optimizer-bayes`` registers :class:`BayesOptimizer`. The model and the
acquisition functions live in :mod:`polyaxon_optimizers.gaussian_process` and the
encoding of the params in :mod:`polyaxon_optimizers.bayes_space`; both need numpy and
scipy (``pip install 'polyaxon-optimizers[bayes]'``) and are imported only when a
suggestion is computed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeGuard

from polyaxon_core.entities import MatrixConfig, Suggestion, Trial
from polyaxon_core.hookspecs import hookimpl
from polyaxon_core.interfaces import Optimizer, PluginConfigError
from polyaxon_core.lifecycle import Status, is_final
from polyaxon_optimizers import extras, space
from polyaxon_optimizers.base import _best_trial, metric_option, validate_distributions
from polyaxon_optimizers.random_search import RandomSearchOptimizer, derived_seed

if TYPE_CHECKING:
    import numpy as np

    from polyaxon_optimizers.bayes_space import UnitCube
    from polyaxon_optimizers.gaussian_process import Acquisition, GaussianProcess

ACQUISITION_FUNCTIONS = ("ucb", "ei", "poi")
KERNELS = ("matern", "rbf")
#: Random candidates scored per suggestion when ``utilityFunction.numWarmup`` is not set.
DEFAULT_NUM_WARMUP = 2000
#: Local optimizations of the acquisition per suggestion (``utilityFunction.numIterations``).
DEFAULT_NUM_ITERATIONS = 5
#: Candidates drawn around each of the best observed points, and how many points that is.
NEIGHBOURS_PER_POINT = 50
NEIGHBOUR_CENTERS = 5
NEIGHBOUR_SCALE = 0.05
#: A model needs at least this many observed values; until then extra slots are random.
MIN_OBSERVATIONS = 2


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value: Any, minimum: int) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


@dataclass(frozen=True)
class BayesSettings:
    """The bayes fields of a matrix, with defaults applied (see the module docs)."""

    num_initial_runs: int
    max_iterations: int
    metric: str
    optimization: str
    acquisition_function: str
    kappa: float
    eps: float
    num_warmup: int
    num_iterations: int
    kernel: str
    length_scale: float
    nu: float
    num_restarts_optimizer: int

    @classmethod
    def from_matrix(cls, matrix: MatrixConfig) -> BayesSettings:
        """Read ``matrix.options``; PluginConfigError names the field and the fix."""
        options = matrix.options
        if options.get("tuner") is not None:
            raise PluginConfigError(
                "matrix kind 'bayes' computes its suggestions itself and takes no tuner; "
                "to bring your own suggestion logic use kind: iterative with tuner.hubRef"
            )
        initial, iterations = options.get("num_initial_runs"), options.get("max_iterations")
        if not _whole(initial, 1):
            raise PluginConfigError(
                f"matrix kind 'bayes' needs numInitialRuns, a whole number >= 1 of random trials "
                f"before the model takes over, got {initial!r}"
            )
        if not _whole(iterations, 1):
            raise PluginConfigError(
                f"matrix kind 'bayes' needs maxIterations, a whole number >= 1 of model-based "
                f"trials after the initial ones, got {iterations!r}"
            )
        metric = metric_option(matrix)
        if metric is None:
            raise PluginConfigError(
                "matrix kind 'bayes' needs metric: {name: <metric>, optimization: maximize|minimize}"
            )
        utility = options.get("utility_function")
        if utility is None:
            # Our default when the section is absent (Polyaxon has none): expected improvement.
            utility = {"acquisition_function": "ei", "eps": 0.0}
        if not isinstance(utility, Mapping):
            raise PluginConfigError(f"matrix utilityFunction must be a mapping, got {utility!r}")
        function = str(utility.get("acquisition_function") or "ucb").lower()
        if function not in ACQUISITION_FUNCTIONS:
            raise PluginConfigError(
                f"matrix utilityFunction.acquisitionFunction must be one of "
                f"{', '.join(ACQUISITION_FUNCTIONS)}, got {utility.get('acquisition_function')!r}"
            )
        needed = "kappa" if function == "ucb" else "eps"
        if not _number(utility.get(needed)):
            raise PluginConfigError(
                f"matrix utilityFunction: the acquisition function '{function}' needs {needed}, "
                f"a number, got {utility.get(needed)!r}"
            )
        for key, name in (("num_warmup", "numWarmup"), ("num_iterations", "numIterations")):
            if utility.get(key) is not None and not _whole(utility[key], 1):
                raise PluginConfigError(
                    f"matrix utilityFunction.{name} must be a whole number >= 1, got {utility[key]!r}"
                )
        process = utility.get("gaussian_process") or {}
        if not isinstance(process, Mapping):
            raise PluginConfigError(
                f"matrix utilityFunction.gaussianProcess must be a mapping, got {process!r}"
            )
        kernel = str(process.get("kernel") or "matern").lower()
        if kernel not in KERNELS:
            raise PluginConfigError(
                f"matrix utilityFunction.gaussianProcess.kernel must be matern or rbf, "
                f"got {process.get('kernel')!r}"
            )
        for key, name in (("length_scale", "lengthScale"), ("nu", "nu")):
            value = process.get(key)
            if value is not None and not (isinstance(value, int | float) and value > 0):
                raise PluginConfigError(
                    f"matrix utilityFunction.gaussianProcess.{name} must be a number > 0, got {value!r}"
                )
        restarts = process.get("num_restarts_optimizer")
        if restarts is not None and not _whole(restarts, 0):
            raise PluginConfigError(
                f"matrix utilityFunction.gaussianProcess.numRestartsOptimizer must be a whole "
                f"number >= 0, got {restarts!r}"
            )
        return cls(
            num_initial_runs=initial,
            max_iterations=iterations,
            metric=metric[0],
            optimization=metric[1],
            acquisition_function=function,
            kappa=float(utility.get("kappa") or 0.0),
            eps=float(utility.get("eps") or 0.0),
            num_warmup=utility.get("num_warmup") or DEFAULT_NUM_WARMUP,
            num_iterations=utility.get("num_iterations") or DEFAULT_NUM_ITERATIONS,
            kernel=kernel,
            length_scale=float(process.get("length_scale") or 1.0),
            nu=float(process.get("nu") or 1.5),
            num_restarts_optimizer=restarts if restarts is not None else 0,
        )


class BayesOptimizer(Optimizer):
    """Gaussian-process Bayesian optimization, as Polyaxon's ``bayes`` matrix.

    Trial ``index < numInitialRuns`` runs entry ``index`` of a random search of the same
    params and seed (Polyaxon seeds the model with random runs too). Every later index is
    chosen by the model: a Gaussian process fitted to the succeeded trials' metric
    (maximized; a minimized metric is negated), whose acquisition function is maximized
    over many random candidates and candidates near the best trials, the best of them
    refined by L-BFGS-B. The sweep plans ``numInitialRuns + maxIterations`` trials (fewer
    when the space has fewer configurations: they are then all distinct).

    Trials that are running, queued, failed or without the metric are not observations.
    The model is told they return its own prediction (the "kriging believer"), which
    keeps their neighbourhood from being suggested again while they run and lets every
    free slot be filled at once. While fewer than two values are known, extra slots run
    random-search entries instead.

    Everything is a function of the matrix and the trials: the random state of a
    suggestion is seeded by ``seed`` (or one derived from the params) and the number of
    trials, so a restarted orchestrator gets the same suggestions.
    """

    name = "bayes"
    description = "Gaussian-process Bayesian optimization (acquisition ucb, ei or poi)."
    supported_distributions = frozenset(
        {"choice", "range", "daterange", "datetimerange", "linspace", "logspace", "geomspace", "uniform"}
    )

    @classmethod
    def validate(cls, matrix: MatrixConfig) -> None:
        """Check the params, every bayes field and that the ``bayes`` extra is installed."""
        if not matrix.params:
            raise PluginConfigError("matrix kind 'bayes' needs at least one param to search")
        unsupported = sorted(
            f"{name} ({param.kind})" for name, param in matrix.params.items()
            if param.kind not in cls.supported_distributions
        )
        if unsupported:
            raise PluginConfigError(
                f"matrix kind 'bayes' models uniform and discrete params only, as in Polyaxon; "
                f"it cannot search {', '.join(unsupported)}. Use kind: tpe or hyperopt for "
                f"pchoice and the other distributions"
            )
        validate_distributions(matrix)
        BayesSettings.from_matrix(matrix)
        extras.require(cls.name, "bayes", "numpy", "scipy")

    def __init__(self, matrix: MatrixConfig) -> None:
        super().__init__(matrix)
        self.settings = BayesSettings.from_matrix(matrix)
        self.seed = matrix.seed if matrix.seed is not None else derived_seed(matrix)
        budget = self.settings.num_initial_runs + self.settings.max_iterations
        combinations = _combinations(matrix)
        self.planned = budget if combinations is None else min(budget, combinations)
        # The random entries: initial trials, and extra slots before the model can be fitted.
        self._random = RandomSearchOptimizer(
            MatrixConfig(kind="random", params=matrix.params, num_runs=self.planned, seed=self.seed)
        )

    # ------------------------------------------------------------------- suggestions

    def suggest(self, trials: Sequence[Trial], slots: int) -> list[Suggestion]:
        """Random entries for the initial indexes, the model's choices for later ones."""
        taken = {trial.index for trial in trials}
        free = [index for index in range(self.planned) if index not in taken][: max(slots, 0)]
        if not free:
            return []
        observed = self._observations(trials)
        suggestions: list[Suggestion] = []
        modelled: list[int] = []
        for index in free:
            if index < self.settings.num_initial_runs or len(observed) < MIN_OBSERVATIONS:
                if index < self._random.planned:
                    meta = {"index": index, "iteration": self._iteration(index)}
                    suggestions.append(Suggestion(dict(self._random.configuration(index)), meta))
            else:
                modelled.append(index)
        if modelled:
            suggestions += self._model_suggestions(trials, observed, modelled)
        return suggestions

    def _iteration(self, index: int) -> int:
        """0 for the initial trials, then 1, 2, ... (Polyaxon's numbering of iterations)."""
        return max(0, index - self.settings.num_initial_runs + 1)

    def _observations(self, trials: Sequence[Trial]) -> list[Trial]:
        name = self.settings.metric
        return [
            trial for trial in trials
            if trial.status == Status.SUCCEEDED and _number(trial.metrics.get(name))
        ]

    def _model_suggestions(
        self, trials: Sequence[Trial], observed: list[Trial], indexes: list[int]
    ) -> list[Suggestion]:
        import numpy as np

        from polyaxon_optimizers import gaussian_process
        from polyaxon_optimizers.bayes_space import UnitCube

        cube = UnitCube(self.matrix.params)
        rng = np.random.default_rng([self.seed % 2**64, len(trials)])
        points, values = [], []
        sign = 1.0 if self.settings.optimization == "maximize" else -1.0
        for trial in observed:
            point = cube.encode(trial.params)
            if point is not None:
                points.append(point)
                values.append(sign * float(trial.metrics[self.settings.metric]))
        if len(points) < MIN_OBSERVATIONS:
            return []
        y = np.array(values)
        center, scale = float(y.mean()), float(y.std()) or 1.0
        standardized = (y - center) / scale
        x = np.array(points)
        kernel = gaussian_process.Kernel(self.settings.kernel, self.settings.nu)
        model = gaussian_process.fit(
            kernel, x, standardized, self.settings.length_scale, self.settings.num_restarts_optimizer, rng
        )
        observed_ids = {id(trial) for trial in observed}
        pending = [cube.encode(t.params) for t in trials if id(t) not in observed_ids]
        model = model.with_fantasies(np.array([p for p in pending if p is not None]).reshape(-1, cube.size))
        acquisition = gaussian_process.Acquisition(
            self.settings.acquisition_function,
            kappa=self.settings.kappa,
            # eps is in the metric's units; the model works on the standardized metric.
            eps=self.settings.eps / scale,
        )
        best = float(standardized.max())
        top = x[np.argsort(-standardized, kind="stable")[:NEIGHBOUR_CENTERS]]
        known = [*points, *(point for point in pending if point is not None)]
        seen = {_fingerprint(cube.decode(point)) for point in known}
        suggestions = []
        for index in indexes:
            point = self._next_point(cube, model, acquisition, best, top, seen, rng)
            if point is None:
                break
            params = cube.decode(point)
            seen.add(_fingerprint(params))
            suggestions.append(Suggestion(params, {"index": index, "iteration": self._iteration(index)}))
            model = model.with_fantasies(point[None, :])
        return suggestions

    def _next_point(
        self,
        cube: UnitCube,
        model: GaussianProcess,
        acquisition: Acquisition,
        best: float,
        top: np.ndarray,
        seen: set[str],
        rng: np.random.Generator,
    ) -> np.ndarray | None:
        """The best not-yet-seen point by the acquisition; None if every point was seen."""
        import numpy as np

        from polyaxon_optimizers import gaussian_process

        combinations = cube.combinations
        if combinations is not None and combinations <= self.settings.num_warmup:
            candidates = np.array([p for p in cube.every_point() if _fingerprint(cube.decode(p)) not in seen])
            if len(candidates) == 0:
                return None
        else:
            candidates = np.vstack(
                [cube.sample(rng, self.settings.num_warmup),
                 cube.neighbours(top, rng, NEIGHBOURS_PER_POINT, NEIGHBOUR_SCALE)]
            )
        ranked, _ = gaussian_process.maximize(
            acquisition, model, best, candidates, cube.relaxed, cube.snap, self.settings.num_iterations
        )
        for point in ranked:
            if _fingerprint(cube.decode(point)) not in seen:
                return np.asarray(point)
        return None

    # -------------------------------------------------------------------- progress

    def is_done(self, trials: Sequence[Trial]) -> bool:
        """Every planned index has a trial, and every trial reached a final status."""
        created = {trial.index for trial in trials if 0 <= trial.index < self.planned}
        return len(created) == self.planned and all(is_final(trial.status) for trial in trials)

    def describe(self, trials: Sequence[Trial]) -> dict[str, Any]:
        """Progress, the current iteration (0 while initial runs are made) and the best trial."""
        finished = sum(1 for trial in trials if is_final(trial.status))
        iterations = [
            trial.meta["iteration"] for trial in trials if isinstance(trial.meta.get("iteration"), int)
        ]
        return {
            "kind": self.matrix.kind,
            "planned": self.planned,
            "created": len(trials),
            "running": len(trials) - finished,
            "finished": finished,
            "iteration": max(iterations, default=0),
            "max_iterations": self.settings.max_iterations,
            "num_initial_runs": self.settings.num_initial_runs,
            "observations": len(self._observations(trials)),
            "acquisition_function": self.settings.acquisition_function,
            "seed": self.seed,
            "best": _best_trial(trials, self.settings.metric, self.settings.optimization),
        }


def _combinations(matrix: MatrixConfig) -> int | None:
    if not all(space.is_discrete(distribution) for distribution in matrix.params.values()):
        return None
    return math.prod(space.size(distribution) for distribution in matrix.params.values())


def _fingerprint(params: Mapping[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)


@hookimpl
def polyaxon_register_optimizers() -> list[type[Optimizer]]:
    return [BayesOptimizer]
