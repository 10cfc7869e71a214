"""The parsed form of a query and of a sort: immutable values, no behaviour.

A query is a tree of :class:`And` / :class:`Or` nodes over :class:`Condition` leaves.
Parentheses only shape the tree; a group of one condition is that condition.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Operator(StrEnum):
    """What a condition tests; the value is the operator as written in a query."""

    EQUAL = "x"
    ONE_OF = "a|b"
    LESS = "<"
    LESS_OR_EQUAL = "<="
    GREATER = ">"
    GREATER_OR_EQUAL = ">="
    RANGE = "a .. b"
    CONTAINS = "%x%"
    STARTS_WITH = "x%"
    ENDS_WITH = "%x"
    NIL = "nil"


COMPARISONS: frozenset[Operator] = frozenset(
    {Operator.LESS, Operator.LESS_OR_EQUAL, Operator.GREATER, Operator.GREATER_OR_EQUAL}
)
PATTERNS: frozenset[Operator] = frozenset(
    {Operator.CONTAINS, Operator.STARTS_WITH, Operator.ENDS_WITH}
)


@dataclass(frozen=True)
class Period:
    """A datetime value of a query: the span its precision names, ``[start, end)`` in UTC.

    ``2024-01-31`` is that whole day, ``2024-01-31 10:00`` that minute,
    ``2024-01-31 10:00:05`` that second.
    """

    start: datetime
    end: datetime


@dataclass(frozen=True)
class UuidPrefix:
    """The first characters of a run uuid (4 to 31 lowercase hex digits), as ``ops ls``
    shows them; :func:`~polyaxon_core.query.sql.resolve_uuid_prefixes` turns it into the
    uuid of the one run it names."""

    prefix: str


#: A value of a condition: text, a number, a boolean (JSON fields), a datetime period or
#: a uuid prefix.
Value = str | float | bool | Period | UuidPrefix


@dataclass(frozen=True)
class Condition:
    """``field[.key]:[~]operation``.

    ``field`` is the canonical field name (aliases resolved), ``key`` the name after the
    dot for ``inputs`` / ``outputs`` / ``metrics``. ``values`` holds no value for ``nil``,
    two for a range, one or more for ``a|b`` and one otherwise. ``negated`` is the ``~``
    modifier. ``span`` is where the condition stands in the query text, ``[start, end)``.
    """

    field: str
    key: str | None
    operator: Operator
    values: tuple[Value, ...]
    negated: bool
    span: tuple[int, int]

    @property
    def name(self) -> str:
        """The field as one dotted name: ``status``, ``metrics.loss``."""
        return self.field if self.key is None else f"{self.field}.{self.key}"


@dataclass(frozen=True)
class And:
    """All children hold (``,`` or ``AND``)."""

    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """At least one child holds (``OR`` or `` | ``)."""

    children: tuple[Node, ...]


Node = Condition | And | Or


@dataclass(frozen=True)
class Query:
    """A parsed query: the text it came from and its tree."""

    text: str
    root: Node


@dataclass(frozen=True)
class SortKey:
    """One field of a sort: ``field`` canonical, ``key`` as for a condition."""

    field: str
    key: str | None
    descending: bool

    @property
    def name(self) -> str:
        return self.field if self.key is None else f"{self.field}.{self.key}"
