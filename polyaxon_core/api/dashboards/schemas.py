"""What the dashboard endpoints take and return."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from polyaxon_core.api.common import InputSchema, PageSchema
from polyaxon_core.domain.dashboards import MAX_COLUMNS, MAX_WIDGETS, WIDGET_KINDS

NAME = validate.Length(min=1, max=150)
#: a column or a widget's field: a run field, or inputs./outputs./metrics. and a name without
#: whitespace or commas (the separators Python's `\s` counts and JSON Schema's does not are
#: named, so the document's pattern accepts nothing this one refuses)
COLUMN = validate.Regexp(r"^(inputs|outputs|metrics)\.[^\s,\x1c-\x1f\x85]{1,256}$", error=(
    "column {input!r} is not valid: use inputs.NAME, outputs.NAME or metrics.NAME"))
METRIC_NAME = validate.Length(min=1, max=256)


class WidgetSchema(InputSchema):
    kind = fields.String(required=True, validate=validate.OneOf(WIDGET_KINDS), metadata={
        "description": "metric_over_steps, metric_vs_param or histogram"})
    metric = fields.String(required=True, validate=METRIC_NAME, metadata={
        "description": "the metric the widget charts"})
    param = fields.String(load_default=None, allow_none=True, validate=METRIC_NAME, metadata={
        "description": "metric_vs_param: the input on the x axis"})
    bins = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=2, max=200),
                          metadata={"description": "histogram: how many bins (default 20)"})


class ViewSchema(InputSchema):
    query = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=4096),
                          metadata={"description": "the runs shown, in the query language",
                                    "format": "polyaxon-query"})
    sort = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1024),
                         metadata={"description": "their order, in the query language's sort",
                                   "format": "polyaxon-sort"})
    columns = fields.List(fields.String(validate=COLUMN), load_default=list,
                          validate=validate.Length(max=MAX_COLUMNS))
    widgets = fields.List(fields.Nested(WidgetSchema), load_default=list,
                          validate=validate.Length(max=MAX_WIDGETS))


class ViewOutSchema(Schema):
    query = fields.String(allow_none=True, required=True)
    sort = fields.String(allow_none=True, required=True)
    columns = fields.List(fields.String(), required=True)
    widgets = fields.List(fields.Dict(), required=True)


class DashboardSchema(Schema):
    uuid = fields.String(required=True)
    name = fields.String(required=True)
    description = fields.String(allow_none=True)
    shared = fields.Boolean(required=True, metadata={
        "description": "shown to everyone who may read the project"})
    user = fields.String(allow_none=True, metadata={"description": "who saved it"})
    owner = fields.String(required=True)
    project = fields.String(required=True)
    spec = fields.Nested(ViewOutSchema, required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class DashboardListSchema(PageSchema):
    results = fields.List(fields.Nested(DashboardSchema), required=True)


class DashboardCreateSchema(InputSchema):
    name = fields.String(required=True, validate=NAME)
    description = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=10_000))
    shared = fields.Boolean(load_default=False)
    spec = fields.Nested(ViewSchema, load_default=dict)


class DashboardUpdateSchema(InputSchema):
    name = fields.String(validate=NAME)
    description = fields.String(allow_none=True, validate=validate.Length(max=10_000))
    shared = fields.Boolean()
    spec = fields.Nested(ViewSchema)
