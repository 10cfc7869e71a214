"""The types an input or output can declare, and how values are checked against them.

Converted values stay JSON-friendly because they are stored with the run: dates and
datetimes become ISO strings, durations become seconds, structured types stay mappings.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import yaml

from polyaxon_core.spec.errors import PolyaxonfileError
from polyaxon_core.spec.loader import load_yaml_value

TEMPLATE_PATTERN = re.compile(r"{{.*?}}|{%.*?%}", re.DOTALL)


def is_template(value: object) -> bool:
    """True for strings holding ``{{ ... }}``/``{% ... %}``: resolved at run time, not now."""
    return isinstance(value, str) and TEMPLATE_PATTERN.search(value) is not None


class TypeMismatch(ValueError):
    """A value does not fit a declared type; the message says why."""


Converter = Callable[[Any], Any]


@dataclass(frozen=True)
class IOType:
    """A declared type: how to convert a value, how to describe it, how to read it from the CLI.

    ``cli_literal`` types parse a ``-P name=value`` string as YAML first (``-P n=3`` is the
    integer 3, ``-P xs=[1,2]`` a list); the others take the string as it is.
    """

    name: str
    describe: str
    convert: Converter
    cli_literal: bool


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _to_int(value: Any) -> int:
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                raise TypeMismatch("expected a whole number") from None
    if isinstance(value, bool) or not _is_number(value):
        raise TypeMismatch("expected a whole number")
    if isinstance(value, float):
        if not value.is_integer():
            raise TypeMismatch("expected a whole number, not a fraction")
        return int(value)
    return int(value)


def _to_float(value: Any) -> float:
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise TypeMismatch("expected a number") from None
    if not _is_number(value):
        raise TypeMismatch("expected a number")
    return float(value)


_TRUE = {"true", "yes", "on", "y", "t", "1"}
_FALSE = {"false", "no", "off", "n", "f", "0"}


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise TypeMismatch("expected true or false")


def _to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float | list | dict):
        # Numbers and structures written where a string is expected keep their JSON text,
        # which is how they would be passed on a command line.
        return json.dumps(value, separators=(",", ":"))
    raise TypeMismatch("expected a string")


def _loads(value: Any, expected: type) -> Any:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise TypeMismatch(f"expected a {'mapping' if expected is dict else 'list'}") from None
    if not isinstance(value, expected):
        raise TypeMismatch(f"expected a {'mapping' if expected is dict else 'list'}")
    return value


def _to_dict(value: Any) -> dict[str, Any]:
    result: dict[str, Any] = _loads(value, dict)
    return result


def _to_dict_of_dicts(value: Any) -> dict[str, Any]:
    result = _to_dict(value)
    for key, item in result.items():
        if not isinstance(item, dict):
            raise TypeMismatch(f"expected a mapping of mappings; `{key}` is not a mapping")
    return result


def _to_list(value: Any) -> list[Any]:
    result: list[Any] = _loads(value, list)
    return result


def _to_path(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeMismatch("expected a path string")
    return value


def _to_uri(value: Any) -> Any:
    if isinstance(value, Mapping):
        if not value.get("user") or not value.get("host"):
            raise TypeMismatch("a URI mapping needs at least `user` and `host`")
        return dict(value)
    if not isinstance(value, str):
        raise TypeMismatch("expected a URI string")
    parsed = urlparse(value)
    if not parsed.scheme or not parsed.netloc:
        raise TypeMismatch("expected a URI with a scheme and a host, e.g. https://host:port")
    return value


def _to_auth(value: Any) -> Any:
    if isinstance(value, Mapping):
        if not value.get("user") or "password" not in value:
            raise TypeMismatch("an auth mapping needs `user` and `password`")
        return dict(value)
    if not isinstance(value, str) or ":" not in value:
        raise TypeMismatch("expected `user:password`")
    return value


def _bucket_url(schemes: tuple[str, ...], example: str) -> Converter:
    def convert(value: Any) -> str:
        if not isinstance(value, str):
            raise TypeMismatch(f"expected a URL like {example}")
        parsed = urlparse(value)
        if parsed.scheme not in schemes or not parsed.netloc:
            raise TypeMismatch(f"expected a URL like {example}")
        return value

    return convert


def _to_image(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise TypeMismatch("expected an image name such as python:3.11")
    if is_template(value):
        return value
    if " " in value:
        raise TypeMismatch("an image name cannot contain spaces")
    name = value.split("://", 1)[-1]
    parts = name.split(":")
    # A third `:`-part is only possible when the first one is a registry host with a port.
    if len(parts) > 3 or (len(parts) == 3 and ("/" not in parts[1] or parts[1].startswith("/"))):
        raise TypeMismatch("expected [registry[:port]/]name[:tag]")
    return value


def _structure(fields: dict[str, str], required: tuple[str, ...] = ()) -> Converter:
    """A mapping type with known keys; ``fields`` maps each key to its kind of value."""

    def convert(value: Any) -> dict[str, Any]:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise TypeMismatch("expected a mapping") from None
        if not isinstance(value, Mapping):
            raise TypeMismatch(f"expected a mapping with keys among: {', '.join(fields)}")
        unknown = [key for key in value if key not in fields]
        if unknown:
            raise TypeMismatch(f"unknown key `{unknown[0]}`; keys are: {', '.join(fields)}")
        missing = [key for key in required if value.get(key) in (None, "")]
        if missing:
            raise TypeMismatch(f"missing required key `{missing[0]}`")
        for key, item in value.items():
            if item is None or is_template(item):
                continue
            kind = fields[key]
            if kind == "str" and not isinstance(item, str):
                raise TypeMismatch(f"`{key}` must be a string")
            if kind == "int" and (isinstance(item, bool) or not isinstance(item, int)):
                raise TypeMismatch(f"`{key}` must be a whole number")
            if kind == "bool" and not isinstance(item, bool):
                raise TypeMismatch(f"`{key}` must be true or false")
            if kind == "list" and not isinstance(item, list):
                raise TypeMismatch(f"`{key}` must be a list")
            if kind == "uuids" and not (isinstance(item, list) and all(_is_uuid(entry) for entry in item)):
                raise TypeMismatch(f"`{key}` must be a list of run UUIDs")
        return dict(value)

    return convert


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _to_date(value: Any) -> str:
    if isinstance(value, dt.datetime):
        value = value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
        try:
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise TypeMismatch("expected a date such as 2024-05-31") from None
        if moment.time() == dt.time(0):
            return moment.date().isoformat()
        raise TypeMismatch("expected a date without a time of day")
    raise TypeMismatch("expected a date such as 2024-05-31")


def _to_datetime(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if _is_number(value):
        return dt.datetime.fromtimestamp(float(value), tz=dt.UTC).isoformat()
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            return dt.datetime.fromisoformat(text).isoformat()
        except ValueError:
            pass
    raise TypeMismatch("expected a datetime such as 2024-05-31T12:00:00")


_DURATION = re.compile(
    r"^P(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(value: Any) -> float | int:
    """Seconds from a number of seconds or an ISO 8601 duration (``PT1H30M``)."""
    if _is_number(value):
        if not math.isfinite(value) or value < 0:
            raise TypeMismatch("expected a non-negative duration")
        return value  # type: ignore[no-any-return]
    if isinstance(value, str):
        match = _DURATION.match(value.strip().upper())
        if match and value.strip().upper() not in ("P", "PT"):
            parts = {key: float(amount or 0) for key, amount in match.groupdict().items()}
            seconds = parts["days"] * 86400 + parts["hours"] * 3600 + parts["minutes"] * 60 + parts["seconds"]
            return int(seconds) if seconds.is_integer() else seconds
    raise TypeMismatch("expected seconds or an ISO 8601 duration such as PT1H")


def _to_uuid(value: Any) -> str:
    if not _is_uuid(value) or not isinstance(value, str):
        raise TypeMismatch("expected a UUID")
    return str(uuid.UUID(value))


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _to_email(value: Any) -> str:
    if not isinstance(value, str) or not _EMAIL.match(value):
        raise TypeMismatch("expected an email address")
    return value


def _same(value: Any) -> Any:
    return value


IO_TYPES: dict[str, IOType] = {
    spec.name: spec
    for spec in (
        IOType("any", "any value", _same, True),
        IOType("int", "a whole number", _to_int, True),
        IOType("float", "a number", _to_float, True),
        IOType("bool", "true or false", _to_bool, True),
        IOType("str", "a string", _to_str, False),
        IOType("dict", "a mapping", _to_dict, True),
        IOType("dict_of_dicts", "a mapping of mappings", _to_dict_of_dicts, True),
        IOType("list", "a list", _to_list, True),
        IOType("uri", "a URI such as https://user:pass@host:port", _to_uri, False),
        IOType("auth", "`user:password`", _to_auth, False),
        IOType(
            "gcs", "a GCS URL such as gs://bucket/path", _bucket_url(("gs", "gcs"), "gs://bucket/path"), False
        ),
        IOType("s3", "an S3 URL such as s3://bucket/key", _bucket_url(("s3",), "s3://bucket/key"), False),
        IOType(
            "wasb",
            "an Azure URL such as wasbs://container@account.blob.core.windows.net/path",
            _bucket_url(("wasb", "wasbs"), "wasbs://container@account.blob.core.windows.net/path"),
            False,
        ),
        IOType("path", "a path", _to_path, False),
        IOType("image", "a container image such as python:3.11", _to_image, False),
        IOType(
            "git",
            "a mapping with url, revision, flags",
            _structure({"url": "str", "revision": "str", "flags": "list"}),
            True,
        ),
        IOType(
            "dockerfile",
            "a dockerfile mapping with at least `image`",
            _structure(
                {
                    "image": "str",
                    "env": "any",
                    "path": "list",
                    "copy": "any",
                    "postRunCopy": "any",
                    "run": "list",
                    "langEnv": "str",
                    "uid": "int",
                    "gid": "int",
                    "username": "str",
                    "filename": "str",
                    "workdir": "str",
                    "workdirPath": "str",
                    "shell": "str",
                },
                required=("image",),
            ),
            True,
        ),
        IOType(
            "artifacts",
            "a mapping with files, dirs, workers",
            _structure({"files": "list", "dirs": "list", "workers": "int"}),
            True,
        ),
        IOType(
            "file",
            "a mapping with content and optional filename, kind, chmod",
            _structure(
                {"content": "str", "filename": "str", "kind": "str", "chmod": "str"},
                required=("content",),
            ),
            True,
        ),
        IOType(
            "tensorboard",
            "a mapping with port, uuids, useNames, pathPrefix, plugins",
            _structure(
                {
                    "port": "int",
                    "uuids": "uuids",
                    "useNames": "bool",
                    "pathPrefix": "str",
                    "plugins": "list",
                }
            ),
            True,
        ),
        IOType("event", "a mapping with name and kind", _structure({"name": "str", "kind": "str"}), True),
        IOType("metric", "a number", _to_float, True),
        IOType("metadata", "a mapping", _to_dict, True),
        IOType("date", "a date such as 2024-05-31", _to_date, False),
        IOType("datetime", "a datetime such as 2024-05-31T12:00:00", _to_datetime, False),
        IOType("timedelta", "seconds or an ISO 8601 duration such as PT1H", parse_duration, True),
        IOType("uuid", "a UUID", _to_uuid, False),
        IOType("email", "an email address", _to_email, False),
    )
}


def convert_value(type_name: str | None, value: Any, *, is_list: bool = False) -> Any:
    """``value`` converted to ``type_name`` (a list of it when ``is_list``).

    Raises :class:`TypeMismatch` with a reason. ``None`` means "no value" and is returned
    unchanged; templates are resolved later and are returned unchanged too.
    """
    if value is None or is_template(value):
        return value
    io_type = IO_TYPES.get(type_name or "any", IO_TYPES["any"])
    if is_list:
        items = _to_list(value)
        converted = []
        for index, item in enumerate(items):
            try:
                converted.append(item if is_template(item) else io_type.convert(item))
            except TypeMismatch as exc:
                raise TypeMismatch(f"item {index}: {exc}") from None
        return converted
    return io_type.convert(value)


def describe_type(type_name: str | None, is_list: bool = False) -> str:
    """How to write a value of this type, for the ``valid:`` part of a problem."""
    described = IO_TYPES.get(type_name or "any", IO_TYPES["any"]).describe
    return f"a list of: {described}" if is_list else described


def parse_cli_value(type_name: str | None, text: str, *, is_list: bool = False) -> Any:
    """Read a ``-P name=value`` string according to the declared type, then convert it."""
    io_type = IO_TYPES.get(type_name or "any", IO_TYPES["any"])
    value: Any = text
    if is_list or io_type.cli_literal:
        try:
            value = load_yaml_value(text, "-P value")
        except yaml.YAMLError:
            value = text
        except PolyaxonfileError as exc:
            raise TypeMismatch(exc.problems[0].message) from None
    return convert_value(type_name, value, is_list=is_list)


def check_rules(rules: Mapping[str, Any], value: Any) -> str | None:
    """The first broken validation rule (``validation``/``options`` of an IO), or None.

    Rules on single values apply to each item of a list or each value of a mapping; the
    item-count and key rules apply to the container itself.
    """
    if value is None or is_template(value):
        return None
    items = list(value.values()) if isinstance(value, dict) else value
    if not isinstance(items, list):
        items = [value]
    for item in items:
        broken = _check_scalar(rules, item)
        if broken:
            return broken
    if isinstance(value, list | dict):
        if rules.get("min_items") is not None and len(value) < rules["min_items"]:
            return f"has {len(value)} items, fewer than minItems={rules['min_items']}"
        if rules.get("max_items") is not None and len(value) > rules["max_items"]:
            return f"has {len(value)} items, more than maxItems={rules['max_items']}"
    if isinstance(value, dict):
        keys = set(value)
        if rules.get("keys") is not None and keys != set(rules["keys"]):
            return f"keys {sorted(keys)} differ from the required keys {rules['keys']}"
        missing = [key for key in rules.get("contains_keys") or [] if key not in keys]
        if missing:
            return f"misses the keys {missing}"
        present = [key for key in rules.get("excludes_keys") or [] if key in keys]
        if present:
            return f"has the excluded keys {present}"
    return None


def _check_scalar(rules: Mapping[str, Any], value: Any) -> str | None:
    comparisons: tuple[tuple[str, Callable[[Any, Any], bool], str], ...] = (
        ("gt", lambda v, limit: v > limit, "greater than"),
        ("ge", lambda v, limit: v >= limit, "greater than or equal to"),
        ("lt", lambda v, limit: v < limit, "less than"),
        ("le", lambda v, limit: v <= limit, "less than or equal to"),
    )
    try:
        for key, holds, words in comparisons:
            limit = rules.get(key)
            if limit is not None and not holds(value, limit):
                return f"{value!r} must be {words} {limit}"
        multiple = rules.get("multiple_of")
        if multiple is not None and value % multiple != 0:
            return f"{value!r} must be a multiple of {multiple}"
    except TypeError:
        return f"{value!r} cannot be compared with the numeric validation rules"
    digits = len(str(value).replace(".", "").replace("-", ""))
    if rules.get("min_digits") is not None and digits < rules["min_digits"]:
        return f"{value!r} must have at least {rules['min_digits']} digits"
    if rules.get("max_digits") is not None and digits > rules["max_digits"]:
        return f"{value!r} must have at most {rules['max_digits']} digits"
    places = rules.get("decimal_places")
    if places is not None and "." in str(value) and len(str(value).split(".")[1]) > places:
        return f"{value!r} must have at most {places} decimal places"
    pattern = rules.get("regex")
    if pattern is not None and not (isinstance(value, str) and re.match(pattern, value)):
        return f"{value!r} must match the regex {pattern!r}"
    sized = value if isinstance(value, str | list | dict) else None
    if rules.get("min_length") is not None and (sized is None or len(sized) < rules["min_length"]):
        return f"{value!r} must be at least {rules['min_length']} characters long"
    if rules.get("max_length") is not None and (sized is None or len(sized) > rules["max_length"]):
        return f"{value!r} must be at most {rules['max_length']} characters long"
    try:
        if rules.get("contains") is not None and rules["contains"] not in value:
            return f"{value!r} must contain {rules['contains']!r}"
        if rules.get("excludes") is not None and rules["excludes"] in value:
            return f"{value!r} must not contain {rules['excludes']!r}"
    except TypeError:
        return f"{value!r} cannot be checked with contains/excludes"
    options = rules.get("options")
    if options is not None and value not in options:
        return f"{value!r} is not one of the options {options}"
    return None
