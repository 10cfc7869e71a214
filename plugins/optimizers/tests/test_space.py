"""The sixteen distributions: enumeration, sampling, containment, validation."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from polyaxon_optimizers import space

from polyaxon_core.entities import ParamDistribution
from polyaxon_core.interfaces import Optimizer
from polyaxon_core.testing.optimizer import within_bounds

D = ParamDistribution

#: One example of every distribution, with a check of its support written from the
#: distribution's definition (not from our implementation).
EXAMPLES: dict[str, tuple[ParamDistribution, Any]] = {
    "choice": (D("choice", ["relu", "tanh", 3, None]), lambda v: v in ("relu", "tanh", 3, None)),
    "pchoice": (D("pchoice", [["a", 0.3], ["b", 0.7]]), lambda v: v in ("a", "b")),
    "range": (D("range", {"start": 2, "stop": 11, "step": 3}), lambda v: v in (2, 5, 8)),
    "daterange": (
        D("daterange", {"start": "2019-06-22", "stop": "2019-06-27", "step": 2}),
        lambda v: v in ("2019-06-22", "2019-06-24", "2019-06-26"),
    ),
    "datetimerange": (
        D("datetimerange", {"start": "2019-06-22 21:00", "stop": "2019-06-23 00:00", "step": 3600}),
        lambda v: v in ("2019-06-22T21:00:00", "2019-06-22T22:00:00", "2019-06-22T23:00:00"),
    ),
    "linspace": (
        D("linspace", {"start": 0, "stop": 1, "num": 5}),
        lambda v: v in (0.0, 0.25, 0.5, 0.75, 1.0),
    ),
    "logspace": (
        D("logspace", {"start": -3, "stop": -1, "num": 3}),
        lambda v: any(math.isclose(v, x) for x in (0.001, 0.01, 0.1)),
    ),
    "geomspace": (
        D("geomspace", {"start": 1, "stop": 1000, "num": 4}),
        lambda v: any(math.isclose(v, x) for x in (1, 10, 100, 1000)),
    ),
    "uniform": (D("uniform", {"low": -2, "high": 3}), lambda v: -2 <= v <= 3),
    "quniform": (
        D("quniform", {"low": 0, "high": 10, "q": 2.5}),
        lambda v: v in (0.0, 2.5, 5.0, 7.5, 10.0),
    ),
    "loguniform": (
        D("loguniform", {"low": -5, "high": -1}),
        lambda v: math.exp(-5) <= v <= math.exp(-1),
    ),
    "qloguniform": (
        D("qloguniform", {"low": 0, "high": 3, "q": 1}),
        lambda v: type(v) is int and 1 <= v <= 20,  # round(e**[0, 3]) is 1..20
    ),
    "normal": (D("normal", {"loc": 5, "scale": 2}), lambda v: -10 < v < 20),
    "qnormal": (
        D("qnormal", {"loc": 0, "scale": 1, "q": 0.5}),
        lambda v: math.isclose(v * 2, round(v * 2), abs_tol=1e-12) and -6 < v < 6,
    ),
    "lognormal": (D("lognormal", {"loc": 0, "scale": 0.5}), lambda v: 0 < v < math.exp(4)),
    "qlognormal": (
        D("qlognormal", {"loc": 1, "scale": 0.5, "q": 0.1}),
        lambda v: math.isclose(v * 10, round(v * 10), abs_tol=1e-9) and 0 <= v < math.exp(4),
    ),
}


def test_the_examples_cover_every_kind_the_core_knows() -> None:
    assert set(EXAMPLES) == space.ALL_KINDS == Optimizer.supported_distributions


@pytest.mark.parametrize("kind", sorted(space.ALL_KINDS))
def test_examples_are_valid(kind: str) -> None:
    space.validate(EXAMPLES[kind][0])


@pytest.mark.parametrize(
    ("kind", "discrete"),
    [(kind, True) for kind in ("choice", "pchoice", "range", "daterange", "datetimerange",
                               "linspace", "logspace", "geomspace")]
    + [(kind, False) for kind in ("uniform", "quniform", "loguniform", "qloguniform",
                                  "normal", "qnormal", "lognormal", "qlognormal")],
)
def test_is_discrete_follows_polyaxon(kind: str, discrete: bool) -> None:
    assert space.is_discrete(EXAMPLES[kind][0]) is discrete


# ------------------------------------------------------------------------ enumeration


def test_range_stops_before_stop_and_keeps_integers() -> None:
    values = space.enumerate_values(D("range", {"start": 1, "stop": 9, "step": 2}))
    assert values == [1, 3, 5, 7]
    assert all(type(value) is int for value in values)


@pytest.mark.parametrize(
    "spec",
    [
        {"start": 0, "stop": 10, "step": 1},
        {"start": 1, "stop": 10, "step": 4},
        {"start": 0, "stop": 0.3, "step": 0.1},
        {"start": 0.1, "stop": 1.0, "step": 0.3},
        {"start": -2.5, "stop": 2.5, "step": 0.5},
    ],
)
def test_range_matches_numpy_arange(spec: dict[str, float]) -> None:
    expected = np.arange(spec["start"], spec["stop"], spec["step"]).tolist()
    assert np.allclose(space.enumerate_values(D("range", spec)), expected)
    assert space.size(D("range", spec)) == len(expected)


@pytest.mark.parametrize(
    "spec", [{"start": 0.001, "stop": 0.1, "num": 5}, {"start": 3, "stop": -3, "num": 7},
             {"start": 2, "stop": 8, "num": 1}]
)
def test_linspace_matches_numpy(spec: dict[str, float]) -> None:
    values = space.enumerate_values(D("linspace", spec))
    assert np.allclose(values, np.linspace(spec["start"], spec["stop"], spec["num"]))
    assert values[0] == spec["start"]
    assert values[-1] == (spec["stop"] if spec["num"] > 1 else spec["start"])


@pytest.mark.parametrize(
    "spec", [{"start": 0, "stop": 3, "num": 4}, {"start": -4, "stop": -1, "num": 7},
             {"start": 1, "stop": 10, "num": 10, "base": 2}]
)
def test_logspace_matches_numpy_with_its_base(spec: dict[str, float]) -> None:
    expected = np.logspace(spec["start"], spec["stop"], spec["num"], base=spec.get("base", 10))
    assert np.allclose(space.enumerate_values(D("logspace", spec)), expected, rtol=1e-12)


@pytest.mark.parametrize(
    "spec", [{"start": 1, "stop": 1000, "num": 4}, {"start": -1, "stop": -256, "num": 9},
             {"start": 0.5, "stop": 0.001, "num": 6}]
)
def test_geomspace_matches_numpy(spec: dict[str, float]) -> None:
    expected = np.geomspace(spec["start"], spec["stop"], spec["num"])
    values = space.enumerate_values(D("geomspace", spec))
    assert np.allclose(values, expected, rtol=1e-12)
    assert (values[0], values[-1]) == (spec["start"], spec["stop"])


def test_daterange_steps_in_days_like_polyaxon() -> None:
    spec = {"start": "2019-06-22", "stop": "2019-07-25", "step": 7}
    expected = np.arange(np.datetime64("2019-06-22"), np.datetime64("2019-07-25"), 7)
    assert space.enumerate_values(D("daterange", spec)) == [str(day) for day in expected]


def test_datetimerange_steps_in_seconds_like_polyaxon() -> None:
    spec = {"start": "2019-06-22T21:00:00", "stop": "2019-06-25T21:00:00", "step": 4 * 3600}
    expected = np.arange(
        np.datetime64("2019-06-22T21:00:00"), np.datetime64("2019-06-25T21:00:00"),
        np.timedelta64(4 * 3600, "s"),
    )
    assert space.enumerate_values(D("datetimerange", spec)) == [str(t) for t in expected]


def test_datetimerange_keeps_the_timezone() -> None:
    values = space.enumerate_values(
        D("datetimerange", {"start": "2019-06-24T21:20:07+02:00",
                            "stop": "2019-06-25T00:00:00+02:00", "step": 3600})
    )
    assert values[0] == "2019-06-24T21:20:07+02:00"
    assert len(values) == 3
    assert all(datetime.fromisoformat(v).utcoffset() == timedelta(hours=2) for v in values)


def test_date_objects_from_yaml_enumerate_like_iso_strings() -> None:
    as_objects = D("daterange", {"start": date(2020, 2, 27), "stop": date(2020, 3, 3), "step": 1})
    as_strings = D("daterange", {"start": "2020-02-27", "stop": "2020-03-03", "step": 1})
    assert space.enumerate_values(as_objects) == space.enumerate_values(as_strings)
    assert "2020-02-29" in space.enumerate_values(as_strings)  # a leap year


def test_pchoice_enumerates_its_values() -> None:
    assert space.enumerate_values(D("pchoice", [["x", 0.5], [2, 0.5]])) == ["x", 2]


@pytest.mark.parametrize("kind", sorted(space.CONTINUOUS_KINDS))
def test_continuous_distributions_cannot_be_enumerated(kind: str) -> None:
    with pytest.raises(ValueError, match="continuous"):
        space.enumerate_values(EXAMPLES[kind][0])


# --------------------------------------------------------------------------- sampling


@pytest.mark.parametrize("kind", sorted(space.ALL_KINDS))
def test_samples_stay_within_the_distribution(kind: str) -> None:
    distribution, in_support = EXAMPLES[kind]
    rng = random.Random(20240611)
    for _ in range(3000):
        value = space.sample(distribution, rng)
        assert in_support(value), value
        assert space.contains(distribution, value), value


@pytest.mark.parametrize("kind", sorted(space.ALL_KINDS))
def test_samples_are_plain_json(kind: str) -> None:
    rng = random.Random(3)
    values = [space.sample(EXAMPLES[kind][0], rng) for _ in range(50)]
    assert json.loads(json.dumps(values, allow_nan=False)) == values


@pytest.mark.parametrize("kind", ["quniform", "qloguniform", "qnormal", "qlognormal"])
@pytest.mark.parametrize("q", [0.1, 0.25, 2, 5])
def test_quantized_samples_are_multiples_of_q(kind: str, q: float) -> None:
    spec = {"loc": 3, "scale": 1.5} if "normal" in kind else {"low": 0, "high": 4}
    distribution = D(kind, {**spec, "q": q})
    rng = random.Random(11)
    for _ in range(500):
        value = space.sample(distribution, rng)
        steps = value / q
        assert math.isclose(steps, round(steps), abs_tol=1e-9), value
        assert type(value) is (int if isinstance(q, int) else float)


def test_quantized_samples_have_no_float_noise() -> None:
    rng = random.Random(5)
    values = {space.sample(D("quniform", {"low": 0, "high": 1, "q": 0.1}), rng) for _ in range(300)}
    assert values == {0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0}


def test_loguniform_bounds_are_natural_log_exponents() -> None:
    # log(value) is uniform on [low, high], as in hyperopt and Polyaxon.
    rng = random.Random(0)
    logs = [math.log(space.sample(D("loguniform", {"low": -6, "high": -2}), rng))
            for _ in range(5000)]
    assert -6 <= min(logs) < -5.9
    assert -2.1 < max(logs) <= -2
    assert sum(logs) / len(logs) == pytest.approx(-4, abs=0.05)
    below_middle = sum(1 for value in logs if value < -4)
    assert below_middle / len(logs) == pytest.approx(0.5, abs=0.02)


def test_lognormal_is_the_exponential_of_a_normal() -> None:
    rng = random.Random(0)
    logs = [math.log(space.sample(D("lognormal", {"loc": 1.5, "scale": 0.5}), rng))
            for _ in range(5000)]
    mean = sum(logs) / len(logs)
    deviation = math.sqrt(sum((value - mean) ** 2 for value in logs) / len(logs))
    assert mean == pytest.approx(1.5, abs=0.03)
    assert deviation == pytest.approx(0.5, abs=0.03)


def test_pchoice_frequencies_follow_the_probabilities() -> None:
    distribution = D("pchoice", [["elu", 0.1], ["relu", 0.2], ["sigmoid", 0.7], ["tanh", 0.0]])
    rng = random.Random(42)  # fixed seed: the check is exact for this stream, never flaky
    counts = Counter(space.sample(distribution, rng) for _ in range(20000))
    assert counts["tanh"] == 0
    for value, probability in (("elu", 0.1), ("relu", 0.2), ("sigmoid", 0.7)):
        assert counts[value] / 20000 == pytest.approx(probability, abs=0.015)


@pytest.mark.parametrize("kind", sorted(space.DISCRETE_KINDS - {"pchoice"}))
def test_discrete_samples_reach_every_value_uniformly(kind: str) -> None:
    distribution = EXAMPLES[kind][0]
    values = space.enumerate_values(distribution)
    rng = random.Random(8)
    counts = Counter(json.dumps(space.sample(distribution, rng)) for _ in range(4000 * len(values)))
    assert len(counts) == len(values)
    assert all(count / 4000 == pytest.approx(1, abs=0.1) for count in counts.values())


def test_the_same_seed_draws_the_same_values() -> None:
    def draws(seed: int) -> list[Any]:
        rng = random.Random(seed)
        return [space.sample(dist, rng) for dist, _ in EXAMPLES.values()]

    assert draws(1) == draws(1)
    assert draws(1) != draws(2)


# ------------------------------------------------------------------------ containment


@pytest.mark.parametrize("kind", sorted(space.DISCRETE_KINDS))
def test_every_enumerated_value_is_contained(kind: str) -> None:
    distribution = EXAMPLES[kind][0]
    assert all(space.contains(distribution, v) for v in space.enumerate_values(distribution))


@pytest.mark.parametrize(
    ("distribution", "value"),
    [
        (D("choice", [1, 2]), True),  # True == 1 in Python, but it is not a choice
        (D("choice", [1, 2]), 3),
        (D("pchoice", [["a", 1.0], ["b", 0.0]]), "b"),  # never drawn
        (D("range", {"start": 1, "stop": 9, "step": 2}), 9),  # stop is exclusive
        (D("range", {"start": 1, "stop": 9, "step": 2}), 4),  # off the grid
        (D("range", {"start": 1, "stop": 9, "step": 2}), "3"),
        (D("linspace", {"start": 0, "stop": 1, "num": 5}), 0.3),
        (D("logspace", {"start": 0, "stop": 2, "num": 3}), 50.0),
        (D("geomspace", {"start": 1, "stop": 100, "num": 3}), -10.0),
        (D("daterange", {"start": "2019-06-22", "stop": "2019-06-30", "step": 2}), "2019-06-23"),
        (D("daterange", {"start": "2019-06-22", "stop": "2019-06-30", "step": 2}), "2019-06-30"),
        (D("daterange", {"start": "2019-06-22", "stop": "2019-06-30", "step": 2}), "tomorrow"),
        (D("datetimerange", {"start": "2019-06-22 21:00", "stop": "2019-06-23", "step": 3600}),
         "2019-06-22T21:30:00"),
        (D("datetimerange", {"start": "2019-06-22 21:00", "stop": "2019-06-23", "step": 3600}),
         "2019-06-22T22:00:00+00:00"),  # aware value for a naive range
        (D("uniform", {"low": 0, "high": 1}), 1.5),
        (D("uniform", {"low": 0, "high": 1}), float("nan")),
        (D("quniform", {"low": 0, "high": 1, "q": 0.25}), 0.3),
        (D("quniform", {"low": 0, "high": 1, "q": 0.25}), 1.5),
        (D("loguniform", {"low": -3, "high": 0}), 0.01),  # below e**-3
        (D("loguniform", {"low": -3, "high": 0}), 2.0),  # above e**0: bounds are exponents
        (D("qloguniform", {"low": 0, "high": 2, "q": 1}), 2.5),
        (D("normal", {"loc": 0, "scale": 1}), float("inf")),
        (D("qnormal", {"loc": 0, "scale": 1, "q": 3}), 4),
        (D("lognormal", {"loc": 0, "scale": 1}), 0.0),
        (D("qlognormal", {"loc": 0, "scale": 1, "q": 1}), -1),
    ],
)
def test_contains_rejects_values_the_distribution_cannot_produce(
    distribution: ParamDistribution, value: Any
) -> None:
    assert not space.contains(distribution, value)


def test_contains_accepts_floats_that_went_through_json() -> None:
    distribution = D("linspace", {"start": 0.001, "stop": 0.1, "num": 7})
    for value in space.enumerate_values(distribution):
        assert space.contains(distribution, json.loads(json.dumps(round(value, 15))))


def test_contains_accepts_quantized_values_half_a_step_past_the_bounds() -> None:
    # round(uniform(0, 1.1) / 0.4) * 0.4 can be 1.2: hyperopt's definition, kept.
    assert space.contains(D("quniform", {"low": 0, "high": 1.1, "q": 0.4}), 1.2)
    assert not space.contains(D("quniform", {"low": 0, "high": 1.1, "q": 0.4}), 1.6)


def test_datetimerange_contains_the_same_instant_in_another_timezone() -> None:
    distribution = D("datetimerange", {"start": "2019-06-24T21:00:00+02:00",
                                       "stop": "2019-06-25T00:00:00+02:00", "step": 3600})
    same_instant = datetime(2019, 6, 24, 20, 0, tzinfo=UTC).isoformat()
    assert space.contains(distribution, same_instant)


@pytest.mark.parametrize("kind", sorted(space.ALL_KINDS))
def test_the_core_contract_bounds_accept_everything_we_produce(kind: str) -> None:
    # The contract in polyaxon_core checks bounds on its own; it must agree with us.
    distribution = EXAMPLES[kind][0]
    rng = random.Random(17)
    produced = [space.sample(distribution, rng) for _ in range(1000)]
    if space.is_discrete(distribution):
        produced += space.enumerate_values(distribution)
    assert all(within_bounds(distribution, value) for value in produced)


# ------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("distribution", "message"),
    [
        (D("kumaraswamy", {"a": 1}), "unknown distribution 'kumaraswamy'; use one of: choice"),
        (D("choice", []), "non-empty list"),
        (D("pchoice", [["a", 0.7], ["b", 0.6]]), "sum to at most 1"),
        (D("pchoice", [["a", -0.1], ["b", 0.6]]), "cannot be negative"),
        (D("pchoice", [["a", 0.0]]), "above 0"),
        (D("range", {"start": 0, "stop": 10}), "missing step"),
        (D("range", {"start": 0, "stop": 10, "step": 0}), "step must be > 0"),
        (D("range", {"start": 10, "stop": 0, "step": 1}), "must be above start"),
        (D("range", {"start": 0, "stop": "10", "step": 1}), "stop must be a finite number"),
        (D("linspace", {"start": 0, "stop": 1, "num": 0}), "num must be a whole number >= 1"),
        (D("logspace", {"start": 0, "stop": 1, "num": 3, "base": -2}), "base must be"),
        (D("geomspace", {"start": 0, "stop": 10, "num": 3}), "non-zero and of the same sign"),
        (D("daterange", {"start": "2019-06-22", "stop": "2019-06-20", "step": 1}), "after start"),
        (D("daterange", {"start": "2019-06-22", "stop": "2019-06-30", "step": 0.5}), "days"),
        (D("datetimerange", {"start": "2019-06-22 10:00", "stop": "2019-06-23T10:00+00:00",
                             "step": 60}), "timezone"),
        (D("uniform", {"low": 1, "high": 1}), "must be above low"),
        (D("quniform", {"low": 0, "high": 1, "q": 0}), "q must be > 0"),
        (D("loguniform", {"low": 0.001, "high": 1000}), "exponents"),
        (D("normal", {"loc": 0, "scale": -1}), "scale must be > 0"),
        (D("qlognormal", {"loc": 0, "scale": 1}), "missing q"),
    ],
)
def test_validate_says_what_is_wrong(distribution: ParamDistribution, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        space.validate(distribution)


def test_importing_the_optimizers_does_not_need_numpy() -> None:
    code = (
        "import sys\n"
        "import polyaxon_optimizers.grid, polyaxon_optimizers.mapping\n"
        "import polyaxon_optimizers.random_search, polyaxon_optimizers.space\n"
        "assert 'numpy' not in sys.modules and 'scipy' not in sys.modules, 'imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
