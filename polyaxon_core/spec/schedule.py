"""The ``schedule`` section: cron, interval and datetime schedules.

Cron expressions are checked here with croniter, which the orchestrator evaluates them
with; the official client accepts any string and only fails when its scheduler first
evaluates it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from polyaxon_core.spec.fields import Boolean, ByKind, Choice, Integer, SpecField, SpecSchema
from polyaxon_core.spec.types import TypeMismatch, parse_duration

_CRON_MACROS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})
CRON_HELP = "5 fields `minute hour day-of-month month day-of-week`, e.g. `0 3 * * 1-5`, or @daily"


_CRON_FIELDS = ("minute", "hour", "day of month", "month", "day of week")


def cron_problem(expression: str) -> str | None:
    """Why croniter cannot read ``expression`` as a 5-field cron expression, or None; the
    message names the first field croniter refuses (each is tried alone, the others `*`)."""
    from croniter import CroniterError, croniter

    text = expression.strip()
    if text.lower() in _CRON_MACROS:
        return None
    parts = text.split()
    if len(parts) != 5:
        return f"a cron expression has 5 fields, `{expression}` has {len(parts)}"

    def refusal(candidate: str) -> str | None:
        try:
            croniter(candidate)
        except (CroniterError, ValueError) as exc:
            return str(exc).replace(f"[{candidate}] ", "")
        return None

    if refusal(text) is None:
        return None
    for index, name in enumerate(_CRON_FIELDS):
        alone = " ".join(part if position == index else "*" for position, part in enumerate(parts))
        reason = refusal(alone)
        if reason is not None:
            return f"the {name} field `{parts[index]}` {reason}"
    return f"`{expression}` {refusal(text)}"


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
