"""One base class per plugin kind; the loops live here, backends fill in the steps."""

from polyaxon_core.interfaces.base import PluginClass, PluginConfigError
from polyaxon_core.interfaces.builder import Builder
from polyaxon_core.interfaces.hub import ComponentHub, HubEntry, HubUnavailable
from polyaxon_core.interfaces.notifier import Notifier
from polyaxon_core.interfaces.optimizer import Optimizer
from polyaxon_core.interfaces.scheduler import Scheduler
from polyaxon_core.interfaces.service import WorkspaceService
from polyaxon_core.interfaces.store import ArtifactStore, UnsafePathError


class AuthenticationFailed(Exception):
    """Raised by an ``polyaxon_authenticate`` implementation to reject a request."""


#: plugin kind (as in entry-point names) -> its base class
PLUGIN_KINDS: dict[str, type[PluginClass]] = {
    "scheduler": Scheduler,
    "builder": Builder,
    "optimizer": Optimizer,
    "store": ArtifactStore,
    "service": WorkspaceService,
    "notifier": Notifier,
    "hub": ComponentHub,
}

__all__ = [
    "PLUGIN_KINDS",
    "ArtifactStore",
    "AuthenticationFailed",
    "Builder",
    "ComponentHub",
    "HubEntry",
    "HubUnavailable",
    "Notifier",
    "Optimizer",
    "PluginClass",
    "PluginConfigError",
    "Scheduler",
    "UnsafePathError",
    "WorkspaceService",
]
