"""Projects in Polyaxon v1's JSON names (``V1Project``), and project members."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from polyaxon_core.api.common import InputSchema, PageSchema, slug_rule
from polyaxon_core.api.queues.schemas import QUEUE_NAME
from polyaxon_core.permissions import PROJECT_ROLES


class ProjectNotificationSchema(Schema):
    connection = fields.String(required=True, validate=validate.Length(min=1, max=150),
                               metadata={"description": "a notifier connection of the catalog"})
    trigger = fields.String(load_default="done", validate=validate.OneOf(
        ["succeeded", "failed", "stopped", "skipped", "upstream_failed", "done"]))


class ProjectSettingsSchema(Schema):
    queue = fields.String(allow_none=True, metadata={
        "description": "the queue of its runs whose polyaxonfile names none (null: default)"})
    notifications = fields.List(fields.Nested(ProjectNotificationSchema), required=True, metadata={
        "description": "what every run of the project notifies when it ends"})


class ProjectSettingsUpdateSchema(InputSchema):
    queue = fields.String(allow_none=True, validate=QUEUE_NAME, metadata={
        "description": "a queue name, or null for the organization's `default`"})
    notifications = fields.List(fields.Nested(ProjectNotificationSchema), validate=validate.Length(max=20),
                                metadata={"description": "replaces the project's notifications"})


class ProjectSchema(Schema):
    uuid = fields.String(required=True)
    owner = fields.String(required=True)
    name = fields.String(required=True)
    description = fields.String(allow_none=True)
    tags = fields.List(fields.String(), required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    role = fields.String(allow_none=True,
                         metadata={"description": "your role on this project, if you were added to it"})
    settings = fields.Nested(ProjectSettingsSchema, required=True)


class ProjectListSchema(PageSchema):
    results = fields.List(fields.Nested(ProjectSchema), required=True)


PROJECT_NAME = slug_rule("project")


class ProjectCreateSchema(InputSchema):
    name = fields.String(required=True, validate=PROJECT_NAME,
                         metadata={"description": "lowercase letters, digits, - _ ."})
    description = fields.String(allow_none=True, load_default=None)
    tags = fields.List(fields.String(), allow_none=True, load_default=None)


class ProjectUpdateSchema(InputSchema):
    name = fields.String(validate=PROJECT_NAME,
                         metadata={"description": "a new name (runs and artifacts follow)"})
    description = fields.String(allow_none=True)
    tags = fields.List(fields.String(), allow_none=True, metadata={"description": "replaces the tags"})
    settings = fields.Nested(ProjectSettingsUpdateSchema)


class MemberSchema(Schema):
    user = fields.String(required=True, metadata={"description": "the username"})
    role = fields.String(required=True)
    created_at = fields.DateTime(required=True)


class MemberListSchema(PageSchema):
    results = fields.List(fields.Nested(MemberSchema), required=True)


class MemberCreateSchema(InputSchema):
    user = fields.String(required=True, metadata={"description": "the username to add"})
    role = fields.String(required=True, validate=validate.OneOf(list(PROJECT_ROLES)),
                         metadata={"description": "the role on this project"})
