"""The Gaussian process and the acquisition functions behind kind: bayes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from polyaxon_optimizers import gaussian_process as gp
from scipy import optimize, stats

KERNELS = [gp.Kernel("matern", 0.5), gp.Kernel("matern", 1.5), gp.Kernel("matern", 2.5),
           gp.Kernel("matern", 1.9), gp.Kernel("rbf")]


def sample_data(count: int = 12, dimensions: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(4)
    x = rng.random((count, dimensions))
    y = np.sin(4 * x[:, 0]) + x[:, 1] ** 2
    return x, (y - y.mean()) / y.std()


def model(kernel: gp.Kernel = KERNELS[2]) -> gp.GaussianProcess:
    x, y = sample_data()
    return gp.GaussianProcess(kernel, gp.Hyperparameters(np.array([0.3, 0.5]), 1.2, 1e-6), x, y)


# --------------------------------------------------------------------------- kernel


@pytest.mark.parametrize(
    ("kernel", "closed_form"),
    [
        (gp.Kernel("matern", 0.5), lambda r: np.exp(-r)),
        (gp.Kernel("matern", 1.5), lambda r: (1 + math.sqrt(3) * r) * np.exp(-math.sqrt(3) * r)),
        (gp.Kernel("matern", 2.5),
         lambda r: (1 + math.sqrt(5) * r + 5 * r**2 / 3) * np.exp(-math.sqrt(5) * r)),
        (gp.Kernel("rbf"), lambda r: np.exp(-(r**2) / 2)),
        (gp.Kernel("matern", math.inf), lambda r: np.exp(-(r**2) / 2)),
    ],
)
def test_kernel_profiles_are_the_textbook_functions(kernel: gp.Kernel, closed_form) -> None:
    r = np.linspace(0, 4, 9)

    value, _ = kernel.profile(r)

    assert value == pytest.approx(closed_form(r), rel=1e-12)


@pytest.mark.parametrize("nu", [1.5, 2.5])
def test_the_general_matern_formula_agrees_with_the_closed_forms(nu: float) -> None:
    r = np.linspace(0, 4, 9)
    kernel = gp.Kernel("matern", nu)

    assert kernel._general_matern(r)[0] == pytest.approx(kernel.profile(r)[0], rel=1e-9)
    assert kernel._general_matern(r)[1] == pytest.approx(kernel.profile(r)[1], rel=1e-9)


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: f"{k.kind}-{k.nu}")
def test_the_derivative_ratio_matches_finite_differences(kernel: gp.Kernel) -> None:
    r = np.linspace(0.1, 3, 8)
    step = 1e-6

    _, ratio = kernel.profile(r)
    numeric = (kernel.profile(r + step)[0] - kernel.profile(r - step)[0]) / (2 * step) / r

    assert ratio == pytest.approx(numeric, rel=1e-5)


# -------------------------------------------------------------------------- regression


def test_a_nearly_noiseless_model_interpolates_its_observations() -> None:
    x, y = sample_data()

    mean, std = model().predict(x)

    assert mean == pytest.approx(y, abs=1e-4)
    assert np.all(std < 1e-2)


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: f"{k.kind}-{k.nu}")
def test_predictions_and_likelihood_are_scikit_learns_for_the_same_hyperparameters(kernel: gp.Kernel) -> None:
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, Matern, WhiteKernel

    x, y = sample_data()
    scales, signal, noise = np.array([0.3, 0.5]), 1.2, 1e-3
    shape = RBF(scales) if kernel.kind == "rbf" else Matern(scales, nu=kernel.nu)
    reference = GaussianProcessRegressor(
        ConstantKernel(signal) * shape + WhiteKernel(noise), optimizer=None, alpha=1e-10
    ).fit(x, y)
    ours = gp.GaussianProcess(kernel, gp.Hyperparameters(scales, signal, noise), x, y)
    points = np.random.default_rng(2).random((7, 2))

    mean, std = ours.predict(points)
    reference_mean, reference_std = reference.predict(points, return_std=True)
    nll, _ = gp.negative_log_marginal_likelihood(
        np.log([*scales, signal, noise]), kernel, gp._squared_differences(x, x), y
    )

    assert mean == pytest.approx(reference_mean, abs=1e-9)
    # scikit-learn's standard deviation includes the noise; ours is the latent function's.
    assert std == pytest.approx(np.sqrt(reference_std**2 - noise), abs=1e-9)
    assert nll == pytest.approx(-reference.log_marginal_likelihood_value_, rel=1e-9)


def test_uncertainty_grows_away_from_the_data() -> None:
    mean, std = model().predict(np.array([[0.5, 0.5], [10.0, 10.0]]))

    assert std[1] == pytest.approx(math.sqrt(1.2), rel=1e-6)
    assert std[0] < std[1]
    assert abs(mean[1]) < 1e-6


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: f"{k.kind}-{k.nu}")
def test_prediction_gradients_match_finite_differences(kernel: gp.Kernel) -> None:
    fitted = model(kernel)
    points = np.array([[0.37, 0.61], [0.9, 0.05]])

    mean, std, mean_gradient, std_gradient = fitted.predict_with_gradient(points)

    assert mean == pytest.approx(fitted.predict(points)[0])
    assert std == pytest.approx(fitted.predict(points)[1])
    for row, point in enumerate(points):
        assert mean_gradient[row] == pytest.approx(optimize.approx_fprime(
            point, lambda p: fitted.predict(p[None, :])[0][0], 1e-7), rel=1e-4, abs=1e-6)
        assert std_gradient[row] == pytest.approx(optimize.approx_fprime(
            point, lambda p: fitted.predict(p[None, :])[1][0], 1e-7), rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: f"{k.kind}-{k.nu}")
def test_the_marginal_likelihood_gradient_matches_finite_differences(kernel: gp.Kernel) -> None:
    x, y = sample_data()
    squared = gp._squared_differences(x, x)
    vector = np.log([0.3, 0.6, 1.3, 1e-3])

    _, gradient = gp.negative_log_marginal_likelihood(vector, kernel, squared, y)
    numeric = optimize.approx_fprime(
        vector, lambda v: gp.negative_log_marginal_likelihood(v, kernel, squared, y)[0], 1e-6
    )

    assert gradient == pytest.approx(numeric, rel=1e-4, abs=1e-5)


def test_fitting_learns_that_an_input_is_irrelevant() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((30, 2))
    y = np.sin(6 * x[:, 0])

    fitted = gp.fit(gp.Kernel("matern", 2.5), x, (y - y.mean()) / y.std(), 1.0, 2, rng)

    relevant, irrelevant = fitted.hyperparameters.length_scales
    assert irrelevant > 10 * relevant


def test_many_observations_share_hyperparameters_estimated_from_a_subset() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((gp.MAX_FIT_POINTS + 200, 2))
    y = np.sin(6 * x[:, 0]) + 0.5 * x[:, 1]
    y = (y - y.mean()) / y.std()

    _, subset_y = gp._estimation_subset(x, y)
    fitted = gp.fit(gp.Kernel("matern", 2.5), x, y, 1.0, 0, rng)

    assert len(subset_y) == len(set(subset_y.tolist())) == gp.MAX_FIT_POINTS
    assert set(np.sort(y)[-gp.MAX_FIT_POINTS // 2:].tolist()) <= set(subset_y.tolist())
    assert len(fitted.x) == len(x)
    assert fitted.predict(x)[0] == pytest.approx(y, abs=1e-2)


def test_a_fantasy_keeps_the_mean_and_removes_the_uncertainty_at_its_point() -> None:
    fitted = model()
    point = np.array([[0.9, 0.1]])
    mean, std = fitted.predict(point)

    believed = fitted.with_fantasies(point)
    new_mean, new_std = believed.predict(point)

    assert std[0] > 0.05
    assert new_mean[0] == pytest.approx(mean[0], abs=1e-4)
    assert new_std[0] < 1e-2


# ------------------------------------------------------------------------ acquisition


def test_ucb_is_mean_plus_kappa_standard_deviations() -> None:
    acquisition = gp.Acquisition("ucb", kappa=2.0)

    values = acquisition.values(np.array([0.5, -1.0]), np.array([0.25, 2.0]), best=10.0)

    assert values == pytest.approx([1.0, 3.0])


@pytest.mark.parametrize(("mean", "std", "best", "eps"), [(0.3, 0.5, 0.1, 0.0), (-1.0, 0.2, 0.4, 0.05),
                                                         (2.0, 1.0, 0.0, 0.5)])
def test_ei_is_the_log_of_the_closed_form_expected_improvement(
    mean: float, std: float, best: float, eps: float
) -> None:
    z = (mean - best - eps) / std
    expected = (mean - best - eps) * stats.norm.cdf(z) + std * stats.norm.pdf(z)

    (value,) = gp.Acquisition("ei", eps=eps).values(np.array([mean]), np.array([std]), best)

    assert value == pytest.approx(math.log(expected), rel=1e-10)


def test_ei_stays_finite_and_ordered_where_the_improvement_underflows() -> None:
    means = np.array([-30.0, -40.0, -60.0])

    values = gp.Acquisition("ei").values(means, np.ones(3), best=0.0)

    # exp(-30**2 / 2) and below are 0 in double precision; their logarithms are not.
    assert np.all(np.isfinite(values))
    assert values[0] > values[1] > values[2]
    assert values[0] == pytest.approx(-0.5 * 30**2 - 0.5 * math.log(2 * math.pi) - 2 * math.log(30), rel=1e-3)


def test_poi_is_the_log_probability_of_improving_by_eps() -> None:
    (value,) = gp.Acquisition("poi", eps=0.1).values(np.array([0.5]), np.array([0.2]), best=0.3)

    assert value == pytest.approx(math.log(stats.norm.cdf((0.5 - 0.3 - 0.1) / 0.2)), rel=1e-12)


@pytest.mark.parametrize("function", ["ucb", "ei", "poi"])
def test_acquisition_gradients_match_finite_differences(function: str) -> None:
    fitted = model()
    acquisition = gp.Acquisition(function, kappa=1.5, eps=0.05)
    best = float(fitted.y.max())
    points = np.array([[0.41, 0.22], [0.05, 0.95]])

    values, gradients = acquisition.value_and_gradient(fitted, points, best)

    assert values == pytest.approx(acquisition.values(*fitted.predict(points), best))
    for point, gradient in zip(points, gradients, strict=True):
        numeric = optimize.approx_fprime(
            point, lambda p: acquisition.value_and_gradient(fitted, p[None, :], best)[0][0], 1e-7
        )
        assert gradient == pytest.approx(numeric, rel=1e-4, abs=1e-5)


def test_maximize_refines_the_best_candidate_beyond_the_candidates() -> None:
    fitted = model()
    acquisition = gp.Acquisition("ucb", kappa=0.0)  # the posterior mean
    candidates = np.random.default_rng(1).random((40, 2))

    points, values = gp.maximize(acquisition, fitted, 0.0, candidates, np.array([True, True]),
                                 lambda p: np.clip(p, 0, 1), restarts=3)

    assert values[0] >= acquisition.values(*fitted.predict(candidates), 0.0).max()
    assert list(values) == sorted(values, reverse=True)
    dense = np.stack(np.meshgrid(np.linspace(0, 1, 201), np.linspace(0, 1, 201)), -1).reshape(-1, 2)
    assert values[0] >= fitted.predict(dense)[0].max() - 1e-6
