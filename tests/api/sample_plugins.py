"""Plugins the API tests install: a route that fails, a route that tries to shadow a core
route, and an authentication plugin that answers before the core's default."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from polyaxon_core.hookspecs import hookimpl


def explode() -> dict[str, Any]:
    raise RuntimeError("secret detail of the failure")


def hello() -> dict[str, Any]:
    return {"hello": "from a plugin"}


def impostor() -> dict[str, Any]:
    return {"username": "impostor"}


class Routes:
    @hookimpl
    def polyaxon_register_api(self, blueprint: Any) -> None:
        blueprint.add_url_rule("/sample/explode", "sample_explode", explode)
        blueprint.add_url_rule("/sample/hello", "sample_hello", hello)
        blueprint.add_url_rule("/users", "sample_impostor", impostor)


@dataclass(frozen=True)
class HeaderUser:
    username: str


class HeaderAuth:
    """Trusts an ``X-Remote-User`` header (as behind an authenticating proxy) and lets
    that user read everything and change nothing."""

    @hookimpl
    def polyaxon_authenticate(self, request: Any) -> HeaderUser | None:
        name = request.headers.get("X-Remote-User")
        return HeaderUser(name) if name else None

    @hookimpl
    def polyaxon_authorize(self, user: Any, action: str, resource: Mapping[str, Any]) -> bool | None:
        if isinstance(user, HeaderUser):
            return action.endswith(".read")
        return None


routes = Routes()
header_auth = HeaderAuth()
