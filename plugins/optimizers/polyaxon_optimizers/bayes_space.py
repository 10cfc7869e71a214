"""The search space of ``kind: bayes`` as the unit cube a Gaussian process models.

Each param takes one or more coordinates in ``[0, 1]``:

* ``uniform``: one coordinate, ``(value - low) / (high - low)``.
* ordered discrete kinds (``range``, ``linspace``, ``logspace``, ``geomspace``,
  ``daterange``, ``datetimerange``, and a ``choice`` of numbers): one coordinate, the
  value's position among the sorted values. The grid kinds are evenly spaced by index,
  so ``logspace`` and ``geomspace`` are modelled on a log scale; a numeric ``choice`` by
  its values (``[64, 128, 512]`` puts 128 at 0.14).
* categorical ``choice`` (any value that is not a number): one-hot, one coordinate per
  value.

Any point of the cube *snaps* to a valid configuration: the uniform coordinate is
clipped, an ordered coordinate goes to the nearest value, a one-hot block to its largest
entry. The model only ever sees snapped points, the ones that are really evaluated.

Needs numpy (the ``bayes`` extra).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np

from polyaxon_core.entities import ParamDistribution
from polyaxon_optimizers import space

Array = np.ndarray
#: Relative tolerance when matching a stored value against the space's own values.
_REL_TOL = 1e-9


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _same(a: Any, b: Any) -> bool:
    """Equality that does not confuse ``True`` with ``1``."""
    return bool(a == b) and isinstance(a, bool) == isinstance(b, bool)


def _order_key(kind: str, value: Any) -> float:
    """A number that orders the values of an ordered discrete kind."""
    if kind == "daterange":
        return float(date.fromisoformat(value).toordinal())
    if kind == "datetimerange":
        return datetime.fromisoformat(value).timestamp()
    return float(value)


@dataclass(frozen=True)
class Dimension:
    """One param's coordinates: ``width`` of them from ``offset``."""

    name: str
    kind: str  # "continuous", "ordered" or "categorical"
    offset: int
    width: int
    values: tuple[Any, ...] = ()
    #: The values' coordinates and their order keys (numbers), for ordered dimensions.
    positions: Any = None
    keys: Any = None
    #: value -> index, for the values that can be hashed.
    lookup: Mapping[tuple[bool, Any], int] = field(default_factory=dict)
    low: float = 0.0
    high: float = 1.0


class UnitCube:
    """Configurations of ``params`` as points of ``[0, 1]^dimensions`` and back."""

    def __init__(self, params: Mapping[str, ParamDistribution]) -> None:
        self.dimensions: list[Dimension] = []
        offset = 0
        # Sorted names: the coordinates must not depend on how the matrix was stored.
        for name in sorted(params):
            dimension = _dimension(name, params[name], offset)
            self.dimensions.append(dimension)
            offset += dimension.width
        self.size = offset
        relaxed = np.zeros(offset, dtype=bool)
        for dimension in self.dimensions:
            if dimension.kind != "categorical":
                relaxed[dimension.offset] = True
        #: Coordinates a local optimizer may move continuously (then snap).
        self.relaxed = relaxed

    # ------------------------------------------------------------------ conversions

    def encode(self, params: Mapping[str, Any]) -> Array | None:
        """The point of a configuration, or None when a value is not in the space."""
        point = np.zeros(self.size)
        for dimension in self.dimensions:
            if dimension.name not in params:
                return None
            value = params[dimension.name]
            if dimension.kind == "continuous":
                if not _is_number(value):
                    return None
                coordinate = (value - dimension.low) / (dimension.high - dimension.low)
                if not -_REL_TOL <= coordinate <= 1 + _REL_TOL:
                    return None
                point[dimension.offset] = min(max(coordinate, 0.0), 1.0)
            else:
                index = _index_of(dimension, value)
                if index is None:
                    return None
                if dimension.kind == "ordered":
                    point[dimension.offset] = dimension.positions[index]
                else:
                    point[dimension.offset + index] = 1.0
        return point

    def decode(self, point: Array) -> dict[str, Any]:
        """The configuration a point snaps to, with plain JSON values."""
        params: dict[str, Any] = {}
        for dimension in self.dimensions:
            start = dimension.offset
            if dimension.kind == "continuous":
                coordinate = min(max(float(point[start]), 0.0), 1.0)
                params[dimension.name] = dimension.low + coordinate * (dimension.high - dimension.low)
            elif dimension.kind == "ordered":
                index = int(np.argmin(np.abs(dimension.positions - point[start])))
                params[dimension.name] = dimension.values[index]
            else:
                index = int(np.argmax(point[start : start + dimension.width]))
                params[dimension.name] = dimension.values[index]
        return params

    def snap(self, point: Array) -> Array:
        """The encoding of the configuration ``point`` snaps to."""
        snapped = self.encode(self.decode(point))
        assert snapped is not None  # decode only produces values of the space
        return snapped

    # ------------------------------------------------------------------- sampling

    def sample(self, rng: np.random.Generator, count: int) -> Array:
        """``count`` valid points drawn uniformly (each value of a discrete param alike)."""
        points = np.zeros((count, self.size))
        for dimension in self.dimensions:
            start = dimension.offset
            if dimension.kind == "continuous":
                points[:, start] = rng.random(count)
            else:
                indexes = rng.integers(0, len(dimension.values), size=count)
                if dimension.kind == "ordered":
                    points[:, start] = dimension.positions[indexes]
                else:
                    points[np.arange(count), start + indexes] = 1.0
        return points

    def neighbours(self, centers: Array, rng: np.random.Generator, count: int, scale: float) -> Array:
        """``count`` valid points near each of ``centers``: a local search's candidates.

        Ordered and continuous coordinates move by a normal step of standard deviation
        ``scale``; each categorical param switches to a random value with probability
        one over the number of params, so about one thing changes at a time.
        """
        if len(centers) == 0:
            return np.zeros((0, self.size))
        points = np.repeat(centers, count, axis=0)
        relaxed = np.flatnonzero(self.relaxed)
        points[:, relaxed] = np.clip(
            points[:, relaxed] + rng.normal(0.0, scale, size=(len(points), len(relaxed))), 0.0, 1.0
        )
        switch = 1.0 / max(len(self.dimensions), 1)
        for dimension in self.dimensions:
            if dimension.kind != "categorical":
                continue
            chosen = np.flatnonzero(rng.random(len(points)) < switch)
            values = rng.integers(0, dimension.width, size=len(chosen))
            block = slice(dimension.offset, dimension.offset + dimension.width)
            points[chosen, block] = 0.0
            points[chosen, dimension.offset + values] = 1.0
        return np.array([self.snap(point) for point in points])

    # ------------------------------------------------------------------ discrete only

    @property
    def combinations(self) -> int | None:
        """How many configurations there are, or None when a param is continuous."""
        if any(dimension.kind == "continuous" for dimension in self.dimensions):
            return None
        return math.prod(len(dimension.values) for dimension in self.dimensions)

    def every_point(self) -> Iterator[Array]:
        """Every configuration of a space without continuous params, as points."""
        for indexes in itertools.product(*(range(len(d.values)) for d in self.dimensions)):
            point = np.zeros(self.size)
            for dimension, index in zip(self.dimensions, indexes, strict=True):
                if dimension.kind == "ordered":
                    point[dimension.offset] = dimension.positions[index]
                else:
                    point[dimension.offset + index] = 1.0
            yield point


def _dimension(name: str, distribution: ParamDistribution, offset: int) -> Dimension:
    if distribution.kind == "uniform":
        spec = distribution.value
        return Dimension(name, "continuous", offset, 1, low=float(spec["low"]), high=float(spec["high"]))
    values = space.enumerate_values(distribution)
    lookup: dict[tuple[bool, Any], int] = {}
    for index, value in reversed(list(enumerate(values))):  # the first of equal values wins
        try:
            lookup[(isinstance(value, bool), value)] = index
        except TypeError:  # lists and mappings are found by equality in _index_of
            continue
    if distribution.kind == "choice" and not all(_is_number(value) for value in values):
        return Dimension(name, "categorical", offset, len(values), values=tuple(values), lookup=lookup)
    keys = np.array([_order_key(distribution.kind, value) for value in values])
    if distribution.kind == "choice":
        span = keys.max() - keys.min()
        positions = (keys - keys.min()) / span if span > 0 else np.full(len(keys), 0.5)
    else:
        positions = np.linspace(0.0, 1.0, len(values)) if len(values) > 1 else np.array([0.5])
    return Dimension(
        name, "ordered", offset, 1, values=tuple(values), positions=positions, keys=keys, lookup=lookup
    )


def _index_of(dimension: Dimension, value: Any) -> int | None:
    try:
        index = dimension.lookup.get((isinstance(value, bool), value))
    except TypeError:
        index = None
        for position, candidate in enumerate(dimension.values):
            if _same(candidate, value):
                return position
    if index is not None:
        return index
    if dimension.kind == "ordered" and _is_number(value):
        # Floats that went through JSON or were computed in another order than ours.
        nearest = int(np.argmin(np.abs(dimension.keys - float(value))))
        if math.isclose(dimension.keys[nearest], value, rel_tol=_REL_TOL, abs_tol=1e-12):
            return nearest
    return None
