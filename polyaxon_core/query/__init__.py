"""Polyaxon's query language for runs: parsed once here, translated to SQL.

The CLI (``polyaxon ops ls -q QUERY -s SORT``) and the REST API both go through
:func:`polyaxon_core.domain.listing.list_runs`, which does::

    query = resolve_uuid_prefixes(session, "pipeline:3f2a9c0d1e4b", Run.project_id == project_id)
    statement = apply_sort(apply_query(select(Run.id), query), "-created_at")

so that a uuid prefix naming several runs is an error rather than a match of all of them.

``docs/query-language.md`` describes the grammar, the fields and their operators.
"""

from polyaxon_core.query.ast import (
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
from polyaxon_core.query.errors import QueryError
from polyaxon_core.query.parser import parse_query, parse_sort
from polyaxon_core.query.sql import apply_query, apply_sort, resolve_uuid_prefixes

__all__ = [
    "And",
    "Condition",
    "Node",
    "Operator",
    "Or",
    "Period",
    "Query",
    "QueryError",
    "SortKey",
    "UuidPrefix",
    "Value",
    "apply_query",
    "apply_sort",
    "parse_query",
    "parse_sort",
    "resolve_uuid_prefixes",
]
