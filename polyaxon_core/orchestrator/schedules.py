"""The schedule controller: fires the runs of operations with a ``schedule``.

A submitted operation with a ``schedule`` becomes a run that stays ``on_schedule``; each
firing is a new child run of it (``pipeline``), with the same content but the schedule,
queued like any run. A firing's number is its ``matrix_index``, unique per schedule in the
database, and the moment it was due is in its ``meta_info.schedule.at``: killed and
started again, the controller reads the last firing from the rows and goes on from there,
and no moment fires twice, even with two orchestrators racing.

When the schedule fires (all times UTC):

* ``cron``: at each time the expression (read by croniter) gives after ``startAt``, or after
  the schedule was created;
* ``interval``: at ``startAt`` (or when the schedule is created), then every ``frequency``;
* ``datetime``: once, at ``startAt``.

A moment missed while no orchestrator ran is **caught up once**: when several are due at
once, only the latest fires (its timeline message says how many were skipped), never a
burst. After ``maxRuns`` firings, or once the next moment is past ``endAt``, the schedule
is ``done``. With ``dependsOnPast``, a moment waits while the previous firing's run is
unfinished (then the catch-up rule applies), and a previous run that did not succeed ends
the schedule ``failed``. Stopping the schedule (``ops stop``) ends its firings; runs it
already started go on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from polyaxon_core.config import Settings
from polyaxon_core.db.claims import claim_rows
from polyaxon_core.db.models import Run, with_project
from polyaxon_core.db.session import session_scope
from polyaxon_core.domain.commands import create_firing
from polyaxon_core.domain.state import transition
from polyaxon_core.lifecycle import Status, is_final

logger = logging.getLogger(__name__)


def parse_moment(text: str) -> datetime:
    """An ISO datetime of a schedule (``Z`` or an offset; naive ones are UTC)."""
    moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def frequency_seconds(value: Any) -> float:
    from polyaxon_core.spec.types import parse_duration

    return float(parse_duration(value))


def due_moments(schedule: Mapping[str, Any], created_at: datetime, last: datetime | None,
                now: datetime, limit: int = 10_000) -> list[datetime]:
    """The moments of ``schedule`` that are due by ``now``: after ``last`` (the last firing),
    or from its start when it never fired; at most ``limit`` of them (the latest kept)."""
    kind = schedule["kind"]
    start = parse_moment(schedule["startAt"]) if schedule.get("startAt") else None
    if kind == "datetime":
        assert start is not None
        return [start] if last is None and start <= now else []
    moments: list[datetime] = []
    if kind == "interval":
        step = timedelta(seconds=frequency_seconds(schedule["frequency"]))
        moment = last + step if last is not None else (start or created_at)
        if moment <= now:
            # jump close to now first: a long outage must not cost a loop per missed moment
            skipped = int((now - moment) / step)
            if skipped > limit:
                moment += step * (skipped - limit)
        while moment <= now:
            moments.append(moment)
            moment += step
        return moments[-limit:]
    from croniter import croniter

    moments_after = croniter(schedule["cron"], last or start or created_at)
    moment = moments_after.get_next(datetime)
    while moment <= now:
        moments.append(moment)
        if len(moments) > limit:
            moments = moments[-limit:]
        moment = moments_after.get_next(datetime)
    return moments


def next_moment(schedule: Mapping[str, Any], created_at: datetime, last: datetime | None) -> datetime | None:
    """The moment the schedule fires next, after ``last``; None when it never fires again."""
    kind = schedule["kind"]
    start = parse_moment(schedule["startAt"]) if schedule.get("startAt") else None
    if kind == "datetime":
        return start if last is None else None
    if kind == "interval":
        step = timedelta(seconds=frequency_seconds(schedule["frequency"]))
        return last + step if last is not None else (start or created_at)
    from croniter import croniter

    moment: datetime = croniter(schedule["cron"], last or start or created_at).get_next(datetime)
    return moment


class ScheduleController:
    def __init__(self, settings: Settings, clock: Callable[[], float]) -> None:
        self.settings = settings
        self.clock = clock

    def control_all(self, db_url: str) -> None:
        with session_scope(db_url) as session:
            ids = session.scalars(select(Run.id).where(Run.status == Status.ON_SCHEDULE.value)).all()
        for schedule_id in ids:
            with session_scope(db_url) as session:
                # locked for the pass: another replica skips it meanwhile (a moment fires once)
                run = session.scalar(claim_rows(
                    select(Run).options(with_project()).where(Run.id == schedule_id), Run))
                if run is not None and run.status == Status.ON_SCHEDULE.value:
                    self.control(session, run)

    def control(self, session: Session, run: Run) -> None:
        schedule = dict(json.loads(run.content or "{}").get("schedule") or {})
        now = datetime.fromtimestamp(self.clock(), UTC)
        firings = list(session.scalars(
            select(Run).where(Run.pipeline_id == run.id).order_by(Run.matrix_index)))
        last_run = firings[-1] if firings else None
        last = (parse_moment(last_run.meta_info["schedule"]["at"])
                if last_run is not None else None)
        created_at = run.created_at.replace(tzinfo=UTC) if run.created_at.tzinfo is None else run.created_at
        max_runs = schedule.get("maxRuns")
        end = parse_moment(schedule["endAt"]) if schedule.get("endAt") else None
        if max_runs is not None and len(firings) >= int(max_runs):
            transition(session, run, Status.DONE, reason="schedule done",
                       message=f"fired {len(firings)} of maxRuns {max_runs}")
            return
        upcoming = next_moment(schedule, created_at, last)
        if upcoming is None or (end is not None and upcoming > end):
            transition(session, run, Status.DONE, reason="schedule done",
                       message=f"fired {len(firings)} time(s); no moment left"
                               + (f" before endAt {schedule['endAt']}" if end is not None else ""))
            return
        if upcoming > now:
            return
        if schedule.get("dependsOnPast") and last_run is not None:
            if not is_final(last_run.status):
                return  # the moment waits for the previous run; caught up once it ends
            if last_run.status != Status.SUCCEEDED.value:
                transition(session, run, Status.FAILED, reason="depends on past",
                           message=f"the previous run {last_run.uuid[:12]} ended {last_run.status} "
                                   "and dependsOnPast is set")
                return
        due = [moment for moment in due_moments(schedule, created_at, last, now)
               if end is None or moment <= end]
        if not due:
            return
        index = len(firings)
        create_firing(session, run, index, due[-1], missed=len(due) - 1)
        logger.info("schedule %s fired run %d for %s%s", run.uuid, index, due[-1].isoformat(),
                    f" ({len(due) - 1} missed moment(s) skipped)" if len(due) > 1 else "")
        if max_runs is not None and index + 1 >= int(max_runs):
            transition(session, run, Status.DONE, reason="schedule done",
                       message=f"fired {index + 1} of maxRuns {max_runs}")
