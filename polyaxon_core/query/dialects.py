"""SQL for the JSON columns, written once per database.

SQLite's ``JSON`` and PostgreSQL's ``JSONB`` name their functions and their value types
differently, and a query is built before it knows where it will run. These expressions
compile to each database's own SQL when the statement is executed. A value of the wrong
JSON type reads as NULL, so ``metrics.loss:<0.1`` never casts the string ``"n/a"``.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from sqlalchemy import Boolean, Float, String
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement, literal
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeEngine

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)

JsonKind = Literal["number", "string", "boolean", "any"]

_SQLITE_KINDS: dict[str, str] = {
    "number": "IN ('integer', 'real')",
    "string": "= 'text'",
}
_POSTGRES_CASTS: dict[str, str] = {
    "number": "CAST({text} AS DOUBLE PRECISION)",
    "string": "{text}",
    "boolean": "CAST({text} AS BOOLEAN)",
}
_TYPES: dict[str, TypeEngine[Any]] = {
    "number": Float(),
    "string": String(),
    "boolean": Boolean(),
    "any": String(),
}


class JsonScalar(ColumnElement[Any]):
    """The value under ``key`` of the JSON object in ``column``, if it is of ``kind``.

    ``number``, ``string`` and ``boolean`` read as SQL numbers, text and booleans, and
    as NULL when the key is missing, null, or holds another JSON type; ``any`` is
    NULL exactly when the key is missing or null.
    """

    __visit_name__ = "polyaxon_json_scalar"
    inherit_cache = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("key", InternalTraversal.dp_string),
        ("kind", InternalTraversal.dp_string),
    ]

    def __init__(self, column: ColumnElement[Any], key: str, kind: JsonKind) -> None:
        # The key is written into the SQL text (it is part of the statement's cache
        # key), so only plain names are accepted, as the query grammar does.
        if not _KEY.fullmatch(key):
            raise ValueError(f"JSON keys in queries are plain names, got {key!r}")
        self.column = column
        self.key = key
        self.kind = kind
        self.type = _TYPES[kind]


class TagsHaveAny(ColumnElement[bool]):
    """Whether the JSON list of strings in ``column`` holds at least one of ``tags``."""

    __visit_name__ = "polyaxon_tags_have_any"
    inherit_cache = True
    type = Boolean()
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("tags", InternalTraversal.dp_clauseelement_tuple),
    ]

    def __init__(self, column: ColumnElement[Any], tags: tuple[str, ...]) -> None:
        self.column = column
        self.tags = tuple(literal(tag, String()) for tag in tags)


class TagsEmpty(ColumnElement[bool]):
    """Whether the JSON list in ``column`` has no element (or is not a list at all)."""

    __visit_name__ = "polyaxon_tags_empty"
    inherit_cache = True
    type = Boolean()
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: ColumnElement[Any]) -> None:
        self.column = column


@compiles(JsonScalar, "sqlite")
def _json_scalar_sqlite(element: JsonScalar, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    path = f"'$.\"{element.key}\"'"
    kind = f"json_type({column}, {path})"
    value = f"json_extract({column}, {path})"
    if element.kind == "any":
        return value
    if element.kind == "boolean":
        return f"(CASE {kind} WHEN 'true' THEN 1 WHEN 'false' THEN 0 END)"
    return f"(CASE WHEN {kind} {_SQLITE_KINDS[element.kind]} THEN {value} END)"


@compiles(JsonScalar, "postgresql")
def _json_scalar_postgresql(element: JsonScalar, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    text = f"({column} ->> '{element.key}')"
    if element.kind == "any":
        return text
    value = _POSTGRES_CASTS[element.kind].format(text=text)
    return (f"(CASE WHEN jsonb_typeof({column} -> '{element.key}') = '{element.kind}' "
            f"THEN {value} END)")


@compiles(TagsHaveAny, "sqlite")
def _tags_have_any_sqlite(element: TagsHaveAny, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    tags = ", ".join(compiler.process(tag, **kw) for tag in element.tags)
    return (f"EXISTS (SELECT 1 FROM json_each({column}) AS tag "
            f"WHERE tag.type = 'text' AND tag.value IN ({tags}))")


@compiles(TagsHaveAny, "postgresql")
def _tags_have_any_postgresql(
    element: TagsHaveAny, compiler: SQLCompiler, **kw: Any
) -> str:
    column = compiler.process(element.column, **kw)
    tags = ", ".join(compiler.process(tag, **kw) for tag in element.tags)
    # `?|` tests the string elements of a JSONB array, and is false for anything else.
    return f"({column} ?| CAST(ARRAY[{tags}] AS TEXT[]))"


@compiles(TagsEmpty, "sqlite")
def _tags_empty_sqlite(element: TagsEmpty, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"(coalesce(json_array_length({column}), 0) = 0)"


@compiles(TagsEmpty, "postgresql")
def _tags_empty_postgresql(element: TagsEmpty, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return (f"(coalesce(jsonb_array_length(CASE WHEN jsonb_typeof({column}) = 'array' "
            f"THEN {column} END), 0) = 0)")


@compiles(JsonScalar)
@compiles(TagsHaveAny)
@compiles(TagsEmpty)
def _unsupported(element: ColumnElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    raise CompileError(
        f"queries over JSON fields support SQLite and PostgreSQL, not "
        f"{compiler.dialect.name}"
    )
