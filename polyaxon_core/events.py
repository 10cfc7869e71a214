"""Run events: queued on the session while a change is made, broadcast after it commits.

Plugins only hear about changes that really happened: a rolled-back transaction fires
nothing. A plugin that raises is logged and does not disturb the others' delivery of
events, nor the change itself.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

_KEY = "polyaxon_pending_events"
#: the event hooks some installed plugin implements, comma-separated: what the
#: orchestrator tells the runs that write to the database themselves (the embedded
#: default), so that a run answers :func:`has_listeners` without loading every plugin
LISTENERS_VARIABLE = "POLYAXON_EVENT_LISTENERS"
#: the same, as the running orchestrator published it, while a command submits to it
#: (see :func:`listeners_declared`)
_declared: ContextVar[str | None] = ContextVar("polyaxon_event_listeners", default=None)


def queue_event(session: Session, hook_name: str, **kwargs: Any) -> None:
    """Queue the event for after the commit, unless no plugin hears it (:func:`has_listeners`)."""
    if has_listeners(hook_name):
        session.info.setdefault(_KEY, []).append((hook_name, kwargs))


@contextmanager
def listeners_declared(names: str | None) -> Iterator[None]:
    """Within the block, take ``names`` (as :func:`listened_events` gives them; None: no
    change) as the event hooks plugins implement: what the orchestrator serving the home
    published, found with the plugins this process would load (a command that submits to
    it need not load them all to know that nobody listens)."""
    token = _declared.set(names) if names is not None else None
    try:
        yield
    finally:
        if token is not None:
            _declared.reset(token)


def has_listeners(hook_name: str) -> bool:
    """Whether any plugin implements the event hook ``hook_name`` (events nobody hears
    need not be queued); in a run, as the orchestrator that launched it said, and in a
    process that submits to a running orchestrator, as that one published."""
    declared = os.environ.get(LISTENERS_VARIABLE, _declared.get())
    if declared is not None:
        return hook_name in declared.split(",")
    from polyaxon_core.plugins import get_plugin_manager

    return bool(getattr(get_plugin_manager().hook, hook_name).get_hookimpls())


def listened_events() -> str:
    """The event hooks (``polyaxon_on_*``) some installed plugin implements, for
    :data:`LISTENERS_VARIABLE`."""
    from polyaxon_core.plugins import get_plugin_manager

    hook = get_plugin_manager().hook
    return ",".join(sorted(name for name, caller in vars(hook).items()
                           if name.startswith("polyaxon_on_") and caller.get_hookimpls()))


def discard_pending(session: Session) -> None:
    session.info.pop(_KEY, None)


def dispatch_pending(session: Session) -> None:
    pending = session.info.pop(_KEY, [])
    if not pending:
        return
    from polyaxon_core.plugins import get_plugin_manager

    hook = get_plugin_manager().hook
    for hook_name, kwargs in pending:
        # each implementation on its own, so one failing plugin does not silence the rest
        for implementation in getattr(hook, hook_name).get_hookimpls():
            try:
                implementation.function(
                    **{name: kwargs[name] for name in implementation.argnames}
                )
            except Exception:
                logger.exception("plugin %s failed while handling %s",
                                 implementation.plugin_name, hook_name)
