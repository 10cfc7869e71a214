"""What the team endpoints take and return."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from polyaxon_core.api.admin.schemas import USERNAME
from polyaxon_core.api.common import InputSchema, PageSchema, slug_rule
from polyaxon_core.permissions import PROJECT_ROLES

TEAM_NAME = slug_rule("team")


class TeamSchema(Schema):
    name = fields.String(required=True)
    description = fields.String(allow_none=True)
    members = fields.List(fields.String(), required=True, metadata={"description": "usernames"})
    projects = fields.Dict(keys=fields.String(), values=fields.String(), required=True,
                           metadata={"description": "project name -> the team's role there"})
    created_at = fields.DateTime(required=True)


class TeamListSchema(PageSchema):
    results = fields.List(fields.Nested(TeamSchema), required=True)


class TeamCreateSchema(InputSchema):
    name = fields.String(required=True, validate=TEAM_NAME)
    description = fields.String(allow_none=True, load_default=None,
                                validate=validate.Length(max=10_000))


class TeamUpdateSchema(InputSchema):
    description = fields.String(allow_none=True, validate=validate.Length(max=10_000))


class TeamMemberSchema(InputSchema):
    user = fields.String(required=True, validate=USERNAME, metadata={"description": "the username"})


class ProjectTeamSchema(Schema):
    team = fields.String(required=True)
    role = fields.String(required=True)


class ProjectTeamListSchema(PageSchema):
    results = fields.List(fields.Nested(ProjectTeamSchema), required=True)


class ProjectTeamCreateSchema(InputSchema):
    team = fields.String(required=True, validate=TEAM_NAME)
    role = fields.String(required=True, validate=validate.OneOf(list(PROJECT_ROLES)),
                         metadata={"description": "the team's role on this project"})
