"""Build the plugin manager: hook specs -> entry points -> validation -> registry.

Every concrete backend, our own included, arrives through the ``polyaxon.plugins``
entry-point group. A plugin that fails to import or does not match the hook specs is
recorded in :attr:`PluginManager.broken` with the reason, never silently skipped and
never allowed to crash the process; ``polyaxon plugins check`` exits non-zero on it.
"""

from __future__ import annotations

import importlib.metadata
import logging
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar

import pluggy

from polyaxon_core import hookspecs
from polyaxon_core.config import Settings, load_settings

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "polyaxon.plugins"

T = TypeVar("T")


class UnknownPluginError(LookupError):
    """No plugin contributes the requested name; the message lists the valid ones."""


@dataclass(frozen=True)
class PluginInfo:
    """One discovered plugin, for ``polyaxon plugins list``."""

    name: str
    distribution: str | None
    version: str | None
    module: str
    hooks: tuple[str, ...] = ()
    error: str | None = None
    disabled: bool = False


@dataclass
class PluginManager:
    """The pluggy manager plus what discovery found."""

    pm: pluggy.PluginManager
    plugins: list[PluginInfo] = field(default_factory=list)

    @property
    def hook(self) -> Any:
        return self.pm.hook

    @property
    def broken(self) -> list[PluginInfo]:
        return [info for info in self.plugins if info.error]

    # registry --------------------------------------------------------------------
    def contributions(self, kind: str) -> dict[str, type]:
        """name -> class for one plugin kind (``scheduler``, ``optimizer``, ...)."""
        hook = getattr(self.pm.hook, f"polyaxon_register_{kind}s")
        found: dict[str, type] = {}
        for classes in reversed(hook()):  # pluggy answers last-registered first
            for cls in classes or ():
                found[cls.name] = cls
        return found

    def get(self, kind: str, name: str) -> type:
        """The class contributed for ``kind`` under ``name``; error lists what exists."""
        available = self.contributions(kind)
        try:
            return available[name]
        except KeyError:
            valid = ", ".join(sorted(available)) or "none installed"
            broken = [info.name for info in self.broken if info.name.startswith(f"{kind}-")]
            hint = f" (broken plugins: {', '.join(broken)}; run `polyaxon plugins check`)" if broken else ""
            raise UnknownPluginError(
                f"no {kind} named '{name}'; available: {valid}{hint}"
            ) from None


def _describe(ep: importlib.metadata.EntryPoint) -> tuple[str | None, str | None]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version


def _hook_names(pm: pluggy.PluginManager, plugin: object) -> tuple[str, ...]:
    callers = pm.get_hookcallers(plugin) or []
    return tuple(sorted(caller.name for caller in callers))


def build_plugin_manager(
    settings: Settings | None = None,
    entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
) -> PluginManager:
    """Create a manager with every hook spec and every installed, enabled plugin."""
    settings = settings or load_settings()
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    manager = PluginManager(pm)
    if entry_points is None:
        entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    seen: set[str] = set()
    for ep in sorted(entry_points, key=lambda item: item.name):
        distribution, version = _describe(ep)
        if ep.name in seen:
            manager.plugins.append(
                PluginInfo(ep.name, distribution, version, ep.value,
                           error=f"another installed plugin is already named '{ep.name}'")
            )
            continue
        seen.add(ep.name)
        if ep.name in settings.disabled_plugins:
            manager.plugins.append(
                PluginInfo(ep.name, distribution, version, ep.value, disabled=True)
            )
            continue
        plugin = None
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:  # a broken plugin must not take the process down
            if plugin is not None and pm.is_registered(plugin):
                pm.unregister(plugin)  # a hook that failed validation half-registered it
            last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
            where = f" ({last[0].filename}:{last[0].lineno})" if last else ""
            logger.debug("plugin %s failed to load", ep.name, exc_info=True)
            manager.plugins.append(
                PluginInfo(ep.name, distribution, version, ep.value,
                           error=f"{type(exc).__name__}: {exc}{where}")
            )
            continue
        manager.plugins.append(
            PluginInfo(ep.name, distribution, version, ep.value, hooks=_hook_names(pm, plugin))
        )
    _check_pending(manager)
    return manager


def _check_pending(manager: PluginManager) -> None:
    """Unregister plugins whose hooks match no spec, and record why."""
    try:
        manager.pm.check_pending()
    except pluggy.PluginValidationError as exc:
        offending = exc.plugin
        name = manager.pm.get_name(offending)
        manager.pm.unregister(offending)
        manager.plugins = [
            PluginInfo(info.name, info.distribution, info.version, info.module, info.hooks,
                       error=f"implements an unknown hook: {exc}")
            if info.name == name else info
            for info in manager.plugins
        ]
        _check_pending(manager)


@cache
def get_plugin_manager() -> PluginManager:
    """The process-wide manager, built on first use."""
    return build_plugin_manager()


def create(kind: str, name: str, *args: Any, **kwargs: Any) -> Any:
    """Instantiate the ``kind`` plugin selected by ``name``."""
    return get_plugin_manager().get(kind, name)(*args, **kwargs)
