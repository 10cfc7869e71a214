"""What the quota endpoints take and return."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from polyaxon_core.api.common import InputSchema, PageSchema
from polyaxon_core.domain.quotas import NAME_PATTERN

QUOTA_NAME = validate.Regexp(
    NAME_PATTERN, error="quota name {input!r} is not valid: use lowercase letters, digits, '-', "
                        "'_' or '.', starting with a letter or digit")
RUNS = validate.Range(min=1, max=2**31 - 1, error="must be at least 1 (and at most {max})")
DEVICES = validate.Range(min=0, max=2**31 - 1, error="must be a whole number of devices")


class Quantity(fields.Field):
    """A number or a Kubernetes quantity string (``500m``, ``4Gi``); checked by the domain."""

    def _deserialize(self, value, attr, data, **kwargs):  # type: ignore[no-untyped-def]
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValidationError("must be a number or a quantity such as 500m or 4Gi")
        return value


class SubjectSchema(Schema):
    kind = fields.String(required=True, metadata={"description": "project, team or user"})
    name = fields.String(required=True, metadata={"description": "owner/project, team or username"})


class UsageSchema(Schema):
    runs = fields.Integer(required=True)
    cpu = fields.Float(required=True, metadata={"description": "cores"})
    memory = fields.Integer(required=True, metadata={"description": "bytes"})
    gpu = fields.Integer(required=True)


class QuotaSchema(Schema):
    name = fields.String(required=True)
    subject = fields.Nested(SubjectSchema, required=True)
    max_runs = fields.Integer(allow_none=True, required=True, metadata={
        "description": "at most this many of its runs at once (null: no cap)"})
    cpu = fields.Float(allow_none=True, required=True, metadata={"description": "cores requested"})
    memory = fields.Integer(allow_none=True, required=True, metadata={"description": "bytes requested"})
    gpu = fields.Integer(allow_none=True, required=True, metadata={"description": "devices"})
    used = fields.Nested(UsageSchema, required=True, metadata={"description": "what its runs hold now"})
    waiting = fields.Integer(required=True, metadata={"description": "queued runs it holds back"})
    created_at = fields.DateTime(required=True)


class QuotaListSchema(PageSchema):
    results = fields.List(fields.Nested(QuotaSchema), required=True)


class QuotaUpdateSchema(InputSchema):
    max_runs = fields.Integer(allow_none=True, validate=RUNS)
    cpu = Quantity(allow_none=True, metadata={"description": "cores: 4, 0.5 or 500m"})
    memory = Quantity(allow_none=True, metadata={"description": "bytes: 8Gi, 512Mi, 1e9"})
    gpu = fields.Integer(allow_none=True, validate=DEVICES)


class QuotaCreateSchema(QuotaUpdateSchema):
    name = fields.String(required=True, validate=QUOTA_NAME)
    project = fields.String(metadata={"description": "the project it caps (name or owner/name)"})
    team = fields.String(metadata={"description": "the team whose projects it caps"})
    user = fields.String(metadata={"description": "the user whose runs it caps"})
