"""Polyaxon's query language for runs: parsed once here, translated to SQL.

The CLI (``polyaxon ops ls -q QUERY -s SORT``) and the REST API both go through::

    statement = apply_sort(apply_query(select(Run.id), "status:running|queued"), "-created_at")

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
    Value,
)
from polyaxon_core.query.errors import QueryError
from polyaxon_core.query.parser import parse_query, parse_sort
from polyaxon_core.query.sql import apply_query, apply_sort

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
    "Value",
    "apply_query",
    "apply_sort",
    "parse_query",
    "parse_sort",
]
