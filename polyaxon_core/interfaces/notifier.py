from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

from polyaxon_core.entities import ConnectionEntity, Notification
from polyaxon_core.interfaces.base import PluginClass


class Notifier(PluginClass):
    """Tells people and systems about runs, through a connection of the catalog.

    An operation's ``hooks`` (``hubRef`` names the notifier, ``connection`` the catalog
    entry) and ``plugins.notifications`` (the connection's kind names the notifier) ask for
    notifications; the orchestrator delivers them off the run's path, retrying with
    backoff, so a notifier that fails or hangs never delays or breaks a run.
    """

    #: the connection kinds this notifier delivers through (``slack``, ``webhook``, ...)
    kinds: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, connection: ConnectionEntity, timeout: float) -> None:
        self.connection = connection
        #: seconds one delivery may take before it counts as failed
        self.timeout = timeout

    @abstractmethod
    def notify(self, notification: Notification) -> None:
        """Deliver ``notification`` now; raise (any exception, its message saying what went
        wrong, never a secret) when it was not delivered, to be retried."""
