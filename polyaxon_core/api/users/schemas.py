"""What the user endpoints take and return."""

from __future__ import annotations

from marshmallow import Schema, fields

from polyaxon_core.api.common import InputSchema


class CredentialsSchema(InputSchema):
    username = fields.String(required=True)
    password = fields.String(required=True, load_only=True)


class TokenSchema(Schema):
    token = fields.String(required=True, metadata={
        "description": "send it as `Authorization: Token <token>`; shown only this once"})
    expires_at = fields.DateTime(allow_none=True)


class UserSchema(Schema):
    username = fields.String(required=True)
    email = fields.String(allow_none=True)
    organization = fields.String(required=True)
    role = fields.String(allow_none=True, metadata={
        "description": "role in the organization (null: an outsider)"})
    project_roles = fields.Dict(keys=fields.String(), values=fields.String(), required=True,
                                metadata={"description": "`owner/project` -> role there"})
