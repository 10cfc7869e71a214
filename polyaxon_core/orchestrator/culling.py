"""The culling controller: stops the services idle for longer than their
``termination.culling.timeout``.

A running service with culling is probed every third of its timeout (at most every 30
seconds) with its ``termination.probe.http``: a GET of the probe's ``path`` on the
service's own address and the port the probe names (a declared port; a ``host`` in the
file is not followed). What the answer says:

* JSON with ``last_activity`` (Jupyter's ``/api/status``, which counts kernels and API
  use): the service was last used then;
* any other 2xx answer: it is in use now;
* anything else, or no answer: nothing new.

A service idle for longer than its timeout, since its last activity (or since it started,
when it never said) is stopped as ``polyaxon ops stop`` would stop it, with the reason
``culled`` and how long it was idle in its timeline. What was learned is kept in memory:
an orchestrator started again counts from the service's start until its first probe.
"""

from __future__ import annotations

import http.client
import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from polyaxon_core.config import Settings
from polyaxon_core.db.models import Run, utcnow
from polyaxon_core.db.session import session_scope
from polyaxon_core.domain.commands import load_spec, request_stop
from polyaxon_core.lifecycle import Status

logger = logging.getLogger(__name__)

#: the longest wait between two probes of a service, and how long one may take
MOST_SECONDS_BETWEEN_PROBES = 30.0
PROBE_SECONDS = 5.0


class CullingController:
    """Probes the running services that have culling, and stops the idle ones."""

    def __init__(self, settings: Settings, run_globals: Mapping[str, Any],
                 artifacts_of: Callable[[str], Path],
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self.run_globals = run_globals
        self.artifacts_of = artifacts_of
        self.clock = clock
        #: run uuid -> (when it was last probed, when it was last active)
        self._seen: dict[str, tuple[datetime, datetime]] = {}
        #: run uuid -> its culling timeout (None: no culling), read once from its content
        self._timeouts: dict[str, float | None] = {}

    def control_all(self) -> None:
        due = self._due()
        for uuid, started, timeout, address in due:
            active = self._seen.get(uuid, (None, started))[1]
            learned = _probe(address, self.clock())
            now = self.clock()
            if learned is not None and learned > active:
                active = learned
            self._seen[uuid] = (now, active)
            idle = (now - active).total_seconds()
            if idle >= timeout:
                self._cull(uuid, idle, timeout)

    def _due(self) -> list[tuple[str, datetime, float, str]]:
        """The running services with culling whose next probe is due: their uuid, start,
        timeout and the URL of their probe."""
        now = self.clock()
        due = []
        with session_scope(self.settings.db_url) as session:
            rows = session.scalars(select(Run).options(selectinload(Run.project)).where(
                Run.kind == "service", Run.status == Status.RUNNING.value)).all()
            running = {run.uuid for run in rows}
            for uuid in [*self._seen, *self._timeouts]:
                if uuid not in running:
                    self._seen.pop(uuid, None)
                    self._timeouts.pop(uuid, None)
            for run in rows:
                if run.uuid not in self._timeouts:  # every tick asks: parsed once per run
                    termination = load_spec(run).termination
                    self._timeouts[run.uuid] = (float(termination.culling_timeout)
                                                if termination and termination.culling_timeout
                                                else None)
                timeout = self._timeouts[run.uuid]
                if timeout is None:
                    continue
                probed = self._seen.get(run.uuid, (None, None))[0]
                if probed is not None and (now - probed).total_seconds() < min(
                        MOST_SECONDS_BETWEEN_PROBES, timeout / 3):
                    continue
                address = self._address(run, load_spec(run))
                if address is None:
                    continue
                due.append((run.uuid, run.started_at or now, timeout, address))
        return due

    def _address(self, run: Run, spec: Any) -> str | None:
        """The URL of ``run``'s probe at the service's own address; None when it cannot
        be probed (no probe, a port it does not declare, a template that fails)."""
        from polyaxon_core.orchestrator.loop import template_globals

        service = (run.scheduler_handle or {}).get("service") or {}
        try:
            probe = spec.render_probe(dict(run.inputs or {}), template_globals(
                self.settings, run, self.artifacts_of(run.uuid), self.run_globals))
        except Exception as exc:  # a template that fails: said once per probe, never fatal
            logger.warning("the probe of service %s cannot be rendered: %s", run.uuid, exc)
            return None
        http = probe.get("http") or {}
        port = (service.get("ports") or {}).get(str(http.get("port")))
        if port is None or not service.get("host"):
            return None
        path = str(http.get("path") or "/")
        scheme = str(http.get("scheme") or "HTTP").lower()
        return f"{scheme}://{service['host']}:{port}{path if path.startswith('/') else '/' + path}"

    def _cull(self, uuid: str, idle: float, timeout: float) -> None:
        with session_scope(self.settings.db_url) as session:
            run = session.scalar(select(Run).where(Run.uuid == uuid))
            if run is None or run.status != Status.RUNNING.value:
                return
            logger.info("service %s was idle for %.0fs: culled", uuid, idle)
            request_stop(session, run, reason="culled",
                         message=f"idle for {idle:.0f}s, longer than its termination.culling."
                                 f"timeout of {timeout:g}s")
        self._seen.pop(uuid, None)


def _probe(url: str, now: datetime) -> datetime | None:
    """When the service at ``url`` was last active, as far as its answer says (asked
    directly: no proxy of the environment, no redirect followed)."""
    parts = urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = kind(str(parts.hostname), parts.port, timeout=PROBE_SECONDS)
    try:
        connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        answer = connection.getresponse()
        body = answer.read(1024 * 1024)
    except (OSError, http.client.HTTPException):
        return None  # no answer: nothing new
    finally:
        connection.close()
    if not 200 <= answer.status < 300:
        return None
    try:
        reported = json.loads(body).get("last_activity")
    except (ValueError, AttributeError):
        return now
    if not isinstance(reported, str):
        return now
    try:
        moment = datetime.fromisoformat(reported.replace("Z", "+00:00"))
    except ValueError:
        return now
    return moment if moment.tzinfo is not None else None
