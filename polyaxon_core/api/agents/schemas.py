"""What the agent endpoints take and return."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from polyaxon_core.api.common import InputSchema, PageSchema
from polyaxon_core.lifecycle import Status

AGENT_NAME = validate.Regexp(
    r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
    error="{input!r} is not valid: use lowercase letters, digits and '-', starting and ending "
          "with a letter or digit (at most 63 characters)")


class AgentSchema(Schema):
    name = fields.String(required=True)
    namespace = fields.String(required=True)
    description = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    last_seen_at = fields.DateTime(allow_none=True, metadata={
        "description": "when it last claimed runs or reported"})
    running = fields.Integer(required=True, metadata={"description": "its runs under way"})
    waiting = fields.Integer(required=True, metadata={"description": "runs queued in its queues"})


class AgentCreatedSchema(AgentSchema):
    token = fields.String(allow_none=True, metadata={
        "description": "the agent's token, shown once: it acts as this agent only (null on a "
                       "server without authentication)"})


class AgentListSchema(PageSchema):
    results = fields.List(fields.Nested(AgentSchema), required=True)


class AgentCreateSchema(InputSchema):
    name = fields.String(required=True, validate=AGENT_NAME, metadata={
        "description": "runs whose queue is `<name>/<queue>` are this agent's"})
    namespace = fields.String(required=True, validate=AGENT_NAME, metadata={
        "description": "the Kubernetes namespace it starts runs in"})
    description = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class ClaimSchema(InputSchema):
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=100), metadata={
        "description": "at most this many new runs"})
    scheduler = fields.String(load_default="kubernetes", validate=validate.Length(min=1, max=64),
                              metadata={"description": "the scheduler the agent starts them with"})


class ClaimedSchema(Schema):
    results = fields.List(fields.Dict(keys=fields.String()), required=True, metadata={
        "description": "launch requests, as the orchestrator builds them (the run's own token "
                       "in `env`; connections without secret values)"})


class AgentRunSchema(Schema):
    run = fields.Dict(keys=fields.String(), required=True)
    handle = fields.Dict(keys=fields.String(), required=True)
    stop_requested_at = fields.Float(allow_none=True, metadata={"description": "a Unix time"})


class AgentRunListSchema(Schema):
    results = fields.List(fields.Nested(AgentRunSchema), required=True)


class ReportSchema(InputSchema):
    handle = fields.Dict(keys=fields.String(), load_default=None, allow_none=True, metadata={
        "description": "the run was started: how the agent's scheduler finds it again"})
    status = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(
        [Status.STARTING.value, Status.RUNNING.value, Status.SUCCEEDED.value, Status.FAILED.value,
         Status.STOPPED.value, Status.STOPPING.value, Status.WARNING.value,
         Status.UNSCHEDULABLE.value]))
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=256))
    message = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=65536))
    exit_code = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(
        min=-(2**31), max=2**31 - 1))
    retries_itself = fields.Boolean(load_default=True, metadata={
        "description": "whether the agent's scheduler retries failed attempts itself"})


class ReportedSchema(Schema):
    uuid = fields.String(required=True)
    status = fields.String(required=True)
    final = fields.Boolean(required=True, metadata={"description": "clean up what it created"})
    accepted = fields.Boolean(required=True, metadata={
        "description": "false: the run was stopped before it started; undo the start"})
