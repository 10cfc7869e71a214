"""Marshmallow building blocks whose errors say what was wrong *and* what is valid.

Every field can describe the values it accepts (:meth:`SpecField.describe`); errors are
:class:`~polyaxon_core.spec.errors.Issue` strings carrying that description, so the report
for a missing or mistyped field also tells the user how to write it. Schemas read and
write the file's camelCase names and report unknown fields with a "did you mean".
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validates_schema
from marshmallow.utils import missing as missing_value

from polyaxon_core.spec.errors import Issue, describe_value, one_of


def camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class SpecField(fields.Field):
    """Base field: ``None`` counts as "not given", errors are Issues with a valid form."""

    def __init__(self, *, required: bool = False, help_text: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("allow_none", not required)
        super().__init__(required=required, **kwargs)
        self.help_text = help_text

    def describe(self) -> str:
        """What a valid value looks like (``help_text`` when the field was given one)."""
        return self.help_text or self.default_description()

    def default_description(self) -> str:
        return "any value"

    def make_error(self, key: str, **kwargs: Any) -> ValidationError:
        if key == "required":
            return ValidationError(Issue("missing required field", self.describe()))
        if key == "null":
            return ValidationError(Issue("must have a value, not null", self.describe()))
        return super().make_error(key, **kwargs)

    def fail(self, value: object, reason: str | None = None) -> ValidationError:
        """An error for ``value`` not being what :meth:`describe` promises."""
        message = reason or f"expected {self.describe()}, got {describe_value(value)}"
        return ValidationError(Issue(message, self.describe()))


class Anything(SpecField):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        return value


class Text(SpecField):
    def __init__(self, *, pattern: str | None = None, pattern_help: str = "", **kwargs: Any):
        super().__init__(**kwargs)
        self.pattern = re.compile(pattern) if pattern else None
        self.pattern_help = pattern_help

    def default_description(self) -> str:
        return f"a string of {self.pattern_help}" if self.pattern else "a string"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise self.fail(value)
        if self.pattern is not None and not self.pattern.match(value):
            raise self.fail(value, f"`{value}` is not allowed here")
        return value


class Boolean(SpecField):
    def default_description(self) -> str:
        return "true or false"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(value)
        return value


class Number(SpecField):
    """An int or float (never a bool), optionally bounded."""

    def __init__(
        self,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        exclusive_minimum: bool = False,
        integer: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.minimum = minimum
        self.maximum = maximum
        self.exclusive_minimum = exclusive_minimum
        self.integer = integer

    def default_description(self) -> str:
        noun = "an integer" if self.integer else "a number"
        bounds = []
        if self.minimum is not None:
            bounds.append(f"{'>' if self.exclusive_minimum else '>='} {self.minimum:g}")
        if self.maximum is not None:
            bounds.append(f"<= {self.maximum:g}")
        return f"{noun} {' and '.join(bounds)}" if bounds else noun

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int | float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(value)
        if self.integer and not isinstance(value, int):
            raise self.fail(value)
        too_low = self.minimum is not None and (
            value <= self.minimum if self.exclusive_minimum else value < self.minimum
        )
        too_high = self.maximum is not None and value > self.maximum
        if too_low or too_high:
            raise self.fail(value, f"{value} is out of range")
        return value


def Integer(**kwargs: Any) -> Number:  # noqa: N802 - reads like the other field classes
    return Number(integer=True, **kwargs)


class Choice(SpecField):
    """One of a fixed set of strings."""

    def __init__(
        self,
        options: Iterable[str],
        *,
        what: str = "value",
        ignore_case: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.options = list(options)
        self.what = what
        self.ignore_case = ignore_case

    def default_description(self) -> str:
        return f"one of: {', '.join(self.options)}"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        # Polyaxon accepts e.g. `UCB` and `Maximize` for some enums; the canonical
        # lower-case option is what we keep.
        probe = value.lower() if self.ignore_case and isinstance(value, str) else value
        if not isinstance(probe, str) or probe not in self.options:
            shown = f"`{value}`" if isinstance(value, str) else describe_value(value)
            raise ValidationError(Issue(f"{shown} is not a valid {self.what}", one_of(value, self.options)))
        return probe


class ListOf(SpecField):
    """A list whose items are checked by ``item``; errors are reported per index."""

    def __init__(
        self,
        item: SpecField,
        *,
        single_allowed: bool = False,
        min_items: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.item = item
        # An item written as `-` or `null` is a mistake, not "no item".
        self.item.allow_none = False
        self.single_allowed = single_allowed
        self.min_items = min_items

    def default_description(self) -> str:
        prefix = "a non-empty list" if self.min_items else "a list"
        return f"{prefix} of {self.item.describe()}"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[Any]:
        if self.single_allowed and not isinstance(value, list):
            value = [value]
        if not isinstance(value, list):
            raise self.fail(value)
        if len(value) < self.min_items:
            raise self.fail(value, "must not be empty")
        results: list[Any] = []
        errors: dict[int, Any] = {}
        for index, entry in enumerate(value):
            try:
                results.append(self.item.deserialize(entry, **kwargs))
            except ValidationError as exc:
                errors[index] = exc.messages
        if errors:
            raise ValidationError(errors, valid_data=results)
        return results


class MappingOf(SpecField):
    """A mapping from names to values checked by ``value``; errors are reported per key."""

    def __init__(self, value: SpecField, *, what: str = "entries", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.value_field = value
        self.value_field.allow_none = False
        self.what = what

    def default_description(self) -> str:
        return f"a mapping of names to {self.value_field.describe()}"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(value)
        results: dict[str, Any] = {}
        errors: dict[Any, Any] = {}
        for key, entry in value.items():
            if not isinstance(key, str):
                errors[key] = [Issue(f"the key {describe_value(key)} is not a name", "a string key")]
                continue
            try:
                results[key] = self.value_field.deserialize(entry, **kwargs)
            except ValidationError as exc:
                errors[key] = exc.messages
        if errors:
            raise ValidationError(errors, valid_data=results)
        return results


SchemaFactory = Callable[[], type[Schema]]


class Section(SpecField):
    """A nested mapping loaded by ``schema`` (given lazily to allow recursive specs)."""

    def __init__(
        self,
        schema: type[Schema] | SchemaFactory,
        *,
        prepare: Callable[[Any], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._schema = schema
        self.prepare = prepare

    @property
    def schema_class(self) -> type[Schema]:
        if isinstance(self._schema, type):
            return self._schema
        return self._schema()

    def default_description(self) -> str:
        names = sorted(declared_keys(self.schema_class()))
        if len(names) > 12:
            # Listing every field of a whole operation would drown the actual problem.
            noun = snake_case(self.schema_class.__name__.removesuffix("Schema")).replace("_", " ")
            article = "an" if noun[:1] in "aeiou" else "a"
            return f"a mapping describing {article} {noun}"
        return f"a mapping with fields among: {', '.join(names)}"

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        # Preparing comes first so that it can also give a meaning to `null`.
        if self.prepare is not None and value is not missing_value:
            value = self.prepare(value)
        return super().deserialize(value, attr, data, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, Mapping):
            raise self.fail(value)
        return loader(self.schema_class).load(value, partial=kwargs.get("partial"))


class ByKind(SpecField):
    """A mapping whose ``kind`` picks the schema that loads it (matrix, run, schedule...)."""

    def __init__(self, schemas: Mapping[str, type[Schema]], *, what: str,
                 more: Callable[[], Mapping[str, type[Schema]]] | None = None,
                 **kwargs: Any) -> None:
        """``more`` gives further kinds (those plugins contribute); it is only called for a
        kind ``schemas`` does not hold, so files of the built-in kinds load no plugin."""
        super().__init__(**kwargs)
        self.schemas = dict(schemas)
        self.what = what
        self.more = more

    def default_description(self) -> str:
        return f"a mapping with `kind`, one of: {', '.join(self.schemas)}"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, Mapping):
            raise self.fail(value)
        kind = value.get("kind")
        schemas = self.schemas
        if kind not in schemas and self.more is not None:
            schemas = {**schemas, **self.more()}
        if kind is None:
            raise ValidationError(
                {"kind": [Issue(f"missing the {self.what} kind", one_of(None, schemas))]}
            )
        if not isinstance(kind, str) or kind not in schemas:
            shown = f"`{kind}`" if isinstance(kind, str) else describe_value(kind)
            raise ValidationError(
                {"kind": [Issue(f"{shown} is not a valid {self.what} kind", one_of(kind, schemas))]}
            )
        return loader(schemas[kind]).load(value, partial=kwargs.get("partial"))


@functools.cache
def loader(schema: type[Schema]) -> Schema:
    """The one instance of ``schema`` that loads everything: making one deep-copies all its
    fields, and a run's spec is loaded several times in its life; loading keeps no state
    on the instance."""
    return schema()


def declared_keys(schema: Schema) -> set[str]:
    return {field.data_key or name for name, field in schema.load_fields.items()}


class SpecSchema(Schema):
    """Base schema: camelCase keys in files, unknown keys reported with alternatives.

    ``field_hints`` maps a misplaced key to advice (e.g. a field that belongs to another
    section); subclasses add to it.
    """

    field_hints: ClassVar[dict[str, str]] = {}

    class Meta:
        unknown = EXCLUDE

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        if field_obj.data_key is None:
            field_obj.data_key = camel_case(field_name)

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _reject_unknown_fields(self, data: Any, original_data: Any, **kwargs: Any) -> None:
        if not isinstance(original_data, Mapping):
            return
        known = declared_keys(self)
        errors: dict[str, list[Issue]] = {}
        for key in original_data:
            if key in known:
                continue
            listing = one_of(str(key), sorted(known), noun="fields here")
            hint = self.field_hints.get(str(key))
            if hint is None:
                # A misspelled field of another section: say where the intended one goes.
                close = difflib.get_close_matches(str(key), list(self.field_hints), n=1, cutoff=0.8)
                if close and not difflib.get_close_matches(str(key), list(known), n=1, cutoff=0.6):
                    hint = f"did you mean `{close[0]}`? {self.field_hints[close[0]]}"
            valid = f"{hint}; {listing}" if hint else listing
            errors[str(key)] = [Issue(f"unknown field `{key}`", valid)]
        if errors:
            raise ValidationError(errors)
