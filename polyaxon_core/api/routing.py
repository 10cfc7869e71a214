"""Routes as data: each endpoint with who may call it and what it takes and returns.

A resource package lists its :class:`Route` objects; the blueprints are built from them,
:mod:`polyaxon_core.api.security` reads ``access`` to authorize every request, and
:mod:`polyaxon_core.api.openapi` documents them. An endpoint cannot exist without saying
who may call it.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema

#: anyone, without credentials (health, the OpenAPI document, exchanging a password)
PUBLIC = "public"
#: any authenticated user, whatever their roles (who am I, revoke my token)
AUTHENTICATED = "authenticated"


@dataclass(frozen=True)
class Reply:
    """One documented answer: a JSON schema, or a body of another content type;
    ``also`` lists further content types the same status may carry as plain bodies."""

    description: str
    #: a marshmallow schema, or an OpenAPI schema object
    schema: type[Schema] | Schema | Mapping[str, Any] | None = None
    content_type: str = "application/json"
    also: tuple[str, ...] = ()


@dataclass(frozen=True)
class Route:
    """One endpoint.

    ``access`` is :data:`PUBLIC`, :data:`AUTHENTICATED` or a permission action from
    :mod:`polyaxon_core.permissions`, checked on the resource the URL names (a run when
    it has ``uuid``, else a project when it has ``project``, else the organization
    ``owner``). ``query`` and ``body`` are the schemas the view loads its input with;
    ``raw_body`` is the content type of a body that is not JSON (uploads). ``replies``
    are the success answers; ``errors`` the error statuses beyond the ones every
    endpoint may answer (see :data:`COMMON_ERRORS`).
    """

    method: str
    rule: str
    view: Callable[..., Any]
    access: str
    tag: str
    replies: Mapping[int, Reply]
    query: type[Schema] | None = None
    body: type[Schema] | None = None
    raw_body: str | None = None
    errors: tuple[int, ...] = ()
    documented: bool = True
    summary: str | None = None

    @property
    def endpoint(self) -> str:
        return self.view.__name__

    @property
    def title(self) -> str:
        """The first line of the view's docstring, unless ``summary`` overrides it."""
        if self.summary:
            return self.summary
        return (self.view.__doc__ or self.endpoint).strip().splitlines()[0].rstrip(".")

    @property
    def description(self) -> str:
        lines = (self.view.__doc__ or "").strip().splitlines()[1:]
        return textwrap.dedent("\n".join(lines)).strip()


#: statuses any endpoint may answer: bad input, no or bad credentials, not allowed, not found
COMMON_ERRORS = (400, 401, 403, 404)


def openapi_path(rule: str) -> str:
    """``/<owner>/<path:name>`` -> ``/{owner}/{name}``."""
    return re.sub(r"<(?:[a-z]+:)?([a-zA-Z_]+)>", r"{\1}", rule)
