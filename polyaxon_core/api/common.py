"""What every resource uses: reading input, pages of results, the shared schemas."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from flask import request
from marshmallow import EXCLUDE, Schema, fields, validate

from polyaxon_core.api.errors import ParameterError
from polyaxon_core.domain.projects import DEFAULT_OWNER
from polyaxon_core.errors import NotFound

MAX_PAGE_SIZE = 1000

#: what a view returns: a JSON object (or an empty body) and the status
Answer = tuple[dict[str, Any] | str, int]


class InputSchema(Schema):
    """Input schemas ignore fields they do not know: the official client sends more
    (``is_public``, ``managed_by``, ...) than this server uses."""

    class Meta:
        unknown = EXCLUDE


class ErrorSchema(Schema):
    code = fields.Integer(required=True, metadata={"description": "the HTTP status"})
    message = fields.String(required=True, metadata={"description": "what went wrong, and the fix"})
    errors = fields.Dict(
        keys=fields.String(), values=fields.List(fields.String()), required=True,
        metadata={"description": "problems by field or parameter (may be empty)"},
    )


class PageQuery(InputSchema):
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0),
                            metadata={"description": "how many results to skip"})
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PAGE_SIZE),
                           metadata={"description": f"how many results at most (1-{MAX_PAGE_SIZE})"})


class PageSchema(Schema):
    count = fields.Integer(required=True, metadata={"description": "results in all pages"})
    previous = fields.String(required=True, allow_none=True,
                             metadata={"description": "URL of the previous page"})
    next = fields.String(required=True, allow_none=True,
                         metadata={"description": "URL of the next page"})


def load_query(schema: type[Schema]) -> dict[str, Any]:
    """The request's query parameters, validated (400 names the bad ones)."""
    loaded: dict[str, Any] = schema().load(request.args.to_dict())
    return loaded


def load_body(schema: type[Schema], optional: bool = False) -> dict[str, Any]:
    """The request's JSON object body, validated (400 names the bad fields).

    With ``optional``, an empty body reads as ``{}``.
    """
    empty = not request.get_data(cache=True).strip()
    data = {} if optional and empty else request.get_json(force=True, silent=True)
    if not isinstance(data, dict):
        raise ParameterError("body", "the body must be a JSON object")
    if not _is_unicode(data):
        # JSON may escape half a surrogate pair (\ud800) or a NUL (\u0000): text that
        # PostgreSQL cannot store, refused on every backend alike
        raise ParameterError("body", "the body holds text that cannot be stored (an unpaired "
                                     "surrogate escape or a NUL character, \\u0000)")
    loaded: dict[str, Any] = schema().load(data)
    return loaded


def _is_unicode(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return "\x00" not in value
    if isinstance(value, dict):
        return all(_is_unicode(key) and _is_unicode(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_is_unicode(item) for item in value)
    return True


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
