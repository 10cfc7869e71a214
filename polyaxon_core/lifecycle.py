"""Run statuses and the explicit table of allowed transitions.

The names are Polyaxon's. A final status is never overwritten, except by ``resuming``
(``polyaxon ops resume``), which starts the same run again. Everything that changes a
run's status goes through :func:`can_transition`; an illegal transition is refused and
logged by the caller, never applied.
"""

from __future__ import annotations

import logging
from enum import StrEnum

logger = logging.getLogger(__name__)


class Status(StrEnum):
    CREATED = "created"
    COMPILED = "compiled"
    ON_SCHEDULE = "on_schedule"
    QUEUED = "queued"
    SCHEDULED = "scheduled"
    STARTING = "starting"
    RUNNING = "running"
    WARNING = "warning"
    UNSCHEDULABLE = "unschedulable"
    UNKNOWN = "unknown"
    STOPPING = "stopping"
    RETRYING = "retrying"
    RESUMING = "resuming"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UPSTREAM_FAILED = "upstream_failed"
    STOPPED = "stopped"
    SKIPPED = "skipped"
    DONE = "done"


FINAL_STATUSES: frozenset[Status] = frozenset(
    {
        Status.SUCCEEDED,
        Status.FAILED,
        Status.UPSTREAM_FAILED,
        Status.STOPPED,
        Status.SKIPPED,
        Status.DONE,
    }
)

#: Statuses in which a run holds a slot of its queue.
ACTIVE_STATUSES: frozenset[Status] = frozenset(
    {
        Status.SCHEDULED,
        Status.STARTING,
        Status.RUNNING,
        Status.WARNING,
        Status.UNKNOWN,
        Status.STOPPING,
        Status.UNSCHEDULABLE,
    }
)

#: Kinds of run driven by a controller of their own (a sweep's trials, a DAG's operations)
#: rather than launched by a scheduler; they hold no slot of a queue.
CONTROLLED_KINDS: tuple[str, ...] = ("matrix", "dag")
#: The statuses in which such a run's controller drives it: started or about to be, or stopping.
CONTROLLED_STATUSES: tuple[str, ...] = (Status.QUEUED.value, Status.RUNNING.value, Status.STOPPING.value)

_ENDINGS = {Status.SUCCEEDED, Status.FAILED, Status.STOPPED, Status.STOPPING}
_ALIVE = {Status.RUNNING, Status.WARNING, Status.UNKNOWN, Status.UNSCHEDULABLE}

#: status -> the statuses it may move to.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    # running: a run tracked from outside (managed by the user) runs once it is created
    Status.CREATED: frozenset(
        {Status.COMPILED, Status.ON_SCHEDULE, Status.RUNNING, Status.FAILED, Status.STOPPED,
         Status.SKIPPED, Status.UPSTREAM_FAILED}
    ),
    Status.COMPILED: frozenset(
        {Status.QUEUED, Status.ON_SCHEDULE, Status.FAILED, Status.STOPPED, Status.STOPPING,
         Status.SKIPPED, Status.UPSTREAM_FAILED}
    ),
    Status.ON_SCHEDULE: frozenset({Status.QUEUED, Status.STOPPED, Status.DONE, Status.FAILED}),
    Status.QUEUED: frozenset(
        {Status.SCHEDULED, Status.RUNNING, Status.FAILED, Status.STOPPED, Status.STOPPING,
         Status.SKIPPED, Status.UPSTREAM_FAILED}
    ),
    Status.SCHEDULED: frozenset(
        {Status.STARTING, Status.UNSCHEDULABLE} | _ALIVE | _ENDINGS | {Status.RETRYING}
    ),
    Status.STARTING: frozenset(_ALIVE | _ENDINGS | {Status.RETRYING}),
    Status.RUNNING: frozenset(
        {Status.WARNING, Status.UNKNOWN} | _ENDINGS | {Status.RETRYING}
    ),
    Status.WARNING: frozenset({Status.RUNNING, Status.UNKNOWN} | _ENDINGS | {Status.RETRYING}),
    Status.UNKNOWN: frozenset({Status.RUNNING, Status.WARNING} | _ENDINGS | {Status.RETRYING}),
    Status.UNSCHEDULABLE: frozenset(
        {Status.SCHEDULED, Status.STARTING, Status.RUNNING} | _ENDINGS | {Status.RETRYING}
    ),
    Status.STOPPING: frozenset({Status.STOPPED, Status.FAILED, Status.SUCCEEDED}),
    Status.RETRYING: frozenset({Status.QUEUED, Status.FAILED, Status.STOPPED, Status.STOPPING}),
    Status.RESUMING: frozenset({Status.COMPILED, Status.QUEUED, Status.FAILED, Status.STOPPED}),
    Status.SUCCEEDED: frozenset({Status.RESUMING}),
    Status.FAILED: frozenset({Status.RESUMING}),
    Status.STOPPED: frozenset({Status.RESUMING}),
    Status.UPSTREAM_FAILED: frozenset({Status.RESUMING}),
    Status.SKIPPED: frozenset(),
    Status.DONE: frozenset(),
}


class IllegalTransition(Exception):
    """Raised where a caller insists on applying a transition the table forbids."""


def can_transition(current: str | Status, new: str | Status) -> bool:
    """Whether a run in ``current`` may move to ``new`` (the same status is not a move)."""
    try:
        source, target = Status(current), Status(new)
    except ValueError:
        return False
    return target in TRANSITIONS[source]


def is_final(status: str | Status) -> bool:
    return status in FINAL_STATUSES  # a StrEnum's members hash and compare as their values


def is_active(status: str | Status) -> bool:
    return status in ACTIVE_STATUSES
