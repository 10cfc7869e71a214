"""What every resource uses: reading input, pages of results, the shared schemas."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import request
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from polyaxon_core.api.errors import ParameterError, UnsupportedMediaType
from polyaxon_core.domain.projects import DEFAULT_OWNER, SLUG
from polyaxon_core.errors import NotFound

MAX_PAGE_SIZE = 1000
#: how deep arrays and objects may nest in a JSON body (a polyaxonfile needs far fewer)
MAX_JSON_DEPTH = 64
#: the largest offset (results to skip, bytes of a log): beyond it the databases' 64-bit
#: integers overflow
MAX_OFFSET = 2**62
#: the 64-bit integers the databases store
INT64 = validate.Range(min=-(2**63), max=2**63 - 1, error="must be a 64-bit integer "
                                                         "(between {min} and {max})")
#: the years of the times a request may give
FIRST_YEAR = 1970
LAST_YEAR = 2999

#: what a view returns: a JSON object (or an empty body) and the status
Answer = tuple[dict[str, Any] | str, int]


def slug_rule(kind: str) -> validate.Regexp:
    """The rule of :func:`polyaxon_core.domain.projects.validate_slug` for a ``kind`` of
    name (project, team, queue), as a pattern the OpenAPI document shows."""
    return validate.Regexp(
        SLUG, error=f"{kind} name {{input!r}} is not valid: use lowercase letters, digits, "
                    "'-', '_' or '.', starting with a letter or digit (at most 150 characters)")


class InputSchema(Schema):
    """Input schemas ignore fields they do not know: the official client sends more
    (``is_public``, ``managed_by``, ...) than this server uses."""

    class Meta:
        unknown = EXCLUDE


class Timestamp(fields.AwareDateTime):
    """A time with a time zone (UTC when it has none) in the years 1970 to 2999 as written:
    earlier or later is a mistake, and at the far ends of the calendar the time cannot
    even be converted to UTC."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"pattern": r"^(19[7-9][0-9]|2[0-9]{3})-", **kwargs.pop("metadata", {})}
        super().__init__(default_timezone=UTC, metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment: datetime = super()._deserialize(value, attr, data, **kwargs)
        if not FIRST_YEAR <= moment.year <= LAST_YEAR:
            raise ValidationError(f"the year must be between {FIRST_YEAR} and {LAST_YEAR}")
        return moment


class Float(fields.Float):
    """A finite number; one too large for a float is invalid, not an error."""

    def _validated(self, value: Any) -> Any:
        try:
            return super()._validated(value)
        except OverflowError:
            raise self.make_error("invalid") from None


class ErrorSchema(Schema):
    code = fields.Integer(required=True, metadata={"description": "the HTTP status"})
    message = fields.String(required=True, metadata={"description": "what went wrong, and the fix"})
    errors = fields.Dict(
        keys=fields.String(), values=fields.List(fields.String()), required=True,
        metadata={"description": "problems by field or parameter (may be empty)"},
    )


class PageQuery(InputSchema):
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_OFFSET),
                            metadata={"description": "how many results to skip"})
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PAGE_SIZE),
                           metadata={"description": f"how many results at most (1-{MAX_PAGE_SIZE})"})


class PageSchema(Schema):
    count = fields.Integer(required=True, metadata={"description": "results in all pages"})
    previous = fields.String(required=True, allow_none=True,
                             metadata={"description": "URL of the previous page"})
    next = fields.String(required=True, allow_none=True,
                         metadata={"description": "URL of the next page"})


@functools.cache
def schema_instance(schema: type[Schema]) -> Schema:
    """One instance of ``schema`` for every request: building a schema copies each of its
    fields, which costs more than dumping a run with it. Schemas keep no state between
    calls, so threads share them."""
    return schema()


def dump(schema: type[Schema], value: Any) -> dict[str, Any]:
    """``value`` as ``schema`` writes it."""
    dumped: dict[str, Any] = schema_instance(schema).dump(value)
    return dumped


def load_query(schema: type[Schema]) -> dict[str, Any]:
    """The request's query parameters, validated (400 names the bad ones)."""
    loaded: dict[str, Any] = schema_instance(schema).load(request.args.to_dict())
    return loaded


def load_body(schema: type[Schema], optional: bool = False,
              quick: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None) -> dict[str, Any]:
    """The request's JSON object body, validated (400 names the bad fields).

    With ``optional``, an empty body reads as ``{}``. ``quick`` may load a body of the
    common shape itself, as the schema would, at a fraction of the cost (a route's hot
    path): what it returns is the answer, and None leaves the body to the schema. A body
    must be sent as ``Content-Type: application/json`` (415 otherwise; see
    :mod:`polyaxon_core.api.request_checks` for why) and nest at most
    :data:`MAX_JSON_DEPTH` arrays and objects.
    """
    _check_json_content_type()
    raw = request.get_data(cache=True)
    data = {} if optional and not raw.strip() else _parse_json(raw)
    if not isinstance(data, dict):
        raise ParameterError("body", "the body must be a JSON object")
    if quick is not None:
        loaded_quickly = quick(data)
        if loaded_quickly is not None:
            return loaded_quickly
    problem = unstorable_value(data)
    if problem:
        place, what = problem
        raise ParameterError(place or "body", f"the body holds {what}"
                                              + (f" at `{place}`" if place else ""))
    loaded: dict[str, Any] = schema_instance(schema).load(data)
    return loaded


def _check_json_content_type() -> None:
    chunked = request.headers.get("Transfer-Encoding", "").lower() == "chunked"
    if request.mimetype == "application/json" or not (request.mimetype or request.content_length
                                                       or chunked):
        return
    sent = f"`{request.mimetype}`" if request.mimetype else "no Content-Type"
    raise UnsupportedMediaType(
        f"the body must be JSON sent with `Content-Type: application/json`, not {sent}")


def _parse_json(raw: bytes) -> Any:
    """``raw`` as JSON; None when it is not JSON. A body nested deeper than
    :data:`MAX_JSON_DEPTH` is a 400, also when it is deep enough to exhaust the parser."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise ParameterError("body", _TOO_DEEP) from None
    except ValueError:
        return None


_TOO_DEEP = f"arrays and objects nested more than {MAX_JSON_DEPTH} levels deep"


def unstorable_value(value: Any) -> tuple[str, str] | None:
    """Where in the parsed JSON ``value`` there is what no database can store, and what.

    Nesting deeper than :data:`MAX_JSON_DEPTH`, numbers that are not finite (``1e400``
    parses as infinity), NUL characters (PostgreSQL refuses them in text) and half surrogate pairs
    (``\\ud800``: not Unicode). The place is dotted like field errors
    (``metrics.0.value``); the walk keeps its own stack, so any depth is measured.
    """
    pending: list[tuple[Any, int, str]] = [(value, 0, "")]
    while pending:
        item, depth, place = pending.pop()
        if isinstance(item, dict | list):
            if depth == MAX_JSON_DEPTH:
                return place, _TOO_DEEP
            entries = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in entries:
                child_place = f"{place}.{key}" if place else str(key)
                pending.append((key, depth + 1, child_place))
                pending.append((child, depth + 1, child_place))
        elif isinstance(item, str):
            problem = unstorable_text(item)
            if problem:
                return place, problem
        elif isinstance(item, float) and not math.isfinite(item):
            return place, "a number that is not finite (too large, or NaN)"
    return None


def unstorable_text(text: str) -> str | None:
    """What in ``text`` no database can store: a NUL character or half a surrogate pair."""
    if "\x00" in text:
        return "a NUL character (\\u0000), which text cannot hold"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "text that is not valid Unicode (an unpaired surrogate escape)"
    return None


def page(results: Sequence[Any], count: int, offset: int, limit: int) -> dict[str, Any]:
    """A page of ``results`` with the URLs of its neighbours."""
    def url(at: int) -> str:
        arguments = {**request.args.to_dict(), "offset": at, "limit": limit}
        return f"{request.base_url}?{urlencode(arguments)}"

    return {
        "count": count,
        "results": list(results),
        "previous": url(max(offset - limit, 0)) if offset > 0 else None,
        "next": url(offset + limit) if offset + limit < count else None,
    }


def check_owner(owner: str) -> None:
    """This server serves one organization, as Polyaxon's community edition does."""
    if owner != DEFAULT_OWNER:
        raise NotFound(f"no organization named '{owner}'; this server serves '{DEFAULT_OWNER}'")
