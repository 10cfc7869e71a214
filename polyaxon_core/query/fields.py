"""The fields a query can name, their types, and how each type reads its values.

A field's type decides which operators it takes and what its values must look like.
Value readers raise ``ValueError`` with a message for the user; the parser turns it
into a :class:`~polyaxon_core.query.errors.QueryError` pointing at the value.
"""

from __future__ import annotations

import difflib
import math
import re
import uuid as uuid_module
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from polyaxon_core.lifecycle import Status
from polyaxon_core.query.ast import COMPARISONS, PATTERNS, Operator, Period, UuidPrefix, Value

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_DATETIME = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})"
    r"(?:[ T](?P<hour>\d{2}):(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,6}))?)?"
    r"(?P<zone>Z|[+-]\d{2}:?\d{2})?)?",
    re.ASCII,
)

_HEX = re.compile(r"[0-9a-f]+", re.ASCII)
#: the fewest characters of a uuid that name a run, as for ``polyaxon ops get``
MIN_UUID_PREFIX = 4

_STATUSES: tuple[str, ...] = tuple(status.value for status in Status)


def read_text(raw: str) -> str:
    return raw


def read_status(raw: str) -> str:
    if raw in _STATUSES:
        return raw
    valid = list(_STATUSES)
    close = difflib.get_close_matches(raw, valid, n=1)
    hint = f" (did you mean `{close[0]}`?)" if close else ""
    raise ValueError(f"unknown status `{raw}`{hint}; statuses are {', '.join(valid)}")


def read_uuid(raw: str) -> str | UuidPrefix:
    """A run uuid in any spelling Python's ``uuid.UUID`` accepts, as 32 lowercase hex, or
    its first 4 to 31 hex digits (dashes and case ignored) as a :class:`UuidPrefix`."""
    try:
        return uuid_module.UUID(raw).hex
    except ValueError:
        pass
    digits = raw.lower().replace("-", "")
    if MIN_UUID_PREFIX <= len(digits) < 32 and _HEX.fullmatch(digits):
        return UuidPrefix(digits)
    raise ValueError(f"expected a run uuid (32 hex digits) or at least its first "
                     f"{MIN_UUID_PREFIX}, got `{raw}`")


def read_number(raw: str) -> float:
    if not _NUMBER.fullmatch(raw):
        raise ValueError(f"expected a number, got `{raw}`")
    number = float(raw)
    if not math.isfinite(number):
        raise ValueError(f"the number `{raw}` is out of range")
    return number


def read_datetime(raw: str) -> Period:
    """``YYYY-MM-DD``, optionally ``[ T]HH:MM[:SS[.ffffff]]`` and a zone (``Z``, ``+02:00``).

    A value without a zone is UTC. The period is as long as the precision written.
    """
    match = _DATETIME.fullmatch(raw)
    expected = "expected a date `YYYY-MM-DD` or a datetime `YYYY-MM-DD HH:MM[:SS]`"
    if match is None:
        raise ValueError(f"{expected}, got `{raw}`")
    parts = match.groupdict()
    fraction = parts["fraction"] or ""
    if parts["hour"] is None:
        step = timedelta(days=1)
    elif parts["second"] is None:
        step = timedelta(minutes=1)
    elif not fraction:
        step = timedelta(seconds=1)
    else:
        step = timedelta(microseconds=10 ** (6 - len(fraction)))
    try:
        start = datetime(
            int(parts["year"]),
            int(parts["month"]),
            int(parts["day"]),
            int(parts["hour"] or 0),
            int(parts["minute"] or 0),
            int(parts["second"] or 0),
            int(fraction.ljust(6, "0")),
            tzinfo=_zone(parts["zone"]),
        )
        start = start.astimezone(UTC)
        return Period(start=start, end=start + step)
    except (ValueError, OverflowError):
        raise ValueError(f"`{raw}` is not a valid date or datetime") from None


def _zone(text: str | None) -> timezone:
    if text is None or text == "Z":
        return UTC
    digits = text[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return timezone(-offset if text[0] == "-" else offset)


def read_json_literal(raw: str) -> str | float | bool:
    """A value compared with a JSON value: ``true``/``false``, a number, else text.

    ``"..."`` is always text, so ``"10"`` matches the string ``"10"``, not the number.
    """
    if raw in ("true", "false"):
        return raw == "true"
    if len(raw) >= 2 and raw[0] == raw[-1] == '"' and '"' not in raw[1:-1]:
        return raw[1:-1]
    if _NUMBER.fullmatch(raw):
        return read_number(raw)
    return raw


@dataclass(frozen=True)
class FieldType:
    """What a field holds: its operators and how its values are read.

    ``read_value`` reads the values of ``x`` and ``a|b``; ``read_bound`` the value of a
    comparison and the two ends of a range (fields without those operators have none).
    """

    name: str
    operators: frozenset[Operator]
    read_value: Callable[[str], Value]
    read_bound: Callable[[str], Value] | None = None
    #: whether a whole ``"..."`` value is one literal, even with ``|``, ``..`` or ``%`` in it
    quoted_literals: bool = False


_EQUALITY = frozenset({Operator.EQUAL, Operator.ONE_OF, Operator.NIL})
_ORDERED = frozenset({Operator.EQUAL, Operator.NIL, Operator.RANGE}) | COMPARISONS

TEXT = FieldType("text", _EQUALITY | PATTERNS, read_text)
CHOICE = FieldType("choice", _EQUALITY, read_text)
STATUS = FieldType("choice", _EQUALITY, read_status)
UUID = FieldType("uuid", _EQUALITY | PATTERNS, read_uuid)
RUN = FieldType("run uuid", _EQUALITY, read_uuid)
TAGS = FieldType("tags", _EQUALITY, read_text)
DATETIME = FieldType("datetime", _ORDERED, read_datetime, read_datetime)
NUMBER = FieldType("number", _ORDERED, read_number, read_number)
JSON_VALUE = FieldType(
    "JSON value", _ORDERED | _EQUALITY, read_json_literal, read_number, quoted_literals=True
)

#: Fields named alone, in the order errors and documentation list them.
FIELDS: dict[str, FieldType] = {
    "uuid": UUID,
    "name": TEXT,
    "description": TEXT,
    "status": STATUS,
    "kind": CHOICE,
    "runtime": CHOICE,
    "queue": CHOICE,
    "cloning_kind": CHOICE,
    "tags": TAGS,
    "pipeline": RUN,
    "original": RUN,
    "created_at": DATETIME,
    "updated_at": DATETIME,
    "started_at": DATETIME,
    "finished_at": DATETIME,
    "duration": NUMBER,
    "wait_time": NUMBER,
}

#: Fields named ``family.<name>``: one per key of the run's JSON column.
FAMILIES: dict[str, FieldType] = {
    "inputs": JSON_VALUE,
    "outputs": JSON_VALUE,
    "metrics": NUMBER,
}

#: Polyaxon's other spellings of the same fields.
ALIASES: dict[str, str] = {
    "id": "uuid",
    "uid": "uuid",
    "params": "inputs",
    "in": "inputs",
    "out": "outputs",
}

#: Fields a sort may name (besides every family).
SORTABLE: tuple[str, ...] = tuple(
    name for name in FIELDS if name not in ("description", "tags", "pipeline", "original")
)


def canonical(name: str) -> str:
    return ALIASES.get(name, name)


def field_listing(names: tuple[str, ...] | list[str]) -> str:
    """The fields of ``names`` and every family, for error messages."""
    return ", ".join([*names, *(f"{family}.<name>" for family in FAMILIES)])


def suggestion(name: str, names: tuple[str, ...] | list[str]) -> str:
    """`` (did you mean `x`?)`` for a close spelling among ``names`` and the families."""
    close = difflib.get_close_matches(name, [*names, *FAMILIES, *ALIASES], n=1)
    return f" (did you mean `{close[0]}`?)" if close else ""


_OPERATOR_MEANINGS: dict[Operator, str] = {
    Operator.EQUAL: "equals",
    Operator.ONE_OF: "one of",
    Operator.LESS: "less than",
    Operator.LESS_OR_EQUAL: "at most",
    Operator.GREATER: "greater than",
    Operator.GREATER_OR_EQUAL: "at least",
    Operator.RANGE: "between, inclusive",
    Operator.CONTAINS: "contains",
    Operator.STARTS_WITH: "starts with",
    Operator.ENDS_WITH: "ends with",
    Operator.NIL: "null",
}


def operator_listing(field_type: FieldType) -> str:
    """The operators of ``field_type`` as written, each with what it means."""
    return ", ".join(
        f"`{operator.value}` ({_OPERATOR_MEANINGS[operator]})"
        for operator in Operator
        if operator in field_type.operators
    )
