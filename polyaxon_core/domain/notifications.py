"""Notifications: what a run's hooks owe when it ends, and delivering them.

A run's content asks for notifications in two places, as Polyaxon writes them:

* ``hooks``: ``{hubRef: slack, connection: team-slack, trigger: failed, conditions: ...}``
  — ``hubRef`` names the notifier plugin, ``connection`` the catalog entry it delivers
  through;
* ``plugins.notifications``: ``{connections: [team-slack, ...], trigger: done}`` — each
  connection's kind names the notifier.

A ``trigger`` is a final status, or ``done`` for any of them (the default). When
:func:`polyaxon_core.domain.state.transition` moves a run to a final status, it calls
:func:`queue_notifications` in the same transaction: one ``pending`` delivery row per
notification owed (unique per run attempt, source and connection), so a notification is
owed exactly once, whoever ended the run. The orchestrator's :class:`Dispatcher` delivers
them on threads of its own, off every run's path: an attempt that fails (or takes longer
than the timeout) is retried after a backoff that doubles, up to the last attempt, and
each attempt's outcome is on the row (``polyaxon ops get`` shows them).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from polyaxon_core.config import Settings
from polyaxon_core.db.models import NotificationDelivery, Run
from polyaxon_core.lifecycle import is_final

logger = logging.getLogger(__name__)

PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"
#: what a notification may be triggered by: a final status, or ``done`` for any of them
TRIGGERS = ("succeeded", "failed", "stopped", "skipped", "upstream_failed", "done")
#: how often a notification is tried, the first wait between two tries (doubling), and how
#: long one try may take, in seconds
ATTEMPTS_VARIABLE, BACKOFF_VARIABLE, TIMEOUT_VARIABLE = (
    "POLYAXON_NOTIFY_ATTEMPTS", "POLYAXON_NOTIFY_BACKOFF", "POLYAXON_NOTIFY_TIMEOUT")
DEFAULT_ATTEMPTS, DEFAULT_BACKOFF, DEFAULT_TIMEOUT = 5, 2.0, 10.0


def trigger_matches(trigger: str | None, status: str) -> bool:
    return (trigger or "done") in (status, "done") and is_final(status)


def owed(content: Mapping[str, Any], status: str, context: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The notifications a run with ``content`` owes on ending ``status``: each as the
    values of its delivery row (``notifier`` empty when the connection's kind decides)."""
    from polyaxon_core.spec.templating import conditions_hold

    component = content.get("component") or {}
    for index, hook in enumerate(content.get("hooks") or component.get("hooks") or []):
        if not trigger_matches(hook.get("trigger"), status):
            continue
        row = {"source": f"hooks[{index}]", "connection": hook.get("connection") or "",
               "notifier": hook.get("hubRef") or "", "trigger": hook.get("trigger") or "done"}
        conditions = hook.get("conditions")
        if conditions:
            try:
                if not conditions_hold(conditions, context):
                    continue
            except ValueError as exc:
                yield {**row, "status": FAILED, "last_error": str(exc)}
                continue
        yield row
    plugins = content.get("plugins") or component.get("plugins") or {}
    for index, notification in enumerate(plugins.get("notifications") or []):
        if not trigger_matches(notification.get("trigger"), status):
            continue
        for connection in notification.get("connections") or []:
            yield {"source": f"plugins.notifications[{index}]", "connection": connection,
                   "notifier": "", "trigger": notification.get("trigger") or "done"}


def hook_problems(spec: Any) -> list[str]:
    """Why the ``hooks`` of ``spec`` (an OperationSpec, its DAG's operations included)
    cannot act: a ``hubRef`` that names no installed notifier, or no ``connection``. The
    installed notifiers are looked for only when there is a hook."""
    hooks = list(_hooks(spec))
    if not hooks:
        return []
    from polyaxon_core.plugins import get_plugin_manager

    notifiers = sorted(get_plugin_manager().contributions("notifier"))
    problems = []
    for where, hook in hooks:
        if hook.get("hubRef") not in notifiers:
            problems.append(
                f"{where}.hubRef `{hook.get('hubRef')}` names no installed notifier (installed: "
                f"{', '.join(notifiers) or 'none'}); hooks run notifiers only: a hook running a hub "
                "component does not act yet")
        elif not hook.get("connection"):
            problems.append(f"{where} needs a `connection`: the catalog entry its notifier "
                            "delivers through")
    return problems


def _hooks(spec: Any) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The hooks of ``spec`` and of its DAG's operations, each with where it is."""
    for index, hook in enumerate(spec.hooks):
        yield f"{spec.name or 'the operation'}: hooks[{index}]", hook
    for operation in spec.dag_operations:
        yield from _hooks(operation)


def notifier_kinds() -> set[str]:
    """The connection kinds the installed notifiers deliver through."""
    from polyaxon_core.plugins import get_plugin_manager

    return {kind for notifier in get_plugin_manager().contributions("notifier").values()
            for kind in getattr(notifier, "kinds", ())}


def notifier_connections() -> list[str]:
    """The names of the catalog's connections a notifier can deliver through (none when
    this machine has no readable catalog)."""
    from polyaxon_core.connections import CatalogError, load_catalog

    kinds = notifier_kinds()
    try:
        catalog = load_catalog()
    except CatalogError:
        return []
    return sorted(connection.name for connection in catalog.connections if connection.kind in kinds)


def checked_project_notifications(entries: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """A project's notifications, each ``{connection, trigger}``, checked: the connection
    exists in the catalog with a kind a notifier delivers through, the trigger is a final
    status or ``done``; InvalidRequest naming the entry otherwise."""
    from polyaxon_core.connections import get_connection
    from polyaxon_core.connections.catalog import CatalogError, UnknownConnection
    from polyaxon_core.errors import InvalidRequest, Unprocessable

    kinds = notifier_kinds()
    checked = []
    for index, entry in enumerate(entries):
        connection, trigger = str(entry.get("connection") or ""), str(entry.get("trigger") or "done")
        if trigger not in TRIGGERS:
            raise InvalidRequest(f"notifications[{index}]: `{trigger}` is not a trigger; one of "
                                 f"{', '.join(TRIGGERS)}")
        try:
            kind = get_connection(connection).kind
        except (UnknownConnection, CatalogError) as exc:
            raise Unprocessable(f"notifications[{index}]: {exc}") from None
        if kind not in kinds:
            raise Unprocessable(f"notifications[{index}]: connection {connection!r} is of kind "
                                 f"{kind!r}, which no installed notifier delivers through "
                                 f"({', '.join(sorted(kinds)) or 'none installed'})")
        checked.append({"connection": connection, "trigger": trigger})
    return checked


def queue_notifications(session: Session, run: Run, status: str) -> int:
    """Owe ``run``'s notifications for its final ``status`` (in the caller's transaction):
    its hooks', its ``plugins.notifications``', and its project's."""
    from polyaxon_core.db.models import Project
    from polyaxon_core.domain.metrics import current_attempt

    project = session.get(Project, run.project_id)
    project_rows = [
        {"source": f"project.notifications[{index}]", "connection": entry["connection"],
         "notifier": "", "trigger": entry["trigger"]}
        for index, entry in enumerate((project.notifications if project is not None else None) or [])
        if trigger_matches(entry.get("trigger"), status)
    ]
    rows: list[dict[str, Any]] = []
    if run.content and ('"hooks"' in run.content or '"notifications"' in run.content):
        context = {**(run.inputs or {}), **(run.outputs or {}), "status": status, "name": run.name,
                   "uuid": run.uuid}
        rows = list(owed(json.loads(run.content), status, context))
    for row in [*rows, *project_rows]:
        session.add(NotificationDelivery(run_id=run.id, run_attempt=current_attempt(run), **row))
    return len(rows) + len(project_rows)


def deliveries_of(session: Session, run: Run) -> list[dict[str, Any]]:
    """The run's notifications and how their delivery went, oldest first."""
    rows = session.scalars(select(NotificationDelivery).where(NotificationDelivery.run_id == run.id)
                           .order_by(NotificationDelivery.id))
    return [{"source": row.source, "connection": row.connection, "notifier": row.notifier or None,
             "trigger": row.trigger, "status": row.status, "attempts": row.attempts,
             "last_error": row.last_error, "run_attempt": row.run_attempt,
             "created_at": row.created_at.isoformat(),
             "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None}
            for row in rows]


def _number(name: str, default: float) -> float:
    from polyaxon_core.config import ConfigurationError

    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a number; unset it for {default:g}") from None
    if value <= 0:
        raise ConfigurationError(f"{name}={raw!r} must be > 0; unset it for {default:g}")
    return value


class Dispatcher:
    """Delivers the pending notifications of one database, on a thread of its own.

    Each due delivery is claimed with a compare-and-set (its next attempt moved past the
    timeout, so a second dispatcher leaves it alone while the first tries), then tried on
    a small pool: one slow receiver holds one worker for at most the timeout.
    """

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time,
                 workers: int = 4) -> None:
        self.settings = settings
        self.clock = clock
        self.attempts = int(_number(ATTEMPTS_VARIABLE, DEFAULT_ATTEMPTS))
        self.backoff = _number(BACKOFF_VARIABLE, DEFAULT_BACKOFF)
        self.timeout = _number(TIMEOUT_VARIABLE, DEFAULT_TIMEOUT)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="notify")
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="notifications", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def has_pending(self) -> bool:
        from polyaxon_core.db.session import session_scope

        with session_scope(self.settings.db_url) as session:
            return session.scalar(select(NotificationDelivery.id).where(
                NotificationDelivery.status == PENDING).limit(1)) is not None

    def _loop(self) -> None:
        while not self._stopped.is_set():
            try:
                self.dispatch_due()
            except Exception as exc:  # the database went away for a moment: try again next time
                from polyaxon_core.db.session import is_disconnect

                if is_disconnect(exc):
                    logger.warning("delivering notifications: lost the database connection; "
                                   "reconnecting")
                else:
                    logger.exception("delivering notifications failed; retrying")
            self._stopped.wait(self.settings.poll_interval)

    def dispatch_due(self) -> list[Any]:
        """Claim the deliveries due now and start trying them; their futures."""
        from polyaxon_core.db.session import session_scope

        now = self._now()
        lease = now + timedelta(seconds=self.timeout + 5)
        claimed: list[int] = []
        with session_scope(self.settings.db_url) as session:
            due = session.execute(
                select(NotificationDelivery.id, NotificationDelivery.next_attempt_at)
                .where(NotificationDelivery.status == PENDING, NotificationDelivery.next_attempt_at <= now)
                .order_by(NotificationDelivery.next_attempt_at).limit(50)).all()
            for delivery_id, next_attempt_at in due:
                moved = session.execute(
                    update(NotificationDelivery)
                    .where(NotificationDelivery.id == delivery_id, NotificationDelivery.status == PENDING,
                           NotificationDelivery.next_attempt_at == next_attempt_at)
                    .values(next_attempt_at=lease, attempts=NotificationDelivery.attempts + 1)
                    .execution_options(synchronize_session=False))
                if getattr(moved, "rowcount", 0) == 1:
                    claimed.append(delivery_id)
        return [self._pool.submit(self.attempt, delivery_id) for delivery_id in claimed]

    def attempt(self, delivery_id: int) -> None:
        """Try one claimed delivery once and record how it went."""
        from polyaxon_core.db.session import session_scope

        error: str | None = None
        try:
            notifier, notification = self._prepare(delivery_id)
            notifier.notify(notification)
        except Exception as exc:  # whatever the notifier raised: recorded, then retried
            error = f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc)
        with session_scope(self.settings.db_url) as session:
            delivery = session.get(NotificationDelivery, delivery_id)
            if delivery is None:
                return  # its run was deleted meanwhile
            now = self._now()
            if error is None:
                delivery.status, delivery.delivered_at, delivery.last_error = SUCCEEDED, now, None
            elif delivery.attempts >= self.attempts:
                delivery.status, delivery.last_error = FAILED, error
            else:
                delivery.last_error = error
                delivery.next_attempt_at = now + timedelta(
                    seconds=self.backoff * 2 ** (delivery.attempts - 1))
        if error is not None:
            logger.info("notification %d: attempt failed: %s", delivery_id, error)

    def _prepare(self, delivery_id: int) -> tuple[Any, Any]:
        from polyaxon_core.connections import get_connection
        from polyaxon_core.db.convert import run_to_entity
        from polyaxon_core.db.session import session_scope
        from polyaxon_core.entities import Notification
        from polyaxon_core.interfaces import Notifier
        from polyaxon_core.plugins import get_plugin_manager

        with session_scope(self.settings.db_url) as session:
            delivery = session.get(NotificationDelivery, delivery_id)
            run = session.get(Run, delivery.run_id) if delivery is not None else None
            if delivery is None or run is None:
                raise LookupError("the run is gone")
            message = run.conditions[-1].message if run.conditions else None
            notification = Notification(run=run_to_entity(run), trigger=delivery.trigger,
                                        message=message)
            connection_name, notifier_name = delivery.connection, delivery.notifier
        connection = get_connection(connection_name)
        notifier_name = notifier_name or connection.kind
        notifier_class: type[Notifier] = get_plugin_manager().get("notifier", notifier_name)
        if connection.kind not in notifier_class.kinds:
            raise ValueError(f"connection {connection.name!r} is of kind {connection.kind!r}; "
                             f"notifier {notifier_name!r} delivers through "
                             f"{', '.join(sorted(notifier_class.kinds))}")
        return notifier_class(connection, self.timeout), notification
