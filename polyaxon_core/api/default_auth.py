"""The core's default answers to the auth hooks, registered as the plugin ``auth-default``.

* ``polyaxon_authenticate``: ``Authorization: Token <key>`` (or ``Bearer <key>``) with a
  key issued by :func:`polyaxon_core.accounts.issue_token` that is neither expired nor
  revoked. No such header: no answer (the request is anonymous). A key that does not
  resolve to an active user is refused outright.
* ``polyaxon_authorize``: the roles table of :mod:`polyaxon_core.permissions`: what the
  user's organization role grants everywhere plus what their role on the project grants
  there. It only judges :class:`~polyaxon_core.accounts.AuthenticatedUser` objects; a user
  some other plugin authenticated is left to that plugin.

Both are ``trylast``: an installed plugin answering first wins. The module imports
nothing heavy, since every process that builds the plugin manager loads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from polyaxon_core.hookspecs import hookimpl


@hookimpl(trylast=True)
def polyaxon_authenticate(request: Any) -> Any | None:
    """The user behind the request's API token, None without one."""
    from polyaxon_core.accounts import user_for_token
    from polyaxon_core.api.extensions import server
    from polyaxon_core.api.security import token_from_header
    from polyaxon_core.interfaces import AuthenticationFailed

    header = request.headers.get("Authorization")
    if not header:
        return None
    key = token_from_header(header)
    if key is None:
        raise AuthenticationFailed(
            "the Authorization header must be `Token <key>` (or `Bearer <key>`)"
        )
    with server.session() as session:
        user = user_for_token(session, key)
    if user is None:
        raise AuthenticationFailed("the token is unknown, expired or revoked; get a new one")
    return user


@hookimpl(trylast=True)
def polyaxon_authorize(user: Any, action: str, resource: Mapping[str, Any]) -> bool | None:
    """The roles table's verdict for our own users; None for anyone else's."""
    from polyaxon_core.accounts import AuthenticatedUser
    from polyaxon_core.domain.projects import DEFAULT_OWNER
    from polyaxon_core.permissions import is_allowed

    if not isinstance(user, AuthenticatedUser):
        return None
    owner = resource.get("owner")
    # the organization role is the user's role in the one organization this server serves
    organization_role = user.organization_role if owner == DEFAULT_OWNER else None
    project = resource.get("project") if resource.get("kind") == "run" else resource.get("name")
    project_role = user.project_role(owner, project) if owner and project else None
    return is_allowed(organization_role, project_role, action)
