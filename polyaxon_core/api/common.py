"""What every resource uses: reading input, pages of results, the shared schemas."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from flask import request
from marshmallow import EXCLUDE, Schema, fields, validate

from polyaxon_core.api.errors import ParameterError, UnsupportedMediaType
from polyaxon_core.errors import NotFound
from polyaxon_core.runs import DEFAULT_OWNER

MAX_PAGE_SIZE = 1000
#: how deep arrays and objects may nest in a JSON body (a polyaxonfile needs far fewer)
MAX_JSON_DEPTH = 64

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

    With ``optional``, an empty body reads as ``{}``. A body must be sent as
    ``Content-Type: application/json`` (415 otherwise; see
    :mod:`polyaxon_core.api.request_checks` for why) and nest at most
    :data:`MAX_JSON_DEPTH` arrays and objects.
    """
    _check_json_content_type()
    raw = request.get_data(cache=True)
    data = {} if optional and not raw.strip() else _parse_json(raw)
    if not isinstance(data, dict):
        raise ParameterError("body", "the body must be a JSON object")
    if not _is_unicode(data):
        # JSON may escape half a surrogate pair (\ud800): text no database can store
        raise ParameterError("body", "the body holds text that is not valid Unicode "
                                     "(an unpaired surrogate escape)")
    loaded: dict[str, Any] = schema().load(data)
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
    too_deep = ParameterError(
        "body", f"the body nests arrays and objects more than {MAX_JSON_DEPTH} levels deep")
    try:
        data = json.loads(raw)
    except RecursionError:
        raise too_deep from None
    except ValueError:
        return None
    if nests_deeper_than(data, MAX_JSON_DEPTH):
        raise too_deep
    return data


def nests_deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels in ``value`` (walked
    without recursion, so any depth can be measured)."""
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth == limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return False


def _is_unicode(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
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
