"""The ``schedule`` section: cron, interval and datetime schedules.

Cron expressions are checked field by field here; the official client accepts any
string and only fails when the scheduler first evaluates it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from polyaxon_core.spec.fields import Boolean, ByKind, Choice, Integer, SpecField, SpecSchema
from polyaxon_core.spec.types import TypeMismatch, parse_duration

_CRON_MACROS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
#: (name, lowest, highest, names usable instead of numbers, first name's number)
_CRON_FIELDS: tuple[tuple[str, int, int, list[str], int], ...] = (
    ("minute", 0, 59, [], 0),
    ("hour", 0, 23, [], 0),
    ("day of month", 1, 31, [], 0),
    ("month", 1, 12, _MONTHS, 1),
    ("day of week", 0, 7, _DAYS, 0),
)
CRON_HELP = "5 fields `minute hour day-of-month month day-of-week`, e.g. `0 3 * * 1-5`, or @daily"


def cron_problem(expression: str) -> str | None:
    """Why ``expression`` is not a cron expression, or None."""
    text = expression.strip()
    if text.lower() in _CRON_MACROS:
        return None
    parts = text.split()
    if len(parts) != 5:
        return f"a cron expression has 5 fields, `{expression}` has {len(parts)}"
    for part, (name, lowest, highest, names, first) in zip(parts, _CRON_FIELDS, strict=True):
        for item in part.split(","):
            problem = _cron_item(item, lowest, highest, names, first)
            if problem:
                return f"the {name} field `{part}` is invalid: {problem}"
    return None


def _cron_item(item: str, lowest: int, highest: int, names: list[str], first: int) -> str | None:
    base, _, step = item.partition("/")
    if step and (not step.isdigit() or int(step) < 1):
        return f"step `{step}` must be a whole number >= 1"
    if base in ("*", "?"):
        return None
    bounds = base.split("-")
    if len(bounds) > 2:
        return f"`{base}` is not a value or a range"
    values = []
    for bound in bounds:
        if bound.lower() in names:
            values.append(names.index(bound.lower()) + first)
        elif bound.isdigit():
            values.append(int(bound))
        else:
            return f"`{bound}` is not a number{' or a name' if names else ''}"
    for value in values:
        if not lowest <= value <= highest:
            return f"{value} is outside {lowest}-{highest}"
    if len(values) == 2 and values[0] > values[1]:
        return f"the range `{base}` is reversed"
    return None


class CronExpression(SpecField):
    def default_description(self) -> str:
        return CRON_HELP

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise self.fail(value)
        problem = cron_problem(value)
        if problem:
            raise self.fail(value, problem)
        return value


class Moment(SpecField):
    """A datetime, kept as its ISO string."""

    def default_description(self) -> str:
        return "a datetime such as 2024-05-31T12:00:00Z"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = value if isinstance(value, str) else None
        if text is None:
            raise self.fail(value)
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            dt.datetime.fromisoformat(text)
        except ValueError:
            raise self.fail(value) from None
        return value


class Duration(SpecField):
    """Seconds, written as a number or an ISO 8601 duration; kept as written."""

    def default_description(self) -> str:
        return "seconds > 0 or an ISO 8601 duration such as PT1H"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        try:
            seconds = parse_duration(value)
        except TypeMismatch:
            raise self.fail(value) from None
        if seconds <= 0:
            raise self.fail(value, "the frequency must be positive")
        return value


class CronScheduleSchema(SpecSchema):
    kind = Choice(["cron"])
    cron = CronExpression(required=True)
    start_at = Moment()
    end_at = Moment()
    max_runs = Integer(minimum=1)
    depends_on_past = Boolean()


class IntervalScheduleSchema(SpecSchema):
    kind = Choice(["interval"])
    frequency = Duration(required=True)
    start_at = Moment()
    end_at = Moment()
    max_runs = Integer(minimum=1)
    depends_on_past = Boolean()


class DateTimeScheduleSchema(SpecSchema):
    kind = Choice(["datetime"])
    start_at = Moment(required=True)


def Schedule(**kwargs: Any) -> ByKind:  # noqa: N802 - a field, like the others
    return ByKind(
        {
            "cron": CronScheduleSchema,
            "interval": IntervalScheduleSchema,
            "datetime": DateTimeScheduleSchema,
        },
        what="schedule",
        **kwargs,
    )
