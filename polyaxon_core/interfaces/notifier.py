from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Any

from polyaxon_core.entities import RunEntity
from polyaxon_core.interfaces.base import PluginClass


class Notifier(PluginClass):
    """Tells people about runs (an operation's ``hooks`` name a notifier by ``connection``)."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.options = options

    @abstractmethod
    def notify(self, run: RunEntity, event: str) -> None:
        """Deliver a notification that ``event`` (a status name) happened to ``run``."""
