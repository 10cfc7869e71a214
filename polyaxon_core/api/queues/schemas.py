"""What the queue endpoints take and return."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from polyaxon_core.api.common import InputSchema, PageSchema
from polyaxon_core.domain.queues import QUEUE_PATTERN

QUEUE_NAME = validate.Regexp(
    QUEUE_PATTERN, error="queue name {input!r} is not valid: use lowercase letters, digits, '-', "
                         "'_' or '.', starting with a letter or digit, optionally after an agent's "
                         "name and '/' (`agent-1/gpu`)")
#: what the databases' 32-bit integer columns hold
PRIORITY = validate.Range(min=-(2**31), max=2**31 - 1,
                          error="must be a 32-bit integer (between {min} and {max})")
CONCURRENCY = validate.Range(min=1, max=2**31 - 1, error="must be at least 1 (and at most {max})")


class WaitingRunSchema(Schema):
    uuid = fields.String(required=True)
    name = fields.String(allow_none=True)
    owner = fields.String(required=True)
    project = fields.String(required=True)
    created_at = fields.DateTime(required=True)


class QueueSchema(Schema):
    name = fields.String(required=True)
    priority = fields.Integer(required=True, metadata={
        "description": "higher starts first when the machine is full"})
    concurrency = fields.Integer(required=True, metadata={
        "description": "at most this many of the queue's runs at once"})
    created_at = fields.DateTime(required=True)
    running = fields.Integer(required=True, metadata={"description": "its runs under way now"})
    waiting = fields.Integer(required=True, metadata={"description": "its runs waiting to start"})
    next = fields.List(fields.Nested(WaitingRunSchema), required=True, metadata={
        "description": "the first waiting runs, in the order they will start"})


class QueueListSchema(PageSchema):
    results = fields.List(fields.Nested(QueueSchema), required=True)


class QueueCreateSchema(InputSchema):
    name = fields.String(required=True, validate=QUEUE_NAME)
    priority = fields.Integer(load_default=0, validate=PRIORITY)
    concurrency = fields.Integer(load_default=None, validate=CONCURRENCY, metadata={
        "description": "default: the server's POLYAXON_DEFAULT_CONCURRENCY"})


class QueueUpdateSchema(InputSchema):
    priority = fields.Integer(validate=PRIORITY)
    concurrency = fields.Integer(validate=CONCURRENCY)
