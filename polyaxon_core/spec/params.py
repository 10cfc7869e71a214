"""The ``params`` an operation passes to its component's inputs and outputs.

A param is written in full (``{value: 0.1}``, ``{ref: ops.train, value: outputs.loss}``)
or, like Polyaxon 2.x allows, as the bare value (``lr: 0.1``). A mapping counts as the
full form as soon as it uses one of the param keys; any other value is the short form.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError, validates_schema

from polyaxon_core.spec.errors import Issue
from polyaxon_core.spec.fields import Anything, Boolean, MappingOf, Section, SpecSchema, Text

PARAM_KEYS = frozenset({"value", "ref", "contextOnly", "connection", "toInit", "toEnv"})


def normalize_param(value: Any) -> Any:
    """The full form of a param written either way."""
    if isinstance(value, Mapping) and (not value or PARAM_KEYS & set(value)):
        return value
    return {"value": value}


class ParamSchema(SpecSchema):
    value = Anything()
    ref = Text()
    context_only = Boolean()
    connection = Text()
    to_init = Boolean()
    to_env = Text()

    @validates_schema
    def _check_ref(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        ref = data.get("ref")
        if ref is None:
            return
        problem = ref_problem(ref)
        if problem:
            raise ValidationError({"ref": [problem]})
        if not isinstance(data.get("value"), str):
            raise ValidationError(
                {
                    "value": [
                        Issue(
                            "a param with `ref` needs `value` naming what to take from it",
                            "e.g. outputs.loss, inputs.lr, globals.uuid, artifacts.model",
                        )
                    ]
                }
            )


REF_HELP = "`dag`, `ops.<operation name>` or `runs.<run uuid>`"


def ref_problem(ref: str) -> Issue | None:
    """Why ``ref`` is not a valid param reference, or None."""
    parts = ref.split(".")
    if parts == ["dag"]:
        return None
    if len(parts) == 2 and parts[0] == "ops" and parts[1]:
        return None
    if len(parts) == 2 and parts[0] == "runs":
        try:
            uuid.UUID(parts[1])
        except ValueError:
            return Issue(f"`{parts[1]}` is not a run UUID", REF_HELP)
        return None
    return Issue(f"`{ref}` is not a valid reference", REF_HELP)


_REF_VALUE = re.compile(r"^\s*(?:{{\s*)?(?P<body>[^{}]*?)(?:\s*}})?\s*$")
REF_SECTIONS = ("inputs", "outputs", "globals", "artifacts")


def parse_ref_value(value: object) -> tuple[str, str] | None:
    """``"outputs.loss"`` (or ``"{{ outputs.loss }}"``) -> ``("outputs", "loss")``, else None."""
    if not isinstance(value, str):
        return None
    match = _REF_VALUE.match(value)
    if not match:
        return None
    parts = match.group("body").split(".")
    if len(parts) < 2 or parts[0] not in REF_SECTIONS or not all(parts[1:]):
        return None
    if parts[0] != "artifacts" and len(parts) != 2:
        return None
    return parts[0], ".".join(parts[1:])


def Params(**kwargs: Any) -> MappingOf:  # noqa: N802 - a field, like the others
    """A mapping of names to params, each in the full or the short form."""
    return MappingOf(Section(ParamSchema, prepare=normalize_param), **kwargs)
