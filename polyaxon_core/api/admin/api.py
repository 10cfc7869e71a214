"""Organization administration: members and their roles, users, tokens, the audit log,
and changing your own password.

The roles' hierarchy holds here as on projects: nobody gives an organization role above
their own, nor changes, deactivates or resets the password of a user whose role is above
theirs (a role is above yours when it allows an action you may not do).
"""

from __future__ import annotations

from typing import Any

from flask import request

from polyaxon_core import accounts
from polyaxon_core.api.admin.schemas import (
    AuditEventSchema,
    AuditListSchema,
    AuditQuery,
    OrganizationMemberListSchema,
    OrganizationMemberSchema,
    PasswordChangedSchema,
    PasswordChangeSchema,
    TokenInfoSchema,
    TokenListSchema,
    TokenQuery,
    UserCreateSchema,
    UserUpdateSchema,
)
from polyaxon_core.api.audit import audit_request
from polyaxon_core.api.common import Answer, PageQuery, check_owner, dump, load_body, load_query, page
from polyaxon_core.api.errors import ParameterError, PermissionDenied
from polyaxon_core.api.extensions import server
from polyaxon_core.api.routing import AUTHENTICATED, Reply, Route
from polyaxon_core.api.security import (
    current_user,
    is_allowed,
    organization_resource,
    require,
    token_from_header,
)
from polyaxon_core.domain import audit, users
from polyaxon_core.errors import Conflict
from polyaxon_core.permissions import ORG_MEMBERS, ORGANIZATION_ROLES, USERS_MANAGE


def _require_role_at_or_below_yours(owner: str, role: str | None, what: str) -> None:
    """PermissionDenied unless you may do everything organization role ``role`` allows."""
    if role is None:
        return
    user = current_user()
    resource = organization_resource(owner)
    missing = [action for action in sorted(ORGANIZATION_ROLES[role])
               if not is_allowed(user, action, resource)]
    if missing:
        raise PermissionDenied(f"{user.username} may not {what}: the role {role!r} allows "
                               f"{', '.join(missing)}, which you may not do")


def _member_payload(member: users.Member) -> dict[str, Any]:
    payload = dump(OrganizationMemberSchema, member)
    return payload


def org_members_list(owner: str) -> Answer:
    """List the organization's users with their roles (outsiders too, with a null role)."""
    check_owner(owner)
    arguments = load_query(PageQuery)
    offset, limit = arguments["offset"], arguments["limit"]
    with server.session() as session:
        members = users.list_members(session, owner)
    results = [_member_payload(member) for member in members[offset:offset + limit]]
    return page(results, len(members), offset, limit), 200


def org_user_get(owner: str, username: str) -> Answer:
    """Read a user: e-mail, organization role, active or not."""
    check_owner(owner)
    with server.session() as session:
        return _member_payload(users.member(session, username, owner)), 200


def org_user_create(owner: str) -> Answer:
    """Create a user with a password (the password rules apply) and an organization role."""
    check_owner(owner)
    body = load_body(UserCreateSchema)
    _require_role_at_or_below_yours(owner, body["role"], f"give the role {body['role']!r}")
    with server.session() as session:
        user = accounts.create_user(session, body["username"], body["password"],
                                    email=body["email"], organization_role=body["role"],
                                    owner=owner)
        audit_request(session, "user.created", f"user:{user.username}", role=body["role"])
        return _member_payload(users.member(session, user.username, owner)), 201


def org_user_update(owner: str, username: str) -> Answer:
    """Change a user's organization role, e-mail, password, or deactivate / reactivate them.

    A role change needs the right to manage the organization's members; anything else the
    right to manage users. Deactivating revokes the user's tokens; you cannot deactivate
    yourself, nor the last active owner (409).
    """
    check_owner(owner)
    body = load_body(UserUpdateSchema)
    actor = current_user()
    resource = organization_resource(owner)
    if set(body) - {"role"}:
        require(USERS_MANAGE, resource)
    with server.session() as session:
        user = accounts.get_user(session, username)
        before = accounts.organization_role(session, user, owner)
        _require_role_at_or_below_yours(owner, before, f"change the user {username}")
        if "role" in body and body["role"] != before:
            _require_role_at_or_below_yours(owner, body["role"], f"give the role {body['role']!r}")
            accounts.set_organization_role(session, user, body["role"], owner)
            audit_request(session, "organization.role_changed", f"user:{username}",
                          role_before=before, role_after=body["role"])
        if "is_active" in body and body["is_active"] != user.is_active:
            if not body["is_active"] and user.username == actor.username:
                raise Conflict("you cannot deactivate yourself: ask another administrator")
            users.set_active(session, user, body["is_active"], owner)
            event = "user.reactivated" if body["is_active"] else "user.deactivated"
            audit_request(session, event, f"user:{username}")
        if "email" in body and body["email"] != user.email:
            audit_request(session, "user.updated", f"user:{username}",
                          email_before=user.email, email_after=body["email"])
            user.email = body["email"]
        if "password" in body:
            revoked = users.set_password(session, user, body["password"])
            audit_request(session, "user.password_changed", f"user:{username}",
                          revoked_tokens=revoked)
        session.flush()
        return _member_payload(users.member(session, username, owner)), 200


def org_tokens_list(owner: str) -> Answer:
    """List tokens (active ones, or all with `all=true`), newest first: never their keys."""
    check_owner(owner)
    arguments = load_query(TokenQuery)
    offset, limit = arguments["offset"], arguments["limit"]
    with server.session() as session:
        tokens, count = users.list_tokens(session, arguments.get("user"),
                                          include_inactive=arguments["all"], offset=offset,
                                          limit=limit)
        results = [dump(TokenInfoSchema, {**token.__dict__, "state": token.state})
                   for token in tokens]
    return page(results, count, offset, limit), 200


def org_token_revoke(owner: str, token_id: int) -> Answer:
    """Revoke any token (409 when it was revoked already)."""
    check_owner(owner)
    with server.session() as session:
        token = users.revoke_token_id(session, token_id)
        audit_request(session, "token.revoked", f"token:{token.id}", user=token.user.username,
                      name=token.name, prefix=token.prefix)
    return "", 204


def org_audit_list(owner: str) -> Answer:
    """The audit log, newest first: logins, tokens, users, roles, memberships, deletions."""
    check_owner(owner)
    arguments = load_query(AuditQuery)
    offset, limit = arguments["offset"], arguments["limit"]
    names = [name for name in (arguments.get("event") or "").split(",") if name]
    with server.session() as session:
        rows, count = audit.list_events(session, owner, events=names,
                                        actor=arguments.get("actor"),
                                        target=arguments.get("target"),
                                        since=arguments.get("since"), offset=offset, limit=limit)
        results = [dump(AuditEventSchema, row) for row in rows]
    return page(results, count, offset, limit), 200


def user_password_change() -> Answer:
    """Change your own password (the password rules apply; 422 when they refuse it, or
    when the current password is not right).

    Your other tokens are revoked; the one this request was sent with keeps working.
    """
    body = load_body(PasswordChangeSchema)
    user = current_user()
    if not isinstance(user, accounts.AuthenticatedUser) or user.id is None:
        raise ParameterError("user", "only a user of this server has a password to change")
    key = token_from_header(request.headers.get("Authorization"))
    with server.session() as session:
        row = accounts.get_user(session, user.username)
        if accounts.check_password(session, row.username, body["current_password"]) is None:
            raise accounts.PasswordRejected("the current password is not right: send it as "
                                            "`current_password`")
        current = accounts.token_for_key(session, key) if key else None
        revoked = users.set_password(session, row, body["new_password"],
                                     keep_token_id=current.id if current else None)
        audit_request(session, "user.password_changed", f"user:{row.username}",
                      revoked_tokens=revoked)
    payload = dump(PasswordChangedSchema, {"revoked_tokens": revoked})
    return payload, 200


_MEMBER = Reply("the user", OrganizationMemberSchema)

ROUTES = [
    Route("GET", "/orgs/<owner>/members", org_members_list, ORG_MEMBERS, "organization",
          {200: Reply("a page of the organization's users", OrganizationMemberListSchema)}, query=PageQuery),
    Route("POST", "/orgs/<owner>/users", org_user_create, USERS_MANAGE, "organization",
          {201: Reply("the new user", OrganizationMemberSchema)}, body=UserCreateSchema,
          errors=(409, 422)),
    Route("GET", "/orgs/<owner>/users/<username>", org_user_get, ORG_MEMBERS, "organization",
          {200: _MEMBER}),
    Route("PATCH", "/orgs/<owner>/users/<username>", org_user_update, ORG_MEMBERS,
          "organization", {200: _MEMBER}, body=UserUpdateSchema, errors=(409, 422)),
    Route("GET", "/orgs/<owner>/tokens", org_tokens_list, USERS_MANAGE, "organization",
          {200: Reply("a page of tokens", TokenListSchema)}, query=TokenQuery),
    Route("DELETE", "/orgs/<owner>/tokens/<int:token_id>", org_token_revoke, USERS_MANAGE,
          "organization", {204: Reply("revoked")}, errors=(409,)),
    Route("GET", "/orgs/<owner>/audit", org_audit_list, USERS_MANAGE, "organization",
          {200: Reply("a page of the audit log", AuditListSchema)}, query=AuditQuery),
    Route("POST", "/users/password", user_password_change, AUTHENTICATED, "users",
          {200: Reply("changed", PasswordChangedSchema)}, body=PasswordChangeSchema,
          errors=(422,)),
]
