"""What the administration endpoints take and return."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from polyaxon_core.api.common import InputSchema, PageQuery, PageSchema, Timestamp
from polyaxon_core.domain.audit import EVENTS
from polyaxon_core.permissions import ORGANIZATION_ROLES

_ROLE = validate.OneOf(list(ORGANIZATION_ROLES))


class OrganizationMemberSchema(Schema):
    username = fields.String(required=True)
    email = fields.String(allow_none=True)
    role = fields.String(allow_none=True, metadata={
        "description": "role in the organization (null: an outsider)"})
    is_active = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)


class OrganizationMemberListSchema(PageSchema):
    results = fields.List(fields.Nested(OrganizationMemberSchema), required=True)


#: the rule of polyaxon_core.accounts for usernames, as a pattern the document shows
USERNAME = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,149}$", error=(
    "username {input!r} is not valid: letters, digits and _ . @ + -, starting with a letter "
    "or a digit, at most 150"))
#: the audit events, as the pattern of a comma-separated list of them
EVENT_LIST = validate.Regexp(
    rf"^({'|'.join(name.replace('.', '[.]') for name in EVENTS)})"
    rf"(,({'|'.join(name.replace('.', '[.]') for name in EVENTS)}))*$",
    error="{input!r} is not a comma-separated list of audit events; known: " + ", ".join(EVENTS))


class UserCreateSchema(InputSchema):
    username = fields.String(required=True, validate=USERNAME)
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=4096))
    email = fields.Email(allow_none=True, load_default=None, validate=validate.Length(max=254))
    role = fields.String(allow_none=True, load_default="member", validate=_ROLE,
                         metadata={"description": "organization role (null: an outsider)"})


class UserUpdateSchema(InputSchema):
    role = fields.String(allow_none=True, validate=_ROLE, metadata={
        "description": "a new organization role (null removes them from the organization)"})
    is_active = fields.Boolean(metadata={
        "description": "false deactivates the user and revokes their tokens"})
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    password = fields.String(load_only=True, validate=validate.Length(max=4096), metadata={
        "description": "a new password (their tokens are revoked)"})


class PasswordChangeSchema(InputSchema):
    current_password = fields.String(required=True, load_only=True,
                                     validate=validate.Length(max=4096))
    new_password = fields.String(required=True, load_only=True, validate=validate.Length(max=4096))


class PasswordChangedSchema(Schema):
    revoked_tokens = fields.Integer(required=True, metadata={
        "description": "your other tokens, revoked (the one this request used is kept)"})


class TokenInfoSchema(Schema):
    id = fields.Integer(required=True)
    user = fields.String(required=True)
    name = fields.String(required=True)
    prefix = fields.String(required=True, metadata={"description": "the key's first characters"})
    run = fields.String(allow_none=True, metadata={"description": "the run it was issued to"})
    state = fields.String(required=True, metadata={"description": "active, expired or revoked"})
    created_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class TokenListSchema(PageSchema):
    results = fields.List(fields.Nested(TokenInfoSchema), required=True)


class TokenQuery(PageQuery):
    user = fields.String(validate=validate.Length(min=1, max=150),
                         metadata={"description": "this user's tokens only"})
    all = fields.Boolean(load_default=False, metadata={
        "description": "include revoked and expired tokens"})


class AuditEventSchema(Schema):
    id = fields.Integer(required=True)
    event = fields.String(required=True)
    actor = fields.String(allow_none=True, metadata={
        "description": "who did it (null: anonymous, or the local administrator)"})
    address = fields.String(allow_none=True, metadata={"description": "the client's address"})
    target = fields.String(allow_none=True)
    detail = fields.Dict(required=True)
    created_at = fields.DateTime(required=True)


class AuditListSchema(PageSchema):
    results = fields.List(fields.Nested(AuditEventSchema), required=True)


class AuditQuery(PageQuery):
    event = fields.String(validate=EVENT_LIST, metadata={
        "description": f"comma-separated event names: {', '.join(EVENTS)}"})
    actor = fields.String(validate=validate.Length(min=1, max=150))
    target = fields.String(validate=validate.Length(min=1, max=320))
    since = Timestamp(metadata={"description": "events at or after this time"})
