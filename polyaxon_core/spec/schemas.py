"""Schemas of the polyaxonfile's top level: components, operations and their sections.

These check the *shape* of a file (field names, types, enums, ranges, the value of
each input against its type). Checks that need several sections at once (params against
inputs, matrix against inputs, DAG references, templates) live in the compiler.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError, validates_schema

from polyaxon_core.spec.errors import Issue, describe_value
from polyaxon_core.spec.fields import (
    Anything,
    Boolean,
    Choice,
    Integer,
    ListOf,
    Number,
    Section,
    SpecSchema,
    Text,
    camel_case,
)
from polyaxon_core.spec.matrix import Matrix
from polyaxon_core.spec.params import Params
from polyaxon_core.spec.patching import PATCH_STRATEGIES
from polyaxon_core.spec.run import KubeObject, Run
from polyaxon_core.spec.schedule import Schedule
from polyaxon_core.spec.types import IO_TYPES, TypeMismatch, check_rules, convert_value, describe_type

NAME_PATTERN = r"^[-a-zA-Z0-9_]+\Z"
NAME_HELP = "letters, digits, `-` and `_`"
IO_NAME_PATTERN = r"^[A-Za-z0-9_][-A-Za-z0-9_]*\Z"
RESERVED_IO_NAMES = ("globals", "params", "connections")
HOOK_TRIGGERS = ("succeeded", "failed", "stopped", "skipped", "upstream_failed", "done")
TRIGGER_POLICIES = (
    "all_succeeded",
    "all_failed",
    "all_done",
    "one_succeeded",
    "one_failed",
    "one_done",
)
EVENT_KINDS = (
    *(
        f"run_status_{status}"
        for status in (
            "created",
            "resuming",
            "compiled",
            "on_schedule",
            "queued",
            "scheduled",
            "starting",
            "running",
            "processing",
            "stopping",
            "failed",
            "stopped",
            "succeeded",
            "skipped",
            "warning",
            "unschedulable",
            "upstream_failed",
            "retrying",
            "unknown",
            "done",
        )
    ),
    "run_approved_actor",
    "run_invalidated_actor",
    "run_new_artifacts",
    "connection_git_commit",
    "connection_dataset_version",
    "connection_registry_image",
)


def Names(**kwargs: Any) -> ListOf:  # noqa: N802 - a field, like the others
    """A list of names; a single name is accepted for a list of one."""
    return ListOf(Text(), single_allowed=True, **kwargs)


# -- inputs and outputs ----------------------------------------------------------------


class Regex(Text):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            re.compile(text)
        except re.error as exc:
            raise self.fail(value, f"`{value}` is not a regular expression: {exc}") from None
        return text


class ValidationRulesSchema(SpecSchema):
    delay = Boolean()
    gt = Number()
    ge = Number()
    lt = Number()
    le = Number()
    multiple_of = Number(minimum=0, exclusive_minimum=True)
    min_digits = Integer(minimum=0)
    max_digits = Integer(minimum=0)
    decimal_places = Integer(minimum=0)
    regex = Regex()
    min_length = Integer(minimum=0)
    max_length = Integer(minimum=0)
    contains = Anything()
    excludes = Anything()
    options = ListOf(Anything())
    min_items = Integer(minimum=0)
    max_items = Integer(minimum=0)
    keys = ListOf(Text())
    contains_keys = ListOf(Text())
    excludes_keys = ListOf(Text())


class IOSchema(SpecSchema):
    name = Text(required=True, pattern=IO_NAME_PATTERN, pattern_help=NAME_HELP)
    description = Text()
    type = Choice(IO_TYPES, what="type")
    value = Anything()
    is_optional = Boolean()
    is_list = Boolean()
    is_flag = Boolean()
    arg_format = Text()
    connection = Text()
    to_init = Boolean()
    to_env = Text()
    validation = Section(ValidationRulesSchema)
    delay_validation = Boolean()
    options = ListOf(Anything())

    field_hints = {"default": "the default of an input is written `value` (with isOptional: true)"}

    @validates_schema
    def _value_fits(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        errors: dict[str, list[Issue]] = {}
        name, type_name, value = data.get("name"), data.get("type"), data.get("value")
        if name in RESERVED_IO_NAMES:
            errors["name"] = [
                Issue(
                    f"`{name}` is reserved by the templating context",
                    f"any other name; reserved: {', '.join(RESERVED_IO_NAMES)}",
                )
            ]
        if data.get("is_flag") and type_name != "bool":
            errors["isFlag"] = [Issue(f"isFlag needs a bool input, this one is `{type_name}`", "type: bool")]
        if value is not None and data.get("is_optional") is False:
            errors["value"] = [
                Issue("has a default value but isOptional is false", "isOptional: true, or no value")
            ]
        elif value is not None:
            issue = value_issue(data, value)
            if issue is not None:
                errors["value"] = [issue]
        if errors:
            raise ValidationError(errors)


def io_rules(io: Mapping[str, Any]) -> dict[str, Any]:
    """The validation rules of a loaded IO, ``options`` included."""
    rules = dict(io.get("validation") or {})
    if io.get("options") is not None:
        rules["options"] = io["options"]
    return rules


def value_issue(io: Mapping[str, Any], value: Any) -> Issue | None:
    """Why ``value`` cannot be given to the loaded IO ``io``, or None if it can."""
    type_name, is_list = io.get("type"), bool(io.get("is_list"))
    try:
        converted = convert_value(type_name, value, is_list=is_list)
    except TypeMismatch as exc:
        return Issue(
            f"{describe_value(value)} is not a valid `{type_name}`{' list' if is_list else ''}: {exc}",
            describe_type(type_name, is_list),
        )
    rules = io_rules(io)
    broken = check_rules(rules, converted)
    if broken:
        options = rules.get("options")
        valid = (
            f"one of: {', '.join(map(str, options))}"
            if options
            else "a value passing: "
            + ", ".join(f"{camel_case(key)}={rule!r}" for key, rule in rules.items() if rule is not None)
        )
        return Issue(broken, valid)
    return None


# -- operation sections ----------------------------------------------------------------


class CullingSchema(SpecSchema):
    timeout = Integer(minimum=1, help_text="a number of seconds >= 1")


class HttpProbeSchema(SpecSchema):
    path = Text()
    port = Integer(minimum=1, maximum=65535)
    host = Text()
    scheme = Choice(["HTTP", "HTTPS"], what="scheme")
    http_headers = ListOf(KubeObject())


class ActivityProbeSchema(SpecSchema):
    exec_ = KubeObject(data_key="exec")
    http = Section(HttpProbeSchema)


class TerminationSchema(SpecSchema):
    max_retries = Integer(minimum=0)
    # Deliberately positive: the official client accepts a negative timeout.
    timeout = Integer(minimum=1, help_text="a number of seconds >= 1")
    ttl = Integer(minimum=0, help_text="a number of seconds >= 0")
    culling = Section(CullingSchema)
    probe = Section(ActivityProbeSchema)


class CacheSchema(SpecSchema):
    disable = Boolean()
    ttl = Integer(minimum=0)
    io = Names()
    sections = ListOf(Choice(["containers", "init", "connections"], what="cache section"))


class NotificationSchema(SpecSchema):
    connections = Names(required=True)
    trigger = Choice(HOOK_TRIGGERS, what="trigger")


class PluginsSchema(SpecSchema):
    auth = Boolean()
    docker = Boolean()
    shm = Boolean()
    mount_artifacts_store = Boolean()
    collect_artifacts = Boolean()
    collect_logs = Boolean()
    collect_resources = Boolean()
    sync_statuses = Boolean()
    auto_resume = Boolean()
    log_level = Text()
    external_host = Boolean()
    sidecar = KubeObject()
    notifications = ListOf(Section(NotificationSchema))


class HookSchema(SpecSchema):
    hub_ref = Text(required=True)
    connection = Text()
    trigger = Choice(HOOK_TRIGGERS, what="hook trigger")
    conditions = Text()
    presets = Names()
    queue = Text()
    params = Params()
    disable_defaults = Boolean()


class JoinSchema(SpecSchema):
    ref = Text()
    query = Text(required=True)
    sort = Text()
    limit = Integer(minimum=0)
    offset = Integer(minimum=0)
    params = Params()


class BuildSchema(SpecSchema):
    hub_ref = Text(required=True)
    connection = Text()
    presets = Names()
    queue = Text()
    cache = Section(CacheSchema)
    params = Params()
    run_patch = KubeObject()
    patch_strategy = Choice(PATCH_STRATEGIES, what="patch strategy")


class EventTriggerSchema(SpecSchema):
    kinds = ListOf(Choice(EVENT_KINDS, what="event kind"), required=True, min_items=1)
    ref = Text(required=True)


class TemplateSchema(SpecSchema):
    enabled = Boolean()
    description = Text()
    # `fields` would shadow the schema's own field registry.
    template_fields = ListOf(Text(), data_key="fields")


# -- components and operations ---------------------------------------------------------


class _PolyaxonfileSchema(SpecSchema):
    version = Number(help_text="a number, e.g. 1.1")
    name = Text(pattern=NAME_PATTERN, pattern_help=NAME_HELP)
    description = Text()
    tags = Names()
    presets = Names()
    queue = Text()
    cache = Section(CacheSchema)
    termination = Section(TerminationSchema)
    plugins = Section(PluginsSchema)
    build = Section(BuildSchema)
    hooks = ListOf(Section(HookSchema))
    is_approved = Boolean()
    cost = Number(minimum=0)
    template = Section(TemplateSchema)


_BELONGS_TO_OPERATION = "this field belongs to an operation (`kind: operation`) that runs the component"
_BELONGS_TO_RUN = "this field belongs under `run:`"
_BELONGS_TO_COMPONENT = "this field belongs to the component (under `component:`)"
#: fields people put at the top level that belong in the run section
_RUN_SECTION_FIELDS = (
    "container", "init", "environment", "connections", "volumes", "sidecars", "ports", "cmd",
)


class ComponentSchema(_PolyaxonfileSchema):
    kind = Choice(["component"], what="kind")
    inputs = ListOf(Section(IOSchema))
    outputs = ListOf(Section(IOSchema))
    run = Run(required=True)

    field_hints = {
        **{
            name: _BELONGS_TO_OPERATION
            for name in (
                "params",
                "matrix",
                "schedule",
                "joins",
                "dependencies",
                "trigger",
                "conditions",
                "skipOnUpstreamSkip",
                "runPatch",
                "patchStrategy",
                "isPreset",
                "events",
                "pathRef",
                "hubRef",
                "urlRef",
                "dagRef",
                "component",
            )
        },
        **{
            name: _BELONGS_TO_RUN
            for name in _RUN_SECTION_FIELDS
        },
    }

    @validates_schema
    def _unique_io_names(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        seen: set[str] = set()
        errors: dict[str, dict[int, dict[str, list[Issue]]]] = {}
        for section in ("inputs", "outputs"):
            for index, io in enumerate(data.get(section) or []):
                name = io.get("name")
                if name in seen:
                    errors.setdefault(section, {})[index] = {
                        "name": [Issue(f"`{name}` is declared twice", "each input/output name once")]
                    }
                seen.add(name)
        if errors:
            raise ValidationError(errors)


REFERENCE_FIELDS = ("hub_ref", "dag_ref", "url_ref", "path_ref")


class OperationSchema(_PolyaxonfileSchema):
    kind = Choice(["operation"], what="kind")
    params = Params()
    run_patch = KubeObject()
    patch_strategy = Choice(PATCH_STRATEGIES, what="patch strategy")
    is_preset = Boolean()
    hub_ref = Text()
    dag_ref = Text()
    url_ref = Text()
    path_ref = Text()
    component = Section(ComponentSchema)
    matrix = Matrix()
    schedule = Schedule()
    events = ListOf(Section(EventTriggerSchema))
    joins = ListOf(Section(JoinSchema))
    dependencies = Names()
    trigger = Choice(TRIGGER_POLICIES, what="trigger policy")
    conditions = Text()
    skip_on_upstream_skip = Boolean()

    field_hints = {
        **{name: _BELONGS_TO_COMPONENT for name in ("inputs", "outputs", "run")},
        **{
            name: f"{_BELONGS_TO_RUN} of the component"
            for name in _RUN_SECTION_FIELDS
        },
    }

    @validates_schema
    def _one_component(self, data: Mapping[str, Any], partial: Any = None, **kwargs: Any) -> None:
        given = [camel_case(name) for name in REFERENCE_FIELDS if data.get(name)]
        valid = "exactly one of: component, pathRef, urlRef, hubRef, dagRef"
        if len(given) > 1:
            raise ValidationError(
                {given[1]: [Issue(f"an operation runs one component; `{given[0]}` is already set", valid)]}
            )
        if not given and data.get("component") is None and not partial and not data.get("is_preset"):
            raise ValidationError(Issue("the operation does not say which component to run", valid))
