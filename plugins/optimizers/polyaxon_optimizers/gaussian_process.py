"""Gaussian-process regression and the acquisition functions of ``kind: bayes``.

Inputs live in the unit cube (see :mod:`polyaxon_optimizers.bayes_space`) and targets are
standardized by the caller, so the hyperparameter bounds below are meaningful for any
search space. The kernel is stationary, ``k(x, x') = signal * kappa(r)`` with
``r = |(x - x') / length_scales|`` (one length scale per input: automatic relevance
determination), plus a noise variance on the diagonal.

This module needs numpy and scipy (the ``bayes`` extra of polyaxon-optimizers). It is
imported only when a bayes sweep computes a suggestion, never when the plugin is loaded.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize, special

Array = np.ndarray

#: Bounds of the hyperparameters, for inputs in [0, 1] and standardized targets.
LENGTH_SCALE_BOUNDS = (1e-2, 1e2)
SIGNAL_VARIANCE_BOUNDS = (5e-2, 2e1)
NOISE_VARIANCE_BOUNDS = (1e-6, 1.0)
#: Added to the diagonal before factorizing, raised tenfold while the matrix is not
#: numerically positive definite (duplicate inputs with the smallest noise).
JITTER = 1e-10
MAX_JITTER = 1e-4
#: Below this standard deviation the posterior is treated as certain.
MIN_STD = 1e-9
#: Observations the hyperparameters are estimated from, at most. Each step of that
#: estimation costs a cubic factorization; the posterior still uses every observation.
MAX_FIT_POINTS = 300


# ------------------------------------------------------------------------------ kernel


@dataclass(frozen=True)
class Kernel:
    """The radial profile ``kappa(r)`` of a stationary kernel, with ``kappa(0) = 1``.

    ``kind`` is ``matern`` (smoothness ``nu``; ``nu = inf`` is the RBF) or ``rbf``.
    """

    kind: str
    nu: float = 2.5

    def profile(self, r: Array) -> tuple[Array, Array]:
        """``kappa(r)`` and ``kappa'(r) / r`` (the form every gradient below needs).

        ``kappa'(r) / r`` has a finite limit at ``r = 0`` for kernels smoother than
        ``nu = 1``; for rougher ones it is set to 0 there, where it only ever multiplies
        coordinate differences that are 0.
        """
        if self.kind == "rbf" or math.isinf(self.nu):
            value = np.exp(-0.5 * r * r)
            return value, -value
        nu = self.nu
        if nu == 0.5:
            value = np.exp(-r)
            with np.errstate(divide="ignore"):
                ratio = np.where(r > 0, -value / np.where(r > 0, r, 1.0), 0.0)
            return value, ratio
        if nu == 1.5:
            scaled = math.sqrt(3.0) * r
            decay = np.exp(-scaled)
            return (1.0 + scaled) * decay, -3.0 * decay
        if nu == 2.5:
            scaled = math.sqrt(5.0) * r
            decay = np.exp(-scaled)
            return (1.0 + scaled + scaled * scaled / 3.0) * decay, -(5.0 / 3.0) * (1.0 + scaled) * decay
        return self._general_matern(r)

    def _general_matern(self, r: Array) -> tuple[Array, Array]:
        # kappa(r) = c z^nu K_nu(z) with z = sqrt(2 nu) r and c = 2^(1 - nu) / Gamma(nu);
        # d/dz [z^nu K_nu(z)] = -z^nu K_(nu-1)(z) gives kappa'(r) / r = -2 nu c z^(nu-1) K_(nu-1)(z).
        nu = self.nu
        constant = 2.0 ** (1.0 - nu) / special.gamma(nu)
        z = math.sqrt(2.0 * nu) * r
        positive = z > 0
        safe = np.where(positive, z, 1.0)
        value = np.where(positive, constant * safe**nu * special.kv(nu, safe), 1.0)
        at_zero = -nu / (nu - 1.0) if nu > 1.0 else 0.0
        ratio = np.where(
            positive, -2.0 * nu * constant * safe ** (nu - 1.0) * special.kv(nu - 1.0, safe), at_zero
        )
        return value, ratio


@dataclass(frozen=True)
class Hyperparameters:
    length_scales: Array
    signal_variance: float
    noise_variance: float

    def as_vector(self) -> Array:
        return np.concatenate(
            [np.log(self.length_scales), [math.log(self.signal_variance), math.log(self.noise_variance)]]
        )

    @classmethod
    def from_vector(cls, vector: Array) -> Hyperparameters:
        return cls(np.exp(vector[:-2]), float(math.exp(vector[-2])), float(math.exp(vector[-1])))


def _squared_differences(a: Array, b: Array) -> Array:
    """``(a_i - b_j)^2`` per coordinate, shape (len(a), len(b), dimensions)."""
    difference = a[:, None, :] - b[None, :, :]
    return difference * difference


def _cholesky(matrix: Array) -> Array:
    jitter = JITTER
    identity = np.eye(len(matrix))
    while True:
        try:
            return linalg.cholesky(matrix + jitter * identity, lower=True, check_finite=False)
        except linalg.LinAlgError:
            if jitter >= MAX_JITTER:
                raise
            jitter *= 10.0


# --------------------------------------------------------------------------- regression


class GaussianProcess:
    """The posterior of a zero-mean GP given inputs ``x`` (n, d) and targets ``y`` (n,)."""

    def __init__(self, kernel: Kernel, hyperparameters: Hyperparameters, x: Array, y: Array) -> None:
        self.kernel = kernel
        self.hyperparameters = hyperparameters
        self.x = x
        self.y = y
        self._inverse_squared_scales = 1.0 / hyperparameters.length_scales**2
        self._scaled = x / hyperparameters.length_scales
        self._scaled_norms = np.sum(self._scaled * self._scaled, axis=1)
        covariance = self._covariance(x) + hyperparameters.noise_variance * np.eye(len(x))
        self._cholesky = _cholesky(covariance)
        self._alpha = linalg.cho_solve((self._cholesky, True), y, check_finite=False)
        # Solving against the factor costs far more in call overhead than this product
        # costs in arithmetic, for the single points of the acquisition's local search.
        self._inverse = linalg.cho_solve((self._cholesky, True), np.eye(len(x)), check_finite=False)

    def _covariance(self, points: Array) -> Array:
        """The kernel between ``points`` (m, d) and the observed inputs, (m, n)."""
        scaled = points / self.hyperparameters.length_scales
        # |a - b|^2 = |a|^2 + |b|^2 - 2 a.b: a matrix product instead of an (m, n, d) array.
        norms = np.sum(scaled * scaled, axis=1)
        squared = norms[:, None] + self._scaled_norms[None, :] - 2 * scaled @ self._scaled.T
        value, _ = self.kernel.profile(np.sqrt(np.maximum(squared, 0.0)))
        return self.hyperparameters.signal_variance * value

    def predict(self, points: Array) -> tuple[Array, Array]:
        """Posterior mean and standard deviation of the latent function at ``points`` (m, d)."""
        cross = self._covariance(points)
        mean = cross @ self._alpha
        solved = linalg.solve_triangular(self._cholesky, cross.T, lower=True, check_finite=False)
        variance = self.hyperparameters.signal_variance - np.sum(solved * solved, axis=0)
        return mean, np.sqrt(np.maximum(variance, MIN_STD**2))

    def predict_with_gradient(self, points: Array) -> tuple[Array, Array, Array, Array]:
        """Mean and standard deviation at ``points`` (k, d), and their gradients (k, d)."""
        difference = points[:, None, :] - self.x[None, :, :]
        r = np.sqrt(np.maximum((difference * difference) @ self._inverse_squared_scales, 0.0))
        value, ratio = self.kernel.profile(r)
        signal = self.hyperparameters.signal_variance
        cross = signal * value
        # d k(point, x_i) / d point_j = signal * kappa'(r)/r * (point_j - x_ij) / l_j^2
        cross_gradient = signal * ratio[:, :, None] * difference * self._inverse_squared_scales
        mean = cross @ self._alpha
        mean_gradient = np.einsum("knd,n->kd", cross_gradient, self._alpha)
        weights = cross @ self._inverse
        std = np.sqrt(np.maximum(signal - np.sum(cross * weights, axis=1), MIN_STD**2))
        std_gradient = -np.einsum("knd,kn->kd", cross_gradient, weights) / std[:, None]
        return mean, std, mean_gradient, std_gradient

    def with_fantasies(self, points: Array) -> GaussianProcess:
        """This model after observing its own mean at ``points`` (the kriging believer).

        The mean elsewhere barely moves, but the uncertainty around ``points`` collapses,
        so an acquisition function maximized next looks away from them: pending trials
        are not suggested twice.
        """
        if len(points) == 0:
            return self
        mean, _ = self.predict(points)
        return GaussianProcess(
            self.kernel, self.hyperparameters, np.vstack([self.x, points]), np.concatenate([self.y, mean])
        )


def negative_log_marginal_likelihood(
    vector: Array, kernel: Kernel, squared_differences: Array, y: Array
) -> tuple[float, Array]:
    """``-log p(y | x, theta)`` and its gradient in ``theta`` = log of (scales..., signal, noise)."""
    hyperparameters = Hyperparameters.from_vector(vector)
    inverse_squared_scales = 1.0 / hyperparameters.length_scales**2
    r = np.sqrt(np.maximum(squared_differences @ inverse_squared_scales, 0.0))
    value, ratio = kernel.profile(r)
    signal = hyperparameters.signal_variance
    count = len(y)
    covariance = signal * value + hyperparameters.noise_variance * np.eye(count)
    try:
        factor = _cholesky(covariance)
    except linalg.LinAlgError:
        return 1e25, np.zeros_like(vector)
    alpha = linalg.cho_solve((factor, True), y, check_finite=False)
    nll = 0.5 * float(y @ alpha) + float(np.log(np.diag(factor)).sum()) + 0.5 * count * math.log(2 * math.pi)
    # d nll / d theta_k = 0.5 * trace(W dK/dtheta_k) with W = K^-1 - alpha alpha^T.
    inverse = linalg.cho_solve((factor, True), np.eye(count), check_finite=False)
    w = inverse - np.outer(alpha, alpha)
    weighted = w * ratio
    # dK/dlog(l_j) = -signal * kappa'(r)/r * (x_j - x'_j)^2 / l_j^2
    scale_gradient = -0.5 * signal * inverse_squared_scales * np.einsum(
        "ab,abj->j", weighted, squared_differences
    )
    signal_gradient = 0.5 * signal * float(np.sum(w * value))
    noise_gradient = 0.5 * hyperparameters.noise_variance * float(np.trace(w))
    return nll, np.concatenate([scale_gradient, [signal_gradient, noise_gradient]])


def fit(
    kernel: Kernel,
    x: Array,
    y: Array,
    initial_length_scale: float,
    restarts: int,
    rng: np.random.Generator,
) -> GaussianProcess:
    """The GP whose hyperparameters maximize the marginal likelihood of ``(x, y)``.

    The first start uses ``initial_length_scale`` for every input; ``restarts`` more start
    from points drawn log-uniformly within the bounds, and the best optimum wins (the
    meaning of scikit-learn's ``n_restarts_optimizer`` and Polyaxon's
    ``numRestartsOptimizer``).

    Beyond :data:`MAX_FIT_POINTS` observations, the hyperparameters are estimated from
    the best half of that many and from others spread evenly over the rest (in the given
    order), then the model conditions on all of them.
    """
    estimation_x, estimation_y = _estimation_subset(x, y)
    dimensions = x.shape[1]
    bounds = (
        [tuple(math.log(b) for b in LENGTH_SCALE_BOUNDS)] * dimensions
        + [tuple(math.log(b) for b in SIGNAL_VARIANCE_BOUNDS)]
        + [tuple(math.log(b) for b in NOISE_VARIANCE_BOUNDS)]
    )
    low = np.array([b[0] for b in bounds])
    high = np.array([b[1] for b in bounds])
    first = Hyperparameters(np.full(dimensions, float(initial_length_scale)), 1.0, 1e-4).as_vector()
    starts = [np.clip(first, low, high)] + [rng.uniform(low, high) for _ in range(restarts)]
    squared = _squared_differences(estimation_x, estimation_x)
    best_vector, best_value = starts[0], math.inf
    for start in starts:
        result = optimize.minimize(
            negative_log_marginal_likelihood, start, args=(kernel, squared, estimation_y),
            jac=True, method="L-BFGS-B", bounds=bounds,
        )
        if result.fun < best_value:
            best_vector, best_value = result.x, float(result.fun)
    return GaussianProcess(kernel, Hyperparameters.from_vector(best_vector), x, y)


def _estimation_subset(x: Array, y: Array) -> tuple[Array, Array]:
    if len(y) <= MAX_FIT_POINTS:
        return x, y
    best = np.argsort(-y, kind="stable")[: MAX_FIT_POINTS // 2]
    others = np.setdiff1d(np.arange(len(y)), best)
    spread = others[np.linspace(0, len(others) - 1, MAX_FIT_POINTS - len(best)).round().astype(int)]
    chosen = np.sort(np.concatenate([best, spread]))
    return x[chosen], y[chosen]


# ------------------------------------------------------------------------ acquisition


SQRT_HALF_PI = math.sqrt(math.pi / 2.0)
LOG_SQRT_TWO_PI = 0.5 * math.log(2.0 * math.pi)


def _log_h(z: Array) -> tuple[Array, Array]:
    """``log h(z)`` and ``h'(z) / h(z)`` for ``h(z) = phi(z) + z Phi(z)``, stable for all z.

    Expected improvement is ``std * h(z)``. For very negative ``z``, ``h`` underflows
    long before its logarithm does: writing ``Phi(z) = phi(z) m(-z)`` with the Mills
    ratio ``m(t) = sqrt(pi / 2) erfcx(t / sqrt(2))`` gives ``h(z) = phi(z) (1 - t m(t))``,
    ``t = -z``, computed without underflow; ``1 - t m(t)`` behaves like ``1 / t^2``.
    """
    z = np.asarray(z, dtype=float)
    log_h = np.empty_like(z)
    ratio = np.empty_like(z)
    upper = z > -1.0
    zu = z[upper]
    hu = np.exp(-0.5 * zu * zu - LOG_SQRT_TWO_PI) + zu * special.ndtr(zu)
    log_h[upper] = np.log(hu)
    ratio[upper] = special.ndtr(zu) / hu
    t = -z[~upper]
    mills = SQRT_HALF_PI * special.erfcx(t / math.sqrt(2.0))
    # 1 - t m(t) loses all its digits once t m(t) rounds to 1; the series 1/t^2 - 3/t^4
    # is exact to double precision well before that.
    remainder = np.where(t < 1e3, 1.0 - t * mills, 1.0 / t**2 - 3.0 / t**4)
    remainder = np.maximum(remainder, np.finfo(float).tiny)
    log_h[~upper] = -0.5 * t * t - LOG_SQRT_TWO_PI + np.log(remainder)
    ratio[~upper] = mills / remainder
    return log_h, ratio


@dataclass(frozen=True)
class Acquisition:
    """An acquisition function of a maximized, standardized target.

    * ``ucb``: ``mean + kappa * std``.
    * ``ei``: ``log E[max(0, f - best - eps)]``, the logarithm of the expected improvement
      (its maximizer is the same; the logarithm keeps far-from-best regions comparable
      instead of all underflowing to 0).
    * ``poi``: ``log P(f > best + eps)``.

    ``eps`` is in the units of the standardized target.
    """

    function: str
    kappa: float = 2.576
    eps: float = 0.0

    def values(self, mean: Array, std: Array, best: float) -> Array:
        return self._with_partials(mean, std, best)[0]

    def _with_partials(self, mean: Array, std: Array, best: float) -> tuple[Array, Array, Array]:
        """The acquisition and its partial derivatives in ``mean`` and ``std``."""
        mean = np.asarray(mean, dtype=float)
        std = np.maximum(np.asarray(std, dtype=float), MIN_STD)
        if self.function == "ucb":
            return mean + self.kappa * std, np.ones_like(mean), np.full_like(std, self.kappa)
        z = (mean - best - self.eps) / std
        if self.function == "ei":
            log_h, ratio = _log_h(z)
            # d/dmean = h'(z)/h(z) / std; d/dstd = 1/std - z h'(z)/h(z) / std
            return np.log(std) + log_h, ratio / std, (1.0 - z * ratio) / std
        if self.function == "poi":
            log_cdf = special.log_ndtr(z)
            hazard = np.exp(-0.5 * z * z - LOG_SQRT_TWO_PI - log_cdf)
            return log_cdf, hazard / std, -hazard * z / std
        raise ValueError(f"unknown acquisition function {self.function!r}")

    def value_and_gradient(self, model: GaussianProcess, points: Array, best: float) -> tuple[Array, Array]:
        """The acquisition at ``points`` (k, d) and its gradients (k, d)."""
        mean, std, mean_gradient, std_gradient = model.predict_with_gradient(points)
        value, by_mean, by_std = self._with_partials(mean, std, best)
        return value, by_mean[:, None] * mean_gradient + by_std[:, None] * std_gradient


def maximize(
    acquisition: Acquisition,
    model: GaussianProcess,
    best: float,
    candidates: Array,
    relaxed: Array,
    snap: Callable[[Array], Array],
    restarts: int,
) -> tuple[Array, Array]:
    """Rank ``candidates`` (m, d) by ``acquisition`` after local refinement of the best ones.

    Every candidate is scored; the ``restarts`` best are then improved by L-BFGS-B over
    the coordinates where ``relaxed`` is true (continuous inputs and ordered discrete
    ones, which are snapped afterwards; one-hot blocks stay as they are), starting from
    the candidate itself. Returns all points, refined ones first, as valid encodings
    (``snap`` applied), and their acquisition values, best first.
    """
    scores = acquisition.values(*model.predict(candidates), best)
    order = np.argsort(-scores, kind="stable")
    free = np.flatnonzero(relaxed)
    if free.size and restarts:
        starts = candidates[order[:restarts]]
        improved = np.array([snap(point) for point in _refine(acquisition, model, best, starts, free)])
        candidates = np.vstack([improved, candidates])
        scores = np.concatenate([acquisition.values(*model.predict(improved), best), scores])
        order = np.argsort(-scores, kind="stable")
    return candidates[order], scores[order]


def _refine(
    acquisition: Acquisition, model: GaussianProcess, best: float, starts: Array, free: Array
) -> Array:
    """L-BFGS-B from every start at once, on the ``free`` coordinates.

    The starts are independent, so maximizing the sum of their acquisitions maximizes
    each one; one vectorized evaluation per step instead of one per start and step.
    """
    points = starts.copy()
    count, width = len(starts), len(free)

    def negative(values: Array) -> tuple[float, Array]:
        points[:, free] = values.reshape(count, width)
        value, gradient = acquisition.value_and_gradient(model, points, best)
        return -float(value.sum()), -gradient[:, free].ravel()

    result = optimize.minimize(
        negative, starts[:, free].ravel(), jac=True, method="L-BFGS-B",
        bounds=[(0.0, 1.0)] * (count * width), options={"maxiter": 200},
    )
    refined = starts.copy()
    if np.all(np.isfinite(result.x)):
        refined[:, free] = np.clip(result.x.reshape(count, width), 0.0, 1.0)
    # A start that ended worse than it began (a joint line search can trade one for
    # another) keeps its original position.
    before = acquisition.values(*model.predict(starts), best)
    after = acquisition.values(*model.predict(refined), best)
    return np.where((after >= before)[:, None], refined, starts)
