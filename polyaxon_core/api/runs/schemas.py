"""Runs in Polyaxon v1's JSON names (``V1Run``), and what the run endpoints take and return."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from marshmallow import Schema, ValidationError, fields, validate

from polyaxon_core.api.common import InputSchema, PageQuery, PageSchema
from polyaxon_core.api.queues.schemas import QUEUE_NAME
from polyaxon_core.lifecycle import Status

STATUSES = [status.value for status in Status]


class OperationContent(fields.Field):
    """A polyaxonfile: YAML or JSON text, or the operation as an object."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> str | dict[str, Any]:
        if isinstance(value, str | dict):
            return value
        raise ValidationError("give the polyaxonfile as YAML or JSON text, or as an object")


def content_to_openapi(converter: Any, field: fields.Field, **kwargs: Any) -> dict[str, Any]:
    """apispec attribute function: document OperationContent as text or object."""
    if isinstance(field, OperationContent):
        return {"oneOf": [{"type": "string", "format": "polyaxonfile"}, {"type": "object"}]}
    return {}


class RunReferenceSchema(Schema):
    uuid = fields.String(required=True)
    name = fields.String(allow_none=True)
    kind = fields.String(required=True, metadata={
        "description": "a pipeline's kind (matrix), or how a clone was made (restart, copy)"})


class CatalogEntrySchema(Schema):
    name = fields.String(required=True)


class RunSettingsSchema(Schema):
    namespace = fields.String(required=True, metadata={
        "description": "where the run executes; the official client reads logs through it"})
    queue = fields.Nested(CatalogEntrySchema, allow_none=True)


class RunSchema(Schema):
    uuid = fields.String(required=True)
    name = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    tags = fields.List(fields.String(), required=True)
    owner = fields.String(required=True)
    project = fields.String(required=True)
    user = fields.String(allow_none=True, metadata={"description": "who created the run"})
    kind = fields.String(required=True, metadata={"description": "job, service or matrix"})
    managed_by = fields.String(required=True, metadata={
        "description": "agent (the server runs it) or user (tracked from a user's process)"})
    runtime = fields.String(allow_none=True, metadata={"description": "the component's run kind"})
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    queue = fields.String(allow_none=True)
    inputs = fields.Dict(keys=fields.String(), required=True)
    outputs = fields.Dict(keys=fields.String(), required=True)
    meta_info = fields.Dict(keys=fields.String(), required=True)
    metrics = fields.Dict(keys=fields.String(), values=fields.Float(), required=True,
                          metadata={"description": "the last value logged of each metric"})
    pipeline = fields.Nested(RunReferenceSchema, allow_none=True,
                             metadata={"description": "the sweep this run is a trial of"})
    original = fields.Nested(RunReferenceSchema, allow_none=True,
                             metadata={"description": "the run this one was cloned from"})
    cloning_kind = fields.String(allow_none=True)
    retries = fields.Integer(required=True)
    live_state = fields.Integer(required=True, metadata={"description": "1 live, 0 archived"})
    archived_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    wait_time = fields.Float(allow_none=True, metadata={"description": "seconds from creation to start"})
    duration = fields.Float(allow_none=True, metadata={"description": "seconds from start to end"})
    settings = fields.Nested(RunSettingsSchema, required=True)
    pending = fields.String(allow_none=True, metadata={
        "description": "what a scheduled run waits for: build while its image is being built"})
    content = fields.String(allow_none=True, metadata={
        "description": "the compiled operation (JSON); only in answers about one run"})
    raw_content = fields.String(allow_none=True, metadata={
        "description": "the polyaxonfile as submitted; only in answers about one run"})


class RunListSchema(PageSchema):
    results = fields.List(fields.Nested(RunSchema), required=True)


class RunListQuery(PageQuery):
    query = fields.String(load_default=None, metadata={
        "format": "polyaxon-query", "maxLength": 4096,
        "description": 'filter in the query language (docs/query-language.md), e.g. '
                       '"status:succeeded, metrics.loss:<0.1"'})
    sort = fields.String(load_default=None, metadata={
        "format": "polyaxon-sort",
        "description": 'order, e.g. "-metrics.accuracy,created_at" (default: newest first)'})
    archived = fields.Boolean(load_default=False, metadata={
        "description": "list the archived runs instead of the live ones"})


class RunCreateSchema(InputSchema):
    #: the two kinds of run, as the document says it (JSON Schema alone cannot say which
    #: fields go together): a polyaxonfile the server runs, or a run tracked from a user's
    #: process, with no content and no queue, that may keep an offline run's uuid
    OPENAPI_EXTRA: ClassVar[dict[str, Any]] = {"anyOf": [
        {"title": "run by the server", "required": ["content"],
         "not": {"anyOf": [{"required": ["uuid"]}, {"required": ["created_at"]}]},
         "properties": {"managed_by": {"enum": ["agent", None]},
                        "is_managed": {"enum": [True, None]}}},
        {"title": "tracked from a user's process", "not": {"required": ["content"]},
         "properties": {"queue": {"enum": [None]}},
         "anyOf": [{"required": ["managed_by"], "properties": {"managed_by": {"enum": ["user"]}}},
                   {"required": ["is_managed"], "properties": {"is_managed": {"enum": [False]}}}]},
    ]}

    content = OperationContent(load_default=None, allow_none=False, metadata={
        "description": "the polyaxonfile: an operation or a component, as YAML/JSON text or "
                       "an object (required unless the run is managed by the user)"})
    name = fields.String(allow_none=True, load_default=None)
    description = fields.String(allow_none=True, load_default=None)
    tags = fields.List(fields.String(), allow_none=True, load_default=None,
                       metadata={"description": "added to the polyaxonfile's tags"})
    queue = fields.String(allow_none=True, load_default=None, validate=QUEUE_NAME,
                          metadata={"description": "overrides the polyaxonfile's queue"})
    meta_info = fields.Dict(keys=fields.String(), allow_none=True, load_default=None)
    managed_by = fields.String(
        allow_none=True, load_default=None,
        validate=validate.OneOf(["agent", "user"], error="managed_by is `agent` (the server "
                                                         "runs the operation) or `user` (a "
                                                         "process of yours tracks the run)"),
        metadata={"description": "`agent` (default): the server runs the operation; `user`: "
                                 "the run is tracked from a process of the user's, which "
                                 "reports its status (`POST .../statuses`); no content needed"})
    uuid = fields.String(load_default=None, allow_none=False, validate=validate.Regexp(
        "^[0-9a-f]{32}$", error="a run's uuid is 32 lowercase hexadecimal digits"), metadata={
        "description": "only with managed_by `user`: the uuid an offline run was given "
                       "(409 if a run has it)"})
    created_at = fields.AwareDateTime(load_default=None, allow_none=False, metadata={
        "description": "only with managed_by `user`: when an offline run was created and "
                       "started (default: now; not in the future)"})
    is_managed = fields.Boolean(allow_none=True, load_default=None, metadata={
        "description": "false: the same as managed_by `user` (older clients' name)"})
    pending = fields.String(
        allow_none=True, load_default=None,
        validate=validate.OneOf([""], error="runs waiting for an approval or an upload are "
                                            "not supported"),
        metadata={"description": "must be empty: runs waiting for an approval or an upload "
                                 "are not supported"})


class ReportedConditionSchema(InputSchema):
    type = fields.String(required=True, metadata={
        "description": "running, warning, succeeded, failed or stopped"})
    status = fields.Raw(load_default=True, metadata={"description": "ignored: always true"})
    reason = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=256))
    message = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=10_000))
    last_transition_time = fields.AwareDateTime(load_default=None, allow_none=True, metadata={
        "description": "when it happened (an offline run stored later; default: now): not "
                       "in the future, nor before the run's last status"})


class StatusBodySchema(InputSchema):
    condition = fields.Nested(ReportedConditionSchema, required=True)


class RunUpdateSchema(InputSchema):
    name = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    tags = fields.List(fields.String(), allow_none=True)
    inputs = fields.Dict(keys=fields.String(), allow_none=True)
    outputs = fields.Dict(keys=fields.String(), allow_none=True)
    meta_info = fields.Dict(keys=fields.String(), allow_none=True)
    meta = fields.Dict(keys=fields.String(), allow_none=True, metadata={
        "description": "what the run's code records about itself (`log_meta`, progress): "
                       "merged into `meta_info.meta`; a run's own token may change it"})
    merge = fields.Boolean(load_default=False, metadata={
        "description": "add `tags` to the run's tags instead of replacing them"})


class RunCloneSchema(InputSchema):
    name = fields.String(allow_none=True, load_default=None)
    description = fields.String(allow_none=True, load_default=None)
    tags = fields.List(fields.String(), allow_none=True, load_default=None)
    content = fields.Raw(allow_none=True, load_default=None, metadata={
        "description": "must be empty: the run keeps its own content"})
    from_failed = fields.Boolean(load_default=False, metadata={
        "description": "restart a finished DAG with only the operations that did not "
                       "succeed (the new DAG reads the succeeded ones from this one)"})


class StatusConditionSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(STATUSES))
    status = fields.String(required=True)
    reason = fields.String(allow_none=True)
    message = fields.String(allow_none=True)
    last_update_time = fields.DateTime(required=True)
    last_transition_time = fields.DateTime(required=True)


class NotificationDeliverySchema(Schema):
    source = fields.String(required=True, metadata={"description": "hooks[N] or plugins.notifications[N]"})
    connection = fields.String(required=True)
    notifier = fields.String(allow_none=True, metadata={"description": "null: the connection's kind"})
    trigger = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["pending", "succeeded", "failed"]))
    attempts = fields.Integer(required=True)
    last_error = fields.String(allow_none=True)
    run_attempt = fields.Integer(required=True)
    created_at = fields.String(required=True)
    delivered_at = fields.String(allow_none=True)


class NotificationsSchema(Schema):
    results = fields.List(fields.Nested(NotificationDeliverySchema), required=True)


class StatusesSchema(Schema):
    uuid = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    status_conditions = fields.List(fields.Nested(StatusConditionSchema), required=True)
