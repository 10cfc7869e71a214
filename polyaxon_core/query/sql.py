"""Queries and sorts as SQL over :class:`~polyaxon_core.db.models.Run`.

Everything happens in the database: a query becomes one WHERE clause, a sort one ORDER
BY, and no row is loaded to be filtered in Python.

``~`` (negation) matches the runs that have a value the condition can test and that
do not satisfy it, so ``metrics.loss:~<=0.1`` is ``metrics.loss:>0.1``: a run without
the field never matches a negated condition (``~nil`` aside). For ``<``, ``<=``, ``>``,
``>=`` and ranges only numbers count as values of ``inputs.*`` / ``outputs.*``, and
``metrics.*`` are only ever numbers. Every run has a tag list, possibly empty.

A uuid prefix (``pipeline:3f2a9c0d1e4b``) matches the runs whose uuid starts with it;
:func:`resolve_uuid_prefixes` first checks that it names one run and replaces it with
that run's uuid, or raises :class:`QueryError` listing the runs it could mean.
"""

from __future__ import annotations

import operator as python_operator
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from sqlalchemy import Select, and_, false, func, not_, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased
from sqlalchemy.sql import ColumnElement

from polyaxon_core.db.models import Run
from polyaxon_core.query.ast import (
    COMPARISONS,
    And,
    Condition,
    Node,
    Operator,
    Or,
    Period,
    Query,
    SortKey,
    UuidPrefix,
    Value,
)
from polyaxon_core.query.dialects import JsonScalar, TagsEmpty, TagsHaveAny
from polyaxon_core.query.errors import QueryError
from polyaxon_core.query.parser import parse_query, parse_sort

SelectT = TypeVar("SelectT", bound=Select[Any])

_COMPARE: dict[Operator, Callable[[Any, Any], ColumnElement[bool]]] = {
    Operator.LESS: python_operator.lt,
    Operator.LESS_OR_EQUAL: python_operator.le,
    Operator.GREATER: python_operator.gt,
    Operator.GREATER_OR_EQUAL: python_operator.ge,
}


def apply_query(statement: SelectT, query: Query | str) -> SelectT:
    """``statement`` (a ``select()`` over runs) with the query added to its WHERE.

    A string is parsed first, so it may raise :class:`QueryError`.
    """
    parsed = parse_query(query) if isinstance(query, str) else query
    return statement.where(_clause(parsed.root))


def apply_sort(statement: SelectT, sort: str | Sequence[SortKey]) -> SelectT:
    """``statement`` ordered by ``sort``, runs without a value last in either direction.

    Ties are broken by creation order (the run's id). JSON values (``inputs.*``,
    ``outputs.*``) order numbers first, then strings, then booleans. A string is parsed
    first, so it may raise :class:`QueryError`.
    """
    keys = parse_sort(sort) if isinstance(sort, str) else tuple(sort)
    order = [
        (expression.desc() if key.descending else expression.asc()).nulls_last()
        for key in keys
        for expression in _sort_expressions(key)
    ]
    return statement.order_by(*order, _runs.id)


#: how many of the runs an ambiguous uuid prefix names its error lists
_AMBIGUOUS_SHOWN = 10


def resolve_uuid_prefixes(session: Session, query: Query | str,
                          scope: ColumnElement[bool] | None = None) -> Query:
    """``query`` with each uuid prefix replaced by the uuid of the one run it names.

    Prefixes are looked up among the runs ``scope`` selects (a WHERE clause over runs,
    such as a project's), or among every run. A prefix that names several runs raises
    :class:`QueryError` listing them; one that names none is kept, so its condition
    matches no run, as a uuid no run has would. A string is parsed first.
    """
    parsed = parse_query(query) if isinstance(query, str) else query

    def resolve(node: Node) -> Node:
        if isinstance(node, And):
            return And(tuple(resolve(child) for child in node.children))
        if isinstance(node, Or):
            return Or(tuple(resolve(child) for child in node.children))
        if not any(isinstance(value, UuidPrefix) for value in node.values):
            return node
        values = tuple(_resolve_prefix(session, parsed, node, value, scope)
                       if isinstance(value, UuidPrefix) else value for value in node.values)
        return replace(node, values=values)

    return replace(parsed, root=resolve(parsed.root))


def _resolve_prefix(session: Session, query: Query, condition: Condition, value: UuidPrefix,
                    scope: ColumnElement[bool] | None) -> str | UuidPrefix:
    statement = select(Run.uuid).where(Run.uuid.startswith(value.prefix, autoescape=True))
    if scope is not None:
        statement = statement.where(scope)
    matches = list(session.scalars(statement.order_by(Run.uuid).limit(_AMBIGUOUS_SHOWN + 1)))
    if not matches:
        return value
    if len(matches) == 1:
        return matches[0]
    shown = ", ".join(matches[:_AMBIGUOUS_SHOWN])
    more = " and more" if len(matches) > _AMBIGUOUS_SHOWN else ""
    start, end = condition.span
    raise QueryError(
        f"the uuid prefix `{value.prefix}` names several runs ({shown}{more}); "
        "give more characters of the uuid", text=query.text, position=start,
        token=query.text[start:end])


def _uuid_matches(column: ColumnElement[Any] | InstrumentedAttribute[str],
                  values: tuple[Value, ...]) -> ColumnElement[bool]:
    """Whether ``column`` (a uuid) is one of the uuids or starts with one of the prefixes."""
    uuids = [value for value in values if isinstance(value, str)]
    tests: list[ColumnElement[bool]] = [column.in_(uuids)] if uuids else []
    tests += [column.startswith(value.prefix, autoescape=True)
              for value in values if isinstance(value, UuidPrefix)]
    return or_(*tests)


def _clause(node: Node) -> ColumnElement[bool]:
    if isinstance(node, And):
        return and_(*(_clause(child) for child in node.children))
    if isinstance(node, Or):
        return or_(*(_clause(child) for child in node.children))
    return _condition(node)


def _condition(condition: Condition) -> ColumnElement[bool]:
    target = _target(condition.field, condition.key)
    if condition.operator is Operator.NIL:
        return not_(target.missing()) if condition.negated else target.missing()
    matches = target.matches(condition.operator, condition.values)
    if not condition.negated:
        return matches
    # SQL's NOT of an unknown is unknown: a value of another type must count as "not
    # matching", hence the coalesce.
    return and_(target.present(condition.operator), not_(func.coalesce(matches, false())))


class _Column:
    """A plain column of ``runs``."""

    def __init__(self, column: ColumnElement[Any]) -> None:
        self.column = column

    def present(self, operator: Operator) -> ColumnElement[bool]:
        return self.column.is_not(None)

    def missing(self) -> ColumnElement[bool]:
        return self.column.is_(None)

    def matches(self, operator: Operator, values: tuple[Value, ...]) -> ColumnElement[bool]:
        column = self.column
        if operator is Operator.EQUAL:
            return column == values[0]
        if operator is Operator.ONE_OF:
            return column.in_(values)
        if operator is Operator.RANGE:
            return column.between(values[0], values[1])
        if operator is Operator.CONTAINS:
            return column.icontains(values[0], autoescape=True)
        if operator is Operator.STARTS_WITH:
            return column.istartswith(values[0], autoescape=True)
        if operator is Operator.ENDS_WITH:
            return column.iendswith(values[0], autoescape=True)
        return _COMPARE[operator](column, values[0])


class _Datetime(_Column):
    """A datetime column; each value is a period (a day, a minute, a second)."""

    def matches(self, operator: Operator, values: tuple[Value, ...]) -> ColumnElement[bool]:
        column = self.column
        periods = [value for value in values if isinstance(value, Period)]
        first, last = periods[0], periods[-1]
        if operator is Operator.EQUAL:
            return and_(column >= first.start, column < first.end)
        if operator is Operator.RANGE:
            return and_(column >= first.start, column < last.end)
        if operator is Operator.LESS:
            return column < first.start
        if operator is Operator.LESS_OR_EQUAL:
            return column < first.end
        if operator is Operator.GREATER:
            return column >= first.end
        return column >= first.start


class _JsonKey:
    """One key of a JSON object column (``inputs``, ``outputs``, ``last_metrics``).

    With ``numbers_only`` (metrics) a value that is not a number counts as no value.
    """

    def __init__(self, column: ColumnElement[Any], key: str, numbers_only: bool) -> None:
        self.number = JsonScalar(column, key, "number")
        self.string = JsonScalar(column, key, "string")
        self.boolean = JsonScalar(column, key, "boolean")
        self.value = self.number if numbers_only else JsonScalar(column, key, "any")

    def present(self, operator: Operator) -> ColumnElement[bool]:
        ordered = operator in COMPARISONS or operator is Operator.RANGE
        return (self.number if ordered else self.value).is_not(None)

    def missing(self) -> ColumnElement[bool]:
        return self.value.is_(None)

    def matches(self, operator: Operator, values: tuple[Value, ...]) -> ColumnElement[bool]:
        if operator is Operator.EQUAL or operator is Operator.ONE_OF:
            return or_(*self._one_of(values))
        if operator is Operator.RANGE:
            return self.number.between(values[0], values[1])
        return _COMPARE[operator](self.number, values[0])

    def _one_of(self, values: tuple[Value, ...]) -> list[ColumnElement[bool]]:
        """A JSON value equals a query value of its own type: numbers as numbers."""
        booleans = [value for value in values if isinstance(value, bool)]
        numbers = [value for value in values if isinstance(value, float)]
        strings = [value for value in values if isinstance(value, str)]
        tests = []
        for expression, group in (
            (self.boolean, booleans), (self.number, numbers), (self.string, strings)
        ):
            if len(group) == 1:
                tests.append(expression == group[0])
            elif group:
                tests.append(expression.in_(group))
        return tests


class _Tags:
    """The run's JSON list of tags; ``nil`` is an empty list."""

    def __init__(self, column: ColumnElement[Any]) -> None:
        self.column = column

    def present(self, operator: Operator) -> ColumnElement[bool]:
        return self.column.is_not(None)

    def missing(self) -> ColumnElement[bool]:
        return TagsEmpty(self.column)

    def matches(self, operator: Operator, values: tuple[Value, ...]) -> ColumnElement[bool]:
        return TagsHaveAny(self.column, tuple(str(value) for value in values))


class _Uuid(_Column):
    """The run's uuid; ``x`` and ``a|b`` take uuids and uuid prefixes."""

    def matches(self, operator: Operator, values: tuple[Value, ...]) -> ColumnElement[bool]:
        if operator is Operator.EQUAL or operator is Operator.ONE_OF:
            return _uuid_matches(self.column, values)
        return super().matches(operator, values)


class _RunReference(_Column):
    """A foreign key to another run, matched by that run's uuid (or a prefix of it)."""

    def matches(self, operator: Operator, values: tuple[Value, ...]) -> ColumnElement[bool]:
        other = aliased(Run)
        return self.column.in_(select(other.id).where(_uuid_matches(other.uuid, values)))


_runs = Run.__table__.c

_COLUMNS: dict[str, ColumnElement[Any]] = {
    "uuid": _runs.uuid,
    "name": _runs.name,
    "description": _runs.description,
    "status": _runs.status,
    "kind": _runs.kind,
    "runtime": _runs.runtime,
    "queue": _runs.queue,
    "cloning_kind": _runs.cloning_kind,
    "duration": _runs.duration,
    "wait_time": _runs.wait_time,
}
_DATETIMES: dict[str, ColumnElement[Any]] = {
    "created_at": _runs.created_at,
    "updated_at": _runs.updated_at,
    "started_at": _runs.started_at,
    "finished_at": _runs.finished_at,
}
_JSON_OBJECTS: dict[str, ColumnElement[Any]] = {
    "inputs": _runs.inputs,
    "outputs": _runs.outputs,
    "metrics": _runs.last_metrics,
}


def _target(field: str, key: str | None) -> _Column | _JsonKey | _Tags:
    if key is not None:
        return _JsonKey(_JSON_OBJECTS[field], key, numbers_only=field == "metrics")
    if field in _DATETIMES:
        return _Datetime(_DATETIMES[field])
    if field == "tags":
        return _Tags(_runs.tags)
    if field == "uuid":
        return _Uuid(_runs.uuid)
    if field == "pipeline":
        return _RunReference(_runs.pipeline_id)
    if field == "original":
        return _RunReference(_runs.original_id)
    return _Column(_COLUMNS[field])


def _sort_expressions(key: SortKey) -> tuple[ColumnElement[Any], ...]:
    if key.key is None:
        return ({**_COLUMNS, **_DATETIMES}[key.field],)
    json_key = _JsonKey(_JSON_OBJECTS[key.field], key.key, numbers_only=key.field == "metrics")
    if key.field == "metrics":
        return (json_key.number,)
    return json_key.number, json_key.string, json_key.boolean
