"""The ``matrix`` section: search algorithms and their parameter distributions.

Every distribution accepts its value as a list (``[0, 1, 5]``), a mapping
(``{start: 0, stop: 1, num: 5}``) or, for the numeric ones, a ``"0:1:5"`` string, and is
normalized to the mapping form documented on :class:`~polyaxon_core.entities.ParamDistribution`
(dates as ISO strings, ``datetimerange`` steps in seconds).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import INCLUDE, ValidationError, post_load, validates_schema

from polyaxon_core.entities import MatrixConfig, ParamDistribution
from polyaxon_core.spec.errors import Issue, describe_value
from polyaxon_core.spec.fields import (
    Anything,
    Boolean,
    ByKind,
    Choice,
    Integer,
    ListOf,
    MappingOf,
    Number,
    Section,
    SpecField,
    SpecSchema,
    Text,
    snake_case,
)
from polyaxon_core.spec.params import Params
from polyaxon_core.spec.types import TypeMismatch, parse_duration

# -- distributions -----------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """How a range-like distribution value is written: its keys and what each holds."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    string_form: bool = True
    element: str = "number"
    steps: str = "number"

    @property
    def keys(self) -> tuple[str, ...]:
        return self.required + self.optional


_SPACE = Shape(("start", "stop", "num"), steps="count")
SHAPES: dict[str, Shape] = {
    "range": Shape(("start", "stop", "step")),
    "daterange": Shape(("start", "stop", "step"), string_form=False, element="date", steps="days"),
    "datetimerange": Shape(("start", "stop", "step"), string_form=False, element="datetime", steps="seconds"),
    "linspace": _SPACE,
    "logspace": Shape(("start", "stop", "num"), ("base",), steps="count"),
    "geomspace": _SPACE,
    "uniform": Shape(("low", "high"), ("size",)),
    "loguniform": Shape(("low", "high"), ("size",)),
    "quniform": Shape(("low", "high", "q"), ("size",)),
    "qloguniform": Shape(("low", "high", "q"), ("size",)),
    "normal": Shape(("loc", "scale"), ("size",)),
    "lognormal": Shape(("loc", "scale"), ("size",)),
    "qnormal": Shape(("loc", "scale", "q"), ("size",)),
    "qlognormal": Shape(("loc", "scale", "q"), ("size",)),
}
DISTRIBUTION_KINDS = ("choice", "pchoice", *SHAPES)
#: Kinds sampled at random rather than enumerated: grid search cannot use them.
RANDOM_KINDS = frozenset(
    {
        "pchoice",
        "uniform",
        "quniform",
        "loguniform",
        "qloguniform",
        "normal",
        "qnormal",
        "lognormal",
        "qlognormal",
    }
)
#: Kinds whose values are numbers (the input they feed must be int or float).
NUMERIC_KINDS = frozenset(SHAPES) - {"daterange", "datetimerange"}


def _shape_example(kind: str, shape: Shape) -> str:
    keys = ", ".join(shape.required) + "".join(f"[, {key}]" for key in shape.optional)
    forms = f"[{keys}] or {{{keys}}}"
    if shape.string_form:
        forms += f' or "{":".join(shape.required)}"'
    return forms


class DistributionValue(SpecField):
    """The ``value`` of one distribution, normalized; errors name the offending key."""

    def __init__(self, kind: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kind = kind

    def default_description(self) -> str:
        if self.kind == "choice":
            return "a non-empty list of values"
        if self.kind == "pchoice":
            return "a list of [value, probability] pairs whose probabilities sum to 1"
        return _shape_example(self.kind, SHAPES[self.kind])

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if self.kind == "choice":
            if not isinstance(value, list) or not value:
                raise self.fail(value)
            return value
        if self.kind == "pchoice":
            return self._pchoice(value)
        return self._ranged(value, SHAPES[self.kind])

    def _pchoice(self, value: Any) -> list[list[Any]]:
        if not isinstance(value, list) or not value:
            raise self.fail(value)
        errors: dict[int, list[Issue]] = {}
        total = 0.0
        for index, pair in enumerate(value):
            if not isinstance(pair, list) or len(pair) != 2:
                errors[index] = [
                    Issue(f"expected [value, probability], got {describe_value(pair)}", self.describe())
                ]
                continue
            probability = pair[1]
            if isinstance(probability, bool) or not isinstance(probability, int | float):
                errors[index] = [Issue("the probability must be a number", "a number in (0, 1]")]
            elif not 0 < probability <= 1:
                errors[index] = [
                    Issue(f"the probability {probability} is out of range", "a number in (0, 1]")
                ]
            else:
                total += probability
        if errors:
            raise ValidationError(errors)
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValidationError(
                Issue(f"the probabilities sum to {total:g}, not 1", "probabilities that sum to 1")
            )
        return [list(pair) for pair in value]

    def _ranged(self, value: Any, shape: Shape) -> dict[str, Any]:
        if isinstance(value, str):
            if not shape.string_form:
                raise self.fail(value, f"{self.kind} cannot be written as a string")
            items: list[Any] = []
            for part in value.split(":"):
                try:
                    items.append(int(part) if part.strip().lstrip("+-").isdigit() else float(part))
                except ValueError:
                    raise self.fail(value, f"`{part}` in {value!r} is not a number") from None
            value = items
        if isinstance(value, list):
            if not len(shape.required) <= len(value) <= len(shape.keys):
                raise self.fail(
                    value, f"expected {len(shape.required)} to {len(shape.keys)} elements, got {len(value)}"
                )
            value = dict(zip(shape.keys, value, strict=False))
        if not isinstance(value, Mapping):
            raise self.fail(value)
        errors: dict[str, list[Issue]] = {}
        for key in value:
            if key not in shape.keys:
                errors[str(key)] = [Issue(f"unknown key `{key}`", f"keys: {', '.join(shape.keys)}")]
        for key in shape.required:
            if value.get(key) is None:
                errors[key] = [Issue("missing required key", self.describe())]
        if errors:
            raise ValidationError(errors)
        normalized: dict[str, Any] = {}
        for key in shape.keys:
            if value.get(key) is None:
                continue
            try:
                normalized[key] = self._element(key, value[key], shape)
            except TypeMismatch as exc:
                errors[key] = [Issue(f"{describe_value(value[key])}: {exc}", self._element_help(key, shape))]
        if errors:
            raise ValidationError(errors)
        self._check_bounds(normalized)
        return normalized

    def _element(self, key: str, item: Any, shape: Shape) -> Any:
        if key in ("start", "stop") and shape.element == "date":
            return _date(item)
        if key in ("start", "stop") and shape.element == "datetime":
            return _datetime(item)
        if key == "step" and shape.steps == "seconds":
            return parse_duration(item)
        if key in ("num", "size") or (key == "step" and shape.steps == "days"):
            if isinstance(item, bool) or not isinstance(item, int) or item < 1:
                raise TypeMismatch("expected a whole number >= 1")
            return item
        if key == "base":
            if isinstance(item, bool) or not isinstance(item, int) or item < 2:
                raise TypeMismatch("expected a whole number >= 2")
            return item
        if isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
            raise TypeMismatch("expected a number")
        return item

    @staticmethod
    def _element_help(key: str, shape: Shape) -> str:
        if key in ("start", "stop") and shape.element == "date":
            return "a date such as 2024-05-31"
        if key in ("start", "stop") and shape.element == "datetime":
            return "a datetime such as 2024-05-31T12:00:00"
        if key == "step" and shape.steps == "seconds":
            return "seconds or an ISO 8601 duration such as PT1H"
        if key in ("num", "size") or (key == "step" and shape.steps == "days"):
            return "a whole number >= 1"
        if key == "base":
            return "a whole number >= 2"
        return "a number"

    def _check_bounds(self, value: dict[str, Any]) -> None:
        def fail(key: str, message: str, valid: str) -> ValidationError:
            return ValidationError({key: [Issue(message, valid)]})

        if "start" in value:
            start, stop = value["start"], value["stop"]
            if self.kind == "datetimerange":
                start, stop = dt.datetime.fromisoformat(start), dt.datetime.fromisoformat(stop)
                if (start.tzinfo is None) != (stop.tzinfo is None):
                    raise fail(
                        "stop", "start and stop mix a timezone and no timezone", "both with or both without"
                    )
            if start >= stop:
                raise fail(
                    "stop", f"stop {value['stop']} is not after start {value['start']}", "stop > start"
                )
        if "low" in value and value["low"] >= value["high"]:
            raise fail("high", f"high {value['high']} is not above low {value['low']}", "high > low")
        for key in ("step", "q", "scale"):
            if key in value and value[key] <= 0:
                raise fail(key, f"{key} must be positive, got {value[key]}", f"{key} > 0")
        if self.kind == "geomspace" and (value["start"] * value["stop"] <= 0):
            raise fail(
                "start",
                "geomspace needs start and stop of the same sign, neither zero",
                "two non-zero numbers of the same sign",
            )


def _date(item: Any) -> str:
    try:
        return dt.date.fromisoformat(str(item)).isoformat()
    except ValueError:
        raise TypeMismatch("expected a date such as 2024-05-31") from None


def _datetime(item: Any) -> str:
    text = str(item)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return dt.datetime.fromisoformat(text).isoformat()
    except ValueError:
        raise TypeMismatch("expected a datetime such as 2024-05-31T12:00:00") from None


class _DistributionSchema(SpecSchema):
    @post_load
    def _to_entity(self, data: Mapping[str, Any], **kwargs: Any) -> ParamDistribution:
        return ParamDistribution(kind=data["kind"], value=data["value"])


DISTRIBUTION_SCHEMAS: dict[str, type[SpecSchema]] = {
    kind: type(
        f"{kind.title()}DistributionSchema",
        (_DistributionSchema,),
        {"kind": Choice([kind]), "value": DistributionValue(kind, required=True)},
    )
    for kind in DISTRIBUTION_KINDS
}


def Distributions(**kwargs: Any) -> MappingOf:  # noqa: N802 - a field, like the others
    return MappingOf(ByKind(DISTRIBUTION_SCHEMAS, what="distribution"), **kwargs)


def space_size(distribution: ParamDistribution) -> int | None:
    """How many values a discrete distribution yields; None for continuous ones."""
    kind, value = distribution.kind, distribution.value
    if kind in ("choice", "pchoice"):
        return len(value)
    if kind in ("linspace", "logspace", "geomspace"):
        return int(value["num"])
    if kind == "range":
        return max(0, math.ceil((value["stop"] - value["start"]) / value["step"]))
    if kind == "daterange":
        days = (dt.date.fromisoformat(value["stop"]) - dt.date.fromisoformat(value["start"])).days
        return math.ceil(days / value["step"])
    if kind == "datetimerange":
        start = dt.datetime.fromisoformat(value["start"])
        stop = dt.datetime.fromisoformat(value["stop"])
        return math.ceil((stop - start).total_seconds() / value["step"])
    return None


def search_space_size(matrix: MatrixConfig) -> int | None:
    """How many distinct parameter sets ``matrix`` can produce; None when it is unbounded."""
    if matrix.kind == "mapping":
        return len(matrix.options.get("values") or [])
    sizes = [space_size(distribution) for distribution in matrix.params.values()]
    if not sizes or any(size is None for size in sizes):
        return None
    return math.prod(size for size in sizes if size is not None)


# -- shared sections -------------------------------------------------------------------


class OptimizationMetricSchema(SpecSchema):
    name = Text(required=True)
    optimization = Choice(["maximize", "minimize"], what="optimization", ignore_case=True)


class OptimizationResourceSchema(SpecSchema):
    name = Text(required=True)
    type = Choice(["int", "float"], what="resource type", ignore_case=True)


def Percent(**kwargs: Any) -> Number:  # noqa: N802 - a field, like the others
    return Number(minimum=0, maximum=100, exclusive_minimum=True, **kwargs)


class MedianPolicySchema(SpecSchema):
    kind = Choice(["median"])
    evaluation_interval = Integer(minimum=1)
    min_interval = Integer(minimum=1)
    min_samples = Integer(minimum=1)


class TruncationPolicySchema(SpecSchema):
    kind = Choice(["truncation"])
    percent = Percent(required=True)
    evaluation_interval = Integer(required=True, minimum=1)
    min_interval = Integer(minimum=1)
    min_samples = Integer(minimum=1)
    include_succeeded = Boolean()


class DiffPolicySchema(SpecSchema):
    kind = Choice(["diff"])
    percent = Percent(required=True)
    evaluation_interval = Integer(required=True, minimum=1)
    min_interval = Integer(minimum=1)
    min_samples = Integer(minimum=1)


class MetricEarlyStoppingSchema(SpecSchema):
    kind = Choice(["metric_early_stopping"])
    metric = Text(required=True)
    value = Number(required=True)
    optimization = Choice(["maximize", "minimize"], what="optimization", ignore_case=True, required=True)
    policy = ByKind(
        {"median": MedianPolicySchema, "truncation": TruncationPolicySchema, "diff": DiffPolicySchema},
        what="early stopping policy",
    )


class FailureEarlyStoppingSchema(SpecSchema):
    kind = Choice(["failure_early_stopping"])
    # Deliberately bounded: the official client lets a percentage above 100 through.
    percent = Percent(required=True)


EARLY_STOPPING_SCHEMAS: dict[str, type[SpecSchema]] = {
    "metric_early_stopping": MetricEarlyStoppingSchema,
    "failure_early_stopping": FailureEarlyStoppingSchema,
}


def EarlyStopping(**kwargs: Any) -> ListOf:  # noqa: N802 - a field, like the others
    return ListOf(ByKind(EARLY_STOPPING_SCHEMAS, what="early stopping"), **kwargs)


class TunerSchema(SpecSchema):
    hub_ref = Text(required=True)
    presets = ListOf(Text(), single_allowed=True)
    queue = Text()
    params = Params()


class GaussianProcessSchema(SpecSchema):
    kernel = Choice(["rbf", "matern"], what="kernel", ignore_case=True)
    length_scale = Number(minimum=0, exclusive_minimum=True)
    nu = Number(minimum=0, exclusive_minimum=True)
    num_restarts_optimizer = Integer(minimum=0)


class UtilityFunctionSchema(SpecSchema):
    acquisition_function = Choice(["ucb", "ei", "poi"], what="acquisition function", ignore_case=True)
    gaussian_process = Section(GaussianProcessSchema)
    kappa = Number()
    eps = Number()
    num_warmup = Integer(minimum=1)
    num_iterations = Integer(minimum=1)

    @validates_schema
    def _parameters_of_the_function(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        # Polyaxon's default acquisition function is ucb, which needs kappa.
        function = data.get("acquisition_function") or "ucb"
        needed = "kappa" if function == "ucb" else "eps"
        if data.get(needed) is None:
            raise ValidationError(
                {needed: [Issue(f"the acquisition function `{function}` needs `{needed}`", "a number")]}
            )


# -- matrix kinds ----------------------------------------------------------------------


class _MatrixSchema(SpecSchema):
    concurrency = Integer(minimum=1)
    early_stopping = EarlyStopping()


class GridSearchSchema(_MatrixSchema):
    kind = Choice(["grid"])
    params = Distributions(required=True)
    num_runs = Integer(minimum=1)

    @validates_schema
    def _enumerable(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        _reject_kinds(data, RANDOM_KINDS, "grid search enumerates values and cannot sample")


class RandomSearchSchema(_MatrixSchema):
    kind = Choice(["random"])
    params = Distributions(required=True)
    num_runs = Integer(required=True, minimum=1)
    seed = Integer()


class HyperbandSchema(_MatrixSchema):
    kind = Choice(["hyperband"])
    params = Distributions()
    max_iterations = Integer(minimum=1)
    # Brackets are sized by log(maxIterations)/log(eta): eta must be above 1.
    eta = Number(minimum=1, exclusive_minimum=True)
    resource = Section(OptimizationResourceSchema, required=True)
    metric = Section(OptimizationMetricSchema, required=True)
    resume = Boolean()
    seed = Integer()
    tuner = Section(TunerSchema)


class AshaSchema(_MatrixSchema):
    """Asynchronous successive halving: ours, not in Polyaxon 2.x (which stops at hyperband)."""

    kind = Choice(["asha"])
    params = Distributions(required=True)
    num_runs = Integer(required=True, minimum=1)
    max_resource = Number(required=True, minimum=0, exclusive_minimum=True)
    min_resource = Number(minimum=0, exclusive_minimum=True)
    eta = Number(minimum=1, exclusive_minimum=True)
    resource = Section(OptimizationResourceSchema, required=True)
    metric = Section(OptimizationMetricSchema, required=True)
    resume = Boolean()
    seed = Integer()


class BayesSchema(_MatrixSchema):
    kind = Choice(["bayes"])
    params = Distributions(required=True)
    utility_function = Section(UtilityFunctionSchema)
    num_initial_runs = Integer(required=True, minimum=1)
    max_iterations = Integer(required=True, minimum=1)
    metric = Section(OptimizationMetricSchema, required=True)
    seed = Integer()
    tuner = Section(TunerSchema)

    @validates_schema
    def _gaussian_process_friendly(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        _reject_kinds(
            data, RANDOM_KINDS - {"uniform"}, "bayesian optimization only samples uniform distributions"
        )


class TPESchema(_MatrixSchema):
    kind = Choice(["tpe"])
    params = Distributions(required=True)
    metric = Section(OptimizationMetricSchema, required=True)
    num_runs = Integer(minimum=1)
    max_iterations = Integer(minimum=1)
    seed = Integer()
    tuner = Section(TunerSchema)

    @validates_schema
    def _no_weighted_choices(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        _reject_kinds(data, frozenset({"pchoice"}),
                      "TPE searches (tpe, hyperopt) do not take weighted choices, as in Polyaxon")


class HyperoptSchema(TPESchema):
    """Polyaxon 1.x's name for TPE-style search, with the hyperopt algorithm to use."""

    kind = Choice(["hyperopt"])
    algorithm = Choice(["tpe", "rand", "anneal"], what="hyperopt algorithm")
    num_runs = Integer(required=True, minimum=1)


class IterativeSchema(_MatrixSchema):
    kind = Choice(["iterative"])
    params = Distributions()
    max_iterations = Integer(required=True, minimum=1)
    seed = Integer()
    tuner = Section(TunerSchema)


class MappingSchema(_MatrixSchema):
    kind = Choice(["mapping"])
    values = ListOf(MappingOf(Anything()), required=True, min_items=1)


def _reject_kinds(data: Mapping[str, Any], kinds: frozenset[str], reason: str) -> None:
    errors = {
        name: {"kind": [Issue(f"`{dist.kind}`: {reason}", _allowed_text(kinds))]}
        for name, dist in (data.get("params") or {}).items()
        if isinstance(dist, ParamDistribution) and dist.kind in kinds
    }
    if errors:
        raise ValidationError({"params": errors})


def _allowed_text(excluded: frozenset[str]) -> str:
    return "one of: " + ", ".join(kind for kind in DISTRIBUTION_KINDS if kind not in excluded)


class PluginMatrixSchema(_MatrixSchema):
    """A matrix kind an optimizer plugin contributes, beyond Polyaxon's own.

    The fields every sweep shares are checked here; any other field goes, under its
    snake_case name, to the optimizer's ``options`` as written, for the optimizer's
    ``validate`` to check when the run is submitted.
    """

    kind = Text(required=True)
    params = Distributions()
    num_runs = Integer(minimum=1)
    seed = Integer()

    class Meta:
        unknown = INCLUDE

    def _reject_unknown_fields(self, data: Any, original_data: Any, **kwargs: Any) -> None:
        """Not a validator here: the optimizer owns its other fields."""

    @post_load
    def _snake_case_options(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        # declared fields are loaded under their (snake_case) names already
        return {snake_case(key): value for key, value in data.items()}


def plugin_matrix_schemas() -> dict[str, type[SpecSchema]]:
    """The matrix kinds of installed optimizer plugins that Polyaxon does not define."""
    from polyaxon_core.plugins import get_plugin_manager

    return {name: PluginMatrixSchema
            for name in get_plugin_manager().contributions("optimizer")
            if name not in MATRIX_SCHEMAS}


MATRIX_SCHEMAS: dict[str, type[SpecSchema]] = {
    "grid": GridSearchSchema,
    "random": RandomSearchSchema,
    "hyperband": HyperbandSchema,
    "asha": AshaSchema,
    "bayes": BayesSchema,
    "tpe": TPESchema,
    "hyperopt": HyperoptSchema,
    "iterative": IterativeSchema,
    "mapping": MappingSchema,
}


def Matrix(**kwargs: Any) -> ByKind:  # noqa: N802 - a field, like the others
    return ByKind(MATRIX_SCHEMAS, what="matrix", more=plugin_matrix_schemas, **kwargs)


#: Matrix fields with a place of their own on MatrixConfig; the rest go to ``options``.
MATRIX_TOP_FIELDS = frozenset({"kind", "params", "concurrency", "num_runs", "seed"})
