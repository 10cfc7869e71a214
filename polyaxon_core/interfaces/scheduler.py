from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from polyaxon_core.config import Settings
from polyaxon_core.entities import LaunchRequest, RunEntity, StatusUpdate
from polyaxon_core.interfaces.base import PluginClass
from polyaxon_core.lifecycle import is_final


class SchedulerUnavailable(Exception):
    """The backend cannot be reached now (a cluster's API down, a broker gone).

    Raised by :meth:`Scheduler.submit`, it keeps the run scheduled: the orchestrator
    submits it again on its next pass instead of failing it. The message says what could
    not be reached."""


@dataclass(frozen=True)
class ActiveRun:
    """A run the orchestrator believes is executing, with the scheduler's handle for it.

    ``stop_requested_at`` is the wall-clock time a stop was first asked for (``None``
    when none was); the base class uses it to escalate to a forced stop.
    """

    run: RunEntity
    handle: Mapping[str, Any]
    stop_requested_at: float | None = None


class Scheduler(PluginClass):
    """Starts runs somewhere and reports what became of them.

    A backend implements :meth:`submit`, :meth:`poll` and :meth:`stop`. The orchestrator
    keeps all state in the database; the handle returned by :meth:`submit` is stored on the
    run, so a restarted orchestrator (with a new scheduler object) can still poll and stop
    runs started by its predecessor. The loop — polling every active run, escalating a
    stop from graceful to forced after the grace period — lives in :meth:`sync`.
    """

    #: Whether ``run.kind: service`` (long-running, with ports) can run here.
    supports_services: ClassVar[bool] = False
    #: Whether runs keep going when the orchestrator process dies.
    survives_orchestrator_restart: ClassVar[bool] = True
    #: Whether the backend retries a failed run itself (a Kubernetes Job's
    #: ``backoffLimit``): the orchestrator then does not retry what it reports failed.
    retries_itself: ClassVar[bool] = False
    #: Whether the scheduler's workers build each run's launch (its token, its secrets)
    #: from the database where they start it: the orchestrator's launch request, only
    #: checked by :meth:`submit`, then carries no token.
    launches_on_workers: ClassVar[bool] = False

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        # runs this object already asked to stop gracefully (kept in memory only: after a
        # restart a run is asked once more, which is harmless)
        self._graceful_stop_sent: set[str] = set()

    @classmethod
    def run_globals(cls, settings: Settings) -> dict[str, Any]:
        """The ``globals.*`` a run sees differently where this scheduler starts it (a pod's
        own paths, its namespace); none by default: the paths of this machine."""
        return {}

    def service_ports(self, declared: Sequence[int]) -> list[int]:
        """The ports a service declaring ``declared`` listens on where this scheduler starts
        it (``globals.ports``): the declared ones by default, as in a pod of its own."""
        return list(declared)

    @classmethod
    def check_run(cls, run: Mapping[str, Any]) -> list[tuple[str, str]]:
        """What this scheduler cannot start in a polyaxonfile's ``run`` section, as
        ``(field path, message with the fix)`` pairs, for ``polyaxon check`` and
        submission; nothing by default."""
        return []

    @classmethod
    def describe(cls, settings: Settings, launch: LaunchRequest) -> list[dict[str, Any]]:
        """What :meth:`submit` would start for ``launch``, as documents to print, starting
        and changing nothing (``polyaxon run --dry-run``); no secret value is in them.

        By default: the process, its image and working directory, the names of its
        variables and its initializers. A scheduler of a cluster gives its objects. A
        launch it cannot start raises ValueError saying why and what to change."""
        container = launch.container
        document: dict[str, Any] = {
            "scheduler": cls.name,
            "run": launch.run.uuid,
            "command": [*container.command, *container.args],
            "workingDir": container.working_dir or launch.context_path or launch.run_path,
            "env": sorted({*launch.env, *container.env}),
        }
        if container.image:
            document["image"] = container.image
        if launch.init:
            document["init"] = [{"kind": step.kind, "destination": step.destination}
                                for step in launch.init]
        if launch.connections:
            document["connections"] = [connection.name for connection in launch.connections]
        return [document]

    @classmethod
    def serve_worker(cls, settings: Settings, queues: Sequence[str], concurrency: int,
                     name: str | None) -> None:
        """Be a worker that executes the runs this scheduler dispatches (``polyaxon
        worker``), taking those of ``queues`` (Polyaxon queue names), ``concurrency`` at a
        time, until stopped. A scheduler that starts runs without workers refuses, saying
        which one has them."""
        from polyaxon_core.config import ConfigurationError

        raise ConfigurationError(
            f"the {cls.name} scheduler starts runs itself, without workers: `polyaxon worker` "
            "serves a scheduler that dispatches runs to workers (POLYAXON_SCHEDULER=celery)")

    def prepare(self) -> None:  # noqa: B027
        """Get ready to start runs: called once by a long-lived orchestrator as it starts,
        so that what the first run needs (a warm process, a connection) is made while
        nothing waits on it. Nothing by default."""

    @abstractmethod
    def submit(self, launch: LaunchRequest) -> Mapping[str, Any]:
        """Start the run; return a JSON-serializable handle to find it again."""

    @abstractmethod
    def poll(self, run: RunEntity, handle: Mapping[str, Any]) -> StatusUpdate:
        """Report the run's current state (running, succeeded, failed, stopped, ...)."""

    @abstractmethod
    def stop(self, run: RunEntity, handle: Mapping[str, Any], force: bool) -> None:
        """Ask the run to stop (``force=False``) or kill it (``force=True``)."""

    def cleanup(self, run: RunEntity, handle: Mapping[str, Any]) -> None:  # noqa: B027
        """Release what the run held once it is final; nothing by default."""

    def sync(self, active: Sequence[ActiveRun]) -> list[StatusUpdate]:
        """Poll every active run and push pending stops along; return what changed.

        A run with a stop request is stopped gracefully once and forcibly after
        ``settings.stop_grace_period`` seconds if it is still alive.
        """
        updates: list[StatusUpdate] = []
        now = self.clock()
        for item in active:
            update = self.poll(item.run, item.handle)
            if item.stop_requested_at is not None and not is_final(update.status):
                force = now - item.stop_requested_at >= self.settings.stop_grace_period
                if force or item.run.uuid not in self._graceful_stop_sent:
                    self.stop(item.run, item.handle, force=force)
                    self._graceful_stop_sent.add(item.run.uuid)
            if is_final(update.status):
                self._graceful_stop_sent.discard(item.run.uuid)
            if update.status != item.run.status:
                updates.append(update)
        return updates
