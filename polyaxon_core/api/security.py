"""Who may call what: every request is authenticated, then authorized, through the hooks.

Each route says what it needs (:attr:`~polyaxon_core.api.routing.Route.access`); before
the view runs, :func:`check_access` asks ``polyaxon_authenticate`` who sent the request
and ``polyaxon_authorize`` whether they may perform the route's action on the resource
the URL names. The answers come from plugins: the core's own defaults
(:mod:`polyaxon_core.api.default_auth`: tokens, and the roles of
:mod:`polyaxon_core.permissions`) are ``trylast``, so an installed plugin decides first.
A question nobody answers is a denial.

With authentication off (``polyaxon server --no-auth``, local only) every request is
served as :data:`LOCAL_USER`, an organization owner, and no hook is asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, g, request

from polyaxon_core.accounts import AuthenticatedUser
from polyaxon_core.api.errors import PermissionDenied, Unauthenticated
from polyaxon_core.api.extensions import server
from polyaxon_core.api.routing import AUTHENTICATED, PUBLIC
from polyaxon_core.permissions import AGENTS_WORK
from polyaxon_core.run_scope import run_token_allows

LOCAL_USER = AuthenticatedUser(id=None, username="local", organization_role="owner")
#: the API's blueprints (a plugin's API routes included), which a web UI leaves to the
#: checks here (its CSRF protection exempts them)
API_BLUEPRINTS = frozenset({"api", "streams", "services", "rewrite_services"})
#: the services' proxy (:mod:`polyaxon_core.api.proxy`): a browser session's requests to a
#: service carry the service's own CSRF token (Jupyter's ``_xsrf``), not the UI's; other
#: sites' pages are refused by their Origin, and the session cookie is ``SameSite=Lax``
SERVICE_BLUEPRINTS = frozenset({"services", "rewrite_services"})


def init_security(app: Flask) -> None:
    """Authenticate and authorize every request before its view runs."""
    app.before_request(check_access)


def check_access() -> None:
    """Refuse the request unless the route's ``access`` is met (401 or 403)."""
    if request.endpoint is None:
        return  # no route matched: the 404 or 405 handler answers
    route = server.state.routes.get(request.endpoint)
    if route is None and request.endpoint in server.state.page_endpoints:
        return  # a page of the web UI plugin, which guards its own pages
    access = route.access if route is not None else AUTHENTICATED  # a plugin's route
    if access == PUBLIC:
        return
    if request.blueprint in SERVICE_BLUEPRINTS:
        from polyaxon_core.api.proxy import recently_allowed

        if recently_allowed():
            return
    user = current_user()
    resource = resource_from(request.view_args or {})
    agent = getattr(user, "agent", None) if isinstance(user, AuthenticatedUser) else None
    if agent is not None:  # an agent's token: its own agent's endpoints, nothing else
        if access == AGENTS_WORK and (request.view_args or {}).get("agent") == agent:
            return
        raise PermissionDenied(f"the token of agent {agent} acts as that agent only")
    if not within_run_scope(user, access, resource):
        raise PermissionDenied(f"a run's token may not {access} on {describe(resource)}: it "
                               "reads and logs to its own run only")
    if access == AUTHENTICATED:
        return
    if not is_allowed(user, access, resource):
        raise PermissionDenied(f"{user.username} may not {access} on {describe(resource)}")


def current_user() -> Any:
    """Who sent this request; raises Unauthenticated when nobody can tell."""
    if "polyaxon_user" not in g:
        g.polyaxon_user = _authenticate()
    return g.polyaxon_user


def current_user_id() -> int | None:
    """The id of this request's user; None for the local administrator or a plugin's user."""
    user = current_user()
    return user.id if isinstance(user, AuthenticatedUser) else None


def _authenticate() -> Any:
    if not server.config.auth:
        return LOCAL_USER
    user = server.hook.polyaxon_authenticate(request=request)
    if user is None:
        raise Unauthenticated(
            "authentication required: send `Authorization: Token <key>`; get a key with "
            "POST /api/v1/users/token"
        )
    return user


def is_allowed(user: Any, action: str, resource: Mapping[str, Any]) -> bool:
    """Whether ``user`` may perform ``action`` on ``resource`` (no answer: no)."""
    if not server.config.auth:
        return True
    return server.hook.polyaxon_authorize(user=user, action=action, resource=resource) is True


def require(action: str, resource: Mapping[str, Any]) -> None:
    """Raise PermissionDenied unless the current user may perform ``action``.

    For views that act on a second resource beyond the one their URL names, and for
    plugin routes, which declare no access of their own.
    """
    user = current_user()
    if not within_run_scope(user, action, resource) or not is_allowed(user, action, resource):
        raise PermissionDenied(f"{user.username} may not {action} on {describe(resource)}")


def within_run_scope(user: Any, action: str, resource: Mapping[str, Any]) -> bool:
    """False when the request carries a run's token and this request leaves the run's
    scope (:func:`polyaxon_core.run_scope.run_token_allows`); True for any other user."""
    scope = getattr(user, "run_scope", None) if isinstance(user, AuthenticatedUser) else None
    if scope is None:
        return True
    # only core routes are named to the scope check: a plugin's route is out of scope
    route = server.state.routes.get(request.endpoint) if request.endpoint else None
    return run_token_allows(scope, route.endpoint if route else None, action, resource)


def resource_from(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The resource a URL names: a run, else a project, else an organization."""
    if "uuid" in arguments:
        return run_resource(arguments["owner"], arguments["project"], arguments["uuid"])
    if "project" in arguments:
        return project_resource(arguments["owner"], arguments["project"])
    return organization_resource(arguments.get("owner", ""))


def organization_resource(owner: str) -> dict[str, Any]:
    return {"kind": "organization", "owner": owner}


def project_resource(owner: str, name: str) -> dict[str, Any]:
    return {"kind": "project", "owner": owner, "name": name}


def run_resource(owner: str, project: str, uuid: str) -> dict[str, Any]:
    return {"kind": "run", "owner": owner, "project": project, "uuid": uuid}


def describe(resource: Mapping[str, Any]) -> str:
    if resource["kind"] == "run":
        return f"run {resource['uuid']} of {resource['owner']}/{resource['project']}"
    if resource["kind"] == "project":
        return f"project {resource['owner']}/{resource['name']}"
    return f"organization {resource['owner']}"


def token_from_header(header: str | None) -> str | None:
    """The key of ``Authorization: Token <key>`` (or ``Bearer <key>``), any case."""
    if not header:
        return None
    scheme, _, key = header.strip().partition(" ")
    if scheme.lower() not in {"token", "bearer"} or not key.strip():
        return None
    return key.strip()
