from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Any

from polyaxon_core.config import Settings
from polyaxon_core.entities import RunEntity
from polyaxon_core.interfaces.base import PluginClass


class WorkspaceService(PluginClass):
    """An interactive service attached to a project or run (notebook, dashboard)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @abstractmethod
    def start(self, run: RunEntity, options: Mapping[str, Any]) -> Mapping[str, Any]:
        """Start the service; return how to reach it (at least ``{"url": ...}``)."""

    @abstractmethod
    def stop(self, run: RunEntity, handle: Mapping[str, Any]) -> None:
        """Stop a service started by :meth:`start`."""
