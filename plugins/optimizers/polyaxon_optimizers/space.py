"""The sixteen matrix distributions: validate, enumerate, sample and check values.

Every function takes a :class:`~polyaxon_core.entities.ParamDistribution` in its
normalized form (documented on that class). The semantics are Polyaxon's, which in turn
follow numpy and hyperopt:

* ``choice`` — one of ``value`` (a list), uniformly.
* ``pchoice`` — one of ``[value, p]`` pairs, with probability ``p``. The probabilities are
  used as relative weights; a value with ``p == 0`` is never drawn.
* ``range`` — ``start, start + step, ...`` below ``stop`` (stop exclusive, like
  ``numpy.arange``); integers when start, stop and step are all integers.
* ``daterange`` — dates from ``start`` below ``stop``, ``step`` in **days**.
* ``datetimerange`` — datetimes from ``start`` below ``stop``, ``step`` in **seconds**.
* ``linspace`` — ``num`` evenly spaced floats from ``start`` to ``stop`` (both included).
* ``logspace`` — ``base ** x`` for ``x`` in ``linspace(start, stop, num)``; ``base``
  defaults to 10, so ``start``/``stop`` are exponents.
* ``geomspace`` — ``num`` floats from ``start`` to ``stop`` (both included, same sign,
  non-zero) with a constant ratio.
* ``uniform`` — a float in ``[low, high]``.
* ``loguniform`` — ``exp(uniform(low, high))``: ``low``/``high`` are natural-log
  **exponents**, as in hyperopt and Polyaxon, so values lie in ``[e**low, e**high]``.
  For learning rates between 1e-4 and 1e-1 write ``low: -9.21, high: -2.30``.
* ``normal`` — ``normal(loc, scale)``; ``lognormal`` — ``exp(normal(loc, scale))``.
* ``quniform`` / ``qloguniform`` / ``qnormal`` / ``qlognormal`` — the draw of the
  unquantized kind rounded to the nearest multiple of ``q`` (``round(x / q) * q``, as
  hyperopt does), so a bounded one may reach ``q / 2`` past its bounds. With an integer
  ``q`` the value is an ``int``.

Values are plain JSON types: numbers, the choice's own values, and ISO 8601 strings for
dates and datetimes. Dates in the distribution itself may be ISO strings or
``date``/``datetime`` objects (YAML loads unquoted dates as objects).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeGuard

from polyaxon_core.entities import ParamDistribution

#: Kinds whose values can be listed; everything else is sampled.
DISCRETE_KINDS = frozenset(
    {"choice", "pchoice", "range", "daterange", "datetimerange", "linspace", "logspace",
     "geomspace"}
)
#: Kinds that are probability distributions over a continuum (quantized or not).
CONTINUOUS_KINDS = frozenset(
    {"uniform", "quniform", "loguniform", "qloguniform", "normal", "qnormal", "lognormal",
     "qlognormal"}
)
ALL_KINDS = DISCRETE_KINDS | CONTINUOUS_KINDS

# Relative tolerance when comparing a float against a computed grid point: values may
# have been through JSON or computed in a different order than ours.
_REL_TOL = 1e-9
_ABS_TOL = 1e-12
_MICROSECOND = timedelta(microseconds=1)


# ----------------------------------------------------------------------------- helpers


def _is_number(value: Any) -> TypeGuard[int | float]:
    """A finite int or float; booleans are not numbers here."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=_REL_TOL, abs_tol=_ABS_TOL)


def _same(a: Any, b: Any) -> bool:
    """Equality that does not confuse ``True`` with ``1``."""
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def _spec(dist: ParamDistribution) -> Mapping[str, Any]:
    if not isinstance(dist.value, Mapping):
        raise ValueError(f"{dist.kind} expects a mapping, got {dist.value!r}")
    return dist.value


def _to_date(value: Any) -> date:
    if isinstance(value, datetime):
        raise ValueError(f"daterange expects dates, got the datetime {value!r}")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value)
    raise ValueError(f"expected an ISO date such as '2019-06-22', got {value!r}")


def _to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    raise ValueError(f"expected an ISO datetime such as '2019-06-22 21:00', got {value!r}")


def _decimals(q: float) -> int:
    """How many decimal places ``q`` is written with (0.25 -> 2, 1e-3 -> 3)."""
    exponent = Decimal(repr(q)).as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _quantize(x: float, q: float) -> float | int:
    steps = round(x / q)
    if isinstance(q, int):
        return steps * q
    # Rounding to q's own precision turns 3 * 0.1 into 0.3 rather than 0.30000000000000004.
    return round(steps * q, _decimals(q))


def _is_multiple(value: float, q: float) -> bool:
    ratio = value / q
    return abs(ratio - round(ratio)) <= _REL_TOL * max(1.0, abs(ratio))


# -------------------------------------------------------------------------- validation


def _require_numbers(dist: ParamDistribution, *keys: str) -> Mapping[str, Any]:
    spec = _spec(dist)
    missing = [key for key in keys if key not in spec]
    if missing:
        raise ValueError(
            f"{dist.kind} needs {', '.join(keys)}; missing {', '.join(missing)}"
        )
    for key in keys:
        if not _is_number(spec[key]):
            raise ValueError(f"{dist.kind} {key} must be a finite number, got {spec[key]!r}")
    return spec


def _validate_choice(dist: ParamDistribution) -> None:
    if not isinstance(dist.value, list | tuple) or not dist.value:
        raise ValueError(f"choice expects a non-empty list of values, got {dist.value!r}")


def _validate_pchoice(dist: ParamDistribution) -> None:
    pairs = dist.value
    if not isinstance(pairs, list | tuple) or not pairs:
        raise ValueError(f"pchoice expects a non-empty list of [value, p], got {pairs!r}")
    for pair in pairs:
        if not isinstance(pair, list | tuple) or len(pair) != 2 or not _is_number(pair[1]):
            raise ValueError(f"pchoice expects [value, probability] pairs, got {pair!r}")
        if pair[1] < 0:
            raise ValueError(f"pchoice probabilities cannot be negative, got {pair!r}")
    total = sum(pair[1] for pair in pairs)
    if total <= 0:
        raise ValueError("pchoice needs at least one value with a probability above 0")
    if total > 1 + _REL_TOL:
        raise ValueError(f"pchoice probabilities must sum to at most 1, they sum to {total}")


def _validate_range(dist: ParamDistribution) -> None:
    spec = _require_numbers(dist, "start", "stop", "step")
    if spec["step"] <= 0:
        raise ValueError(f"range step must be > 0, got {spec['step']}")
    if spec["start"] >= spec["stop"]:
        raise ValueError(f"range stop ({spec['stop']}) must be above start ({spec['start']})")


def _validate_daterange(dist: ParamDistribution) -> None:
    spec = _spec(dist)
    start, stop = _to_date(spec.get("start")), _to_date(spec.get("stop"))
    step = spec.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or step <= 0:
        raise ValueError(f"daterange step is a whole number of days > 0, got {step!r}")
    if start >= stop:
        raise ValueError(f"daterange stop ({stop}) must be after start ({start})")


def _validate_datetimerange(dist: ParamDistribution) -> None:
    spec = _spec(dist)
    start, stop = _to_datetime(spec.get("start")), _to_datetime(spec.get("stop"))
    if (start.tzinfo is None) != (stop.tzinfo is None):
        raise ValueError("datetimerange start and stop must both have a timezone or neither")
    step = spec.get("step")
    if not _is_number(step) or step <= 0 or _step_microseconds(step) == 0:
        raise ValueError(f"datetimerange step is a number of seconds > 0, got {step!r}")
    if start >= stop:
        raise ValueError(f"datetimerange stop ({stop}) must be after start ({start})")


def _validate_space(dist: ParamDistribution) -> None:
    spec = _require_numbers(dist, "start", "stop", "num")
    num = spec["num"]
    if not isinstance(num, int) or num < 1:
        raise ValueError(f"{dist.kind} num must be a whole number >= 1, got {num!r}")
    if dist.kind == "logspace" and "base" in spec:
        base = spec["base"]
        if not _is_number(base) or base <= 0:
            raise ValueError(f"logspace base must be a number > 0, got {base!r}")
    if dist.kind == "geomspace" and (
        spec["start"] == 0 or spec["stop"] == 0 or (spec["start"] > 0) != (spec["stop"] > 0)
    ):
        raise ValueError("geomspace start and stop must be non-zero and of the same sign")


def _validate_bounded(dist: ParamDistribution) -> None:
    keys = ("low", "high", "q") if dist.kind.startswith("q") else ("low", "high")
    spec = _require_numbers(dist, *keys)
    if spec["low"] >= spec["high"]:
        raise ValueError(f"{dist.kind} high ({spec['high']}) must be above low ({spec['low']})")
    if dist.kind.startswith("q") and spec["q"] <= 0:
        raise ValueError(f"{dist.kind} q must be > 0, got {spec['q']}")
    if dist.kind.endswith("loguniform") and spec["high"] > 700:
        # exp(710) overflows a float; low/high are exponents, not values.
        raise ValueError(
            f"{dist.kind} low/high are natural-log exponents (value = exp(x)); "
            f"high={spec['high']} overflows. For values up to 1000 use high: {math.log(1000):.4f}"
        )


def _validate_gaussian(dist: ParamDistribution) -> None:
    keys = ("loc", "scale", "q") if dist.kind.startswith("q") else ("loc", "scale")
    spec = _require_numbers(dist, *keys)
    if spec["scale"] <= 0:
        raise ValueError(f"{dist.kind} scale must be > 0, got {spec['scale']}")
    if dist.kind.startswith("q") and spec["q"] <= 0:
        raise ValueError(f"{dist.kind} q must be > 0, got {spec['q']}")


_VALIDATORS: dict[str, Callable[[ParamDistribution], None]] = {
    "choice": _validate_choice,
    "pchoice": _validate_pchoice,
    "range": _validate_range,
    "daterange": _validate_daterange,
    "datetimerange": _validate_datetimerange,
    "linspace": _validate_space,
    "logspace": _validate_space,
    "geomspace": _validate_space,
    "uniform": _validate_bounded,
    "quniform": _validate_bounded,
    "loguniform": _validate_bounded,
    "qloguniform": _validate_bounded,
    "normal": _validate_gaussian,
    "qnormal": _validate_gaussian,
    "lognormal": _validate_gaussian,
    "qlognormal": _validate_gaussian,
}


def validate(dist: ParamDistribution) -> None:
    """Raise ValueError, saying what is wrong, unless ``dist`` is a well-formed distribution."""
    try:
        check = _VALIDATORS[dist.kind]
    except KeyError:
        raise ValueError(
            f"unknown distribution '{dist.kind}'; use one of: {', '.join(sorted(ALL_KINDS))}"
        ) from None
    check(dist)


def is_discrete(dist: ParamDistribution) -> bool:
    """Whether ``dist`` has a finite list of values (``enumerate_values`` works on it)."""
    return dist.kind in DISCRETE_KINDS


# ------------------------------------------------------------------- discrete values


def _step_microseconds(step: float) -> int:
    return round(step * 1_000_000)


def _range_is_integral(spec: Mapping[str, Any]) -> bool:
    return all(isinstance(spec[key], int) for key in ("start", "stop", "step"))


def _linspace_point(start: float, stop: float, num: int, index: int) -> float:
    if index == 0:
        return float(start)
    if index == num - 1:
        return float(stop)  # the endpoint exactly, not start + (num - 1) * delta
    return start + index * (stop - start) / (num - 1)


def size(dist: ParamDistribution) -> int:
    """How many values a discrete ``dist`` has (pchoice values of probability 0 count)."""
    kind = dist.kind
    if kind in ("choice", "pchoice"):
        return len(dist.value)
    spec = _spec(dist)
    if kind == "range":
        if _range_is_integral(spec):
            return max(0, -(-(spec["stop"] - spec["start"]) // spec["step"]))
        return max(0, math.ceil((spec["stop"] - spec["start"]) / spec["step"]))
    if kind == "daterange":
        days = (_to_date(spec["stop"]) - _to_date(spec["start"])).days
        return max(0, -(-days // spec["step"]))
    if kind == "datetimerange":
        span = (_to_datetime(spec["stop"]) - _to_datetime(spec["start"])) // _MICROSECOND
        return max(0, -(-span // _step_microseconds(spec["step"])))
    if kind in ("linspace", "logspace", "geomspace"):
        return int(spec["num"])
    raise ValueError(f"{kind} is a continuous distribution; it has no list of values")


def value_at(dist: ParamDistribution, index: int) -> Any:
    """The ``index``-th value of a discrete ``dist``, in its natural order."""
    if not 0 <= index < size(dist):
        raise IndexError(f"{dist.kind} has {size(dist)} values, no index {index}")
    kind = dist.kind
    if kind == "choice":
        return dist.value[index]
    if kind == "pchoice":
        return dist.value[index][0]
    spec = _spec(dist)
    if kind == "range":
        if _range_is_integral(spec):
            return spec["start"] + index * spec["step"]
        return float(spec["start"] + index * spec["step"])
    if kind == "daterange":
        return (_to_date(spec["start"]) + timedelta(days=index * spec["step"])).isoformat()
    if kind == "datetimerange":
        offset = timedelta(microseconds=index * _step_microseconds(spec["step"]))
        return (_to_datetime(spec["start"]) + offset).isoformat()
    start, stop, num = spec["start"], spec["stop"], spec["num"]
    if kind == "linspace":
        return _linspace_point(start, stop, num, index)
    if kind == "logspace":
        return float(spec.get("base", 10) ** _linspace_point(start, stop, num, index))
    if index == 0:  # geomspace: endpoints exactly
        return float(start)
    if index == num - 1:
        return float(stop)
    return start * (stop / start) ** (index / (num - 1))


def enumerate_values(dist: ParamDistribution) -> list[Any]:
    """Every value of a discrete ``dist``, in order; ValueError for continuous ones."""
    return [value_at(dist, index) for index in range(size(dist))]


def weights(dist: ParamDistribution) -> list[float]:
    """The probability of each of ``enumerate_values(dist)`` when sampling."""
    if dist.kind == "pchoice":
        total = sum(pair[1] for pair in dist.value)
        return [pair[1] / total for pair in dist.value]
    count = size(dist)
    return [1 / count] * count


# -------------------------------------------------------------------------- sampling


def sample(dist: ParamDistribution, rng: random.Random) -> Any:
    """One value of ``dist`` drawn with ``rng``; the same rng state gives the same value."""
    kind = dist.kind
    if kind == "pchoice":
        values = [pair[0] for pair in dist.value]
        return rng.choices(values, weights=[pair[1] for pair in dist.value])[0]
    if kind in DISCRETE_KINDS:
        return value_at(dist, rng.randrange(size(dist)))
    spec = _spec(dist)
    draw: float
    if kind in ("uniform", "quniform"):
        draw = rng.uniform(spec["low"], spec["high"])
    elif kind in ("loguniform", "qloguniform"):
        draw = math.exp(rng.uniform(spec["low"], spec["high"]))
    elif kind in ("normal", "qnormal"):
        draw = rng.normalvariate(spec["loc"], spec["scale"])
    elif kind in ("lognormal", "qlognormal"):
        draw = rng.lognormvariate(spec["loc"], spec["scale"])
    else:
        raise ValueError(f"unknown distribution '{kind}'")
    return _quantize(draw, spec["q"]) if kind.startswith("q") else draw


# ----------------------------------------------------------------------- containment


def _discrete_index(dist: ParamDistribution, value: Any) -> int | None:
    """The index whose value ``value`` should be, for numeric and date kinds."""
    spec = _spec(dist)
    kind = dist.kind
    if kind == "daterange":
        offset = (_to_date(value) - _to_date(spec["start"])).days
        return offset // spec["step"] if offset % spec["step"] == 0 else None
    if kind == "datetimerange":
        offset = (_to_datetime(value) - _to_datetime(spec["start"])) // _MICROSECOND
        step = _step_microseconds(spec["step"])
        return offset // step if offset % step == 0 else None
    if not _is_number(value):
        return None
    if kind == "range":
        return round((value - spec["start"]) / spec["step"])
    start, stop, num = spec["start"], spec["stop"], spec["num"]
    if num == 1:
        return 0
    if kind == "linspace":
        position = (value - start) / (stop - start) if stop != start else 0.0
    elif kind == "logspace":
        if value <= 0:
            return None
        base = spec.get("base", 10)
        exponent = math.log(value) / math.log(base) if base != 1 else start
        position = (exponent - start) / (stop - start) if stop != start else 0.0
    else:  # geomspace
        if value / start <= 0:
            return None
        ratio = math.log(stop / start)
        position = math.log(value / start) / ratio if ratio else 0.0
    return round(position * (num - 1))


def contains(dist: ParamDistribution, value: Any) -> bool:
    """Whether ``value`` is a value ``dist`` can produce (``sample`` or ``enumerate_values``).

    Float grid points and quantized values are compared with a relative tolerance of
    1e-9, so values that went through JSON or were computed elsewhere still match.
    """
    kind = dist.kind
    if kind == "choice":
        return any(_same(value, candidate) for candidate in dist.value)
    if kind == "pchoice":
        return any(_same(value, pair[0]) for pair in dist.value if pair[1] > 0)
    if kind in DISCRETE_KINDS:
        try:
            index = _discrete_index(dist, value)
        except (TypeError, ValueError):  # unparseable date, naive vs aware datetime
            return False
        if index is None or not 0 <= index < size(dist):
            return False
        if kind in ("daterange", "datetimerange"):
            return True  # the index came from exact day / microsecond arithmetic
        return _close(value_at(dist, index), value)
    if not _is_number(value):
        return False
    spec = _spec(dist)
    q = spec.get("q")
    if q is not None and not _is_multiple(value, q):
        return False
    slack = q / 2 if q is not None else 0.0
    if kind in ("uniform", "quniform"):
        low, high = spec["low"], spec["high"]
    elif kind in ("loguniform", "qloguniform"):
        low, high = math.exp(spec["low"]), math.exp(spec["high"])
    elif kind in ("normal", "qnormal"):
        return True
    elif kind == "lognormal":
        return value > 0
    elif kind == "qlognormal":
        return value >= 0
    else:
        return False
    tolerance = _REL_TOL * max(abs(low), abs(high), 1.0)
    return low - slack - tolerance <= value <= high + slack + tolerance
