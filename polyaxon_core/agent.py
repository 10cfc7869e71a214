"""``polyaxon agent``: the process next to a cluster that starts an agent's runs there.

Each pass it claims the runs of its queues from the server (``POST .../claim``: each
comes as the launch request the server built), starts them with its scheduler (the
Kubernetes scheduler by default, in its namespace) and reports their handles; then it
asks its scheduler about the runs it started (``GET .../runs``: with their stop
requests, which the scheduler's base class carries out) and reports what it observed
(``POST .../runs/<uuid>/report``), cleaning up once the server says a run is final.
The server applies every report as its own orchestrator applies its scheduler's: the
agent holds no run state of its own, so it can be killed and started again at any time.

Logs go where the scheduler ships them: the artifacts store the agent is configured with
(``POLYAXON_ARTIFACTS_STORE``), which is the server's, so ``polyaxon ops logs`` reads
them there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from polyaxon_core.client.errors import ApiError, ServerUnreachable
from polyaxon_core.client.transport import Transport
from polyaxon_core.domain.agents import launch_from_document, run_from_document
from polyaxon_core.interfaces import Scheduler
from polyaxon_core.interfaces.scheduler import ActiveRun, SchedulerUnavailable

logger = logging.getLogger(__name__)


class AgentClient:
    """The agent endpoints of one server, for one agent."""

    def __init__(self, transport: Transport, agent: str, owner: str = "default") -> None:
        self.transport = transport
        self.path = f"/api/v1/orgs/{owner}/agents/{agent}"

    def claim(self, limit: int, scheduler: str) -> list[dict[str, Any]]:
        answer = self.transport.request("POST", f"{self.path}/claim",
                                        json_body={"limit": limit, "scheduler": scheduler})
        return list(answer.json()["results"])

    def runs(self) -> list[dict[str, Any]]:
        return list(self.transport.request("GET", f"{self.path}/runs").json()["results"])

    def report(self, uuid: str, **body: Any) -> dict[str, Any]:
        # a report applied twice is harmless (a status already recorded is not again)
        answer = self.transport.request("POST", f"{self.path}/runs/{uuid}/report",
                                        json_body=body, idempotent=True)
        return dict(answer.json())


class Agent:
    """Claims, starts and watches the runs of one agent (see the module docstring)."""

    def __init__(self, client: AgentClient, scheduler: Scheduler, batch: int = 10) -> None:
        self.client = client
        self.scheduler = scheduler
        self.batch = batch

    def tick(self) -> None:
        """One pass: start what was claimed, then report on what runs."""
        self._start_claimed()
        self._report()

    def _start_claimed(self) -> None:
        for document in self.client.claim(self.batch, self.scheduler.name):
            launch = launch_from_document(document)
            uuid = launch.run.uuid
            try:
                handle = dict(self.scheduler.submit(launch))
            except SchedulerUnavailable as exc:  # claimed again on the next pass
                logger.warning("run %s waits for the cluster: %s", uuid, exc)
                continue
            except Exception as exc:  # a manifest the cluster refused fails the run
                logger.info("run %s could not be started: %s", uuid, exc)
                self.client.report(uuid, status="failed", reason="launch failed", message=str(exc))
                continue
            answer = self.client.report(uuid, handle=handle)
            if not answer["accepted"]:  # stopped while it was being started
                self.scheduler.stop(launch.run, handle, force=True)
                self.scheduler.cleanup(launch.run, handle)
            else:
                logger.info("run %s started", uuid)

    def _report(self) -> None:
        active = [ActiveRun(run_from_document(item["run"]), dict(item["handle"]),
                            item.get("stop_requested_at"))
                  for item in self.client.runs()]
        if not active:
            return
        try:
            updates = self.scheduler.sync(active)
        except SchedulerUnavailable as exc:
            logger.warning("the cluster cannot report on its runs now: %s", exc)
            return
        started = {item.run.uuid: item for item in active}
        for update in updates:
            answer = self.client.report(
                update.run_uuid, status=update.status, reason=update.reason, message=update.message,
                exit_code=update.exit_code, retries_itself=self.scheduler.retries_itself)
            if answer["final"]:
                item = started[update.run_uuid]
                self.scheduler.cleanup(item.run, item.handle)

    def run_forever(self, should_stop: Callable[[], bool], interval: float,
                    wait: Callable[[float], object] = time.sleep) -> None:
        """Pass after pass until ``should_stop()``; a server that cannot be reached, or
        answers with an error, is logged and tried again on the next pass."""
        reported: str | None = None
        while not should_stop():
            try:
                self.tick()
                problem = None
            except (ServerUnreachable, ApiError) as exc:
                problem = str(exc)
            if problem != reported:
                if problem is None:
                    logger.info("the server answers again")
                else:
                    logger.error("agent pass failed: %s; retrying", problem)
                reported = problem
            wait(interval)
