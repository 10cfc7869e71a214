"""What the registry's endpoints take and return."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from polyaxon_core.api.common import InputSchema, PageSchema
from polyaxon_core.domain.versions import STAGES

NAME = validate.Length(min=1, max=150)
TAGS = fields.List(fields.String(validate=validate.Length(min=1, max=128)),
                   validate=validate.Length(max=50))


class StageConditionSchema(Schema):
    stage = fields.String(required=True)
    reason = fields.String(allow_none=True, required=True)
    message = fields.String(allow_none=True, required=True)
    user = fields.String(allow_none=True, required=True, metadata={"description": "who moved it"})
    last_transition_time = fields.DateTime(required=True)


class VersionSchema(Schema):
    uuid = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": "component, model or artifact"})
    name = fields.String(required=True)
    description = fields.String(allow_none=True, required=True)
    tags = fields.List(fields.String(), required=True)
    run = fields.String(allow_none=True, required=True,
                        metadata={"description": "the uuid of the run it points at"})
    artifacts = fields.List(fields.String(), required=True, metadata={
        "description": "the entries of the run's lineage it stands for"})
    content = fields.String(allow_none=True, required=True,
                            metadata={"description": "a component's polyaxonfile"})
    stage = fields.String(required=True, metadata={"description": ", ".join(STAGES)})
    stage_conditions = fields.List(fields.Nested(StageConditionSchema), required=True)
    user = fields.String(allow_none=True, required=True, metadata={"description": "who made it"})
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class VersionListSchema(PageSchema):
    results = fields.List(fields.Nested(VersionSchema), required=True)


class PromoteSchema(InputSchema):
    kind = fields.String(load_default="model", validate=validate.OneOf(["model", "artifact"]))
    name = fields.String(required=True, validate=NAME)
    description = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=10_000))
    tags = TAGS
    artifacts = fields.List(fields.String(validate=validate.Length(min=1, max=256)), load_default=None,
                            allow_none=True, metadata={
                                "description": "lineage entries of the run (default: its models)"})
    force = fields.Boolean(load_default=False, metadata={
        "description": "point an existing version at this run"})


class VersionCreateSchema(PromoteSchema):
    kind = fields.String(dump_default=None, load_default=None)
    run = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=4, max=32),
                        metadata={"description": "the run a model or artifact version points at"})
    content = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1024 * 1024),
                            metadata={"description": "a component version's polyaxonfile"})


class VersionUpdateSchema(InputSchema):
    description = fields.String(allow_none=True, validate=validate.Length(max=10_000))
    tags = TAGS


class StageSchema(InputSchema):
    stage = fields.String(required=True, validate=validate.OneOf(STAGES))
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=256))
    message = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=10_000))


class HubComponentSchema(Schema):
    owner = fields.String(required=True)
    name = fields.String(required=True, metadata={"description": "the project holding its versions"})
    versions = fields.List(fields.String(), required=True)
    description = fields.String(required=True)


class HubIndexSchema(Schema):
    components = fields.List(fields.Nested(HubComponentSchema), required=True)
