from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Any

from polyaxon_core.config import Settings
from polyaxon_core.entities import RunEntity
from polyaxon_core.interfaces.base import PluginClass


class Builder(PluginClass):
    """Turns an operation's ``build`` section into a container image reference."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @abstractmethod
    def build(self, run: RunEntity, build: Mapping[str, Any]) -> str:
        """Build (or find) the image for ``run``; return its reference."""
