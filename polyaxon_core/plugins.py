"""Build the plugin manager: hook specs -> entry points -> validation -> registry.

Every concrete backend, our own included, arrives through the ``polyaxon.plugins``
entry-point group. A plugin that fails to import or does not match the hook specs is
recorded in :attr:`PluginManager.broken` with the reason, never silently skipped and
never allowed to crash the process; ``polyaxon plugins check`` exits non-zero on it.
"""

from __future__ import annotations

import difflib
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
            hint = (
                f" (broken plugins: {', '.join(broken)}; run `polyaxon plugins check`)"
                if broken
                else ""
            )
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
    """Create a manager with every hook spec and every installed, enabled plugin.

    Entries are taken in name order. A name listed in ``settings.disabled_plugins`` is
    recorded as disabled and never imported. A plugin that fails to import, implements a
    hook that does not exist, asks a hook for an argument it does not pass, or reuses an
    entry name already taken is recorded with a one-line reason and not registered.
    """
    settings = settings or load_settings()
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    manager = PluginManager(pm)
    if entry_points is None:
        entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    taken: dict[str, str | None] = {}  # entry name -> distribution that claimed it first
    for ep in sorted(entry_points, key=lambda item: item.name):
        manager.plugins.append(_load(pm, ep, settings.disabled_plugins, taken))
    return manager


def _load(
    pm: pluggy.PluginManager,
    ep: importlib.metadata.EntryPoint,
    disabled: frozenset[str],
    taken: dict[str, str | None],
) -> PluginInfo:
    """Import and register one entry point; what happened, as a PluginInfo."""
    distribution, version = _describe(ep)
    if ep.name in disabled:
        return PluginInfo(ep.name, distribution, version, ep.value, disabled=True)

    def failed(reason: str) -> PluginInfo:
        return PluginInfo(ep.name, distribution, version, ep.value, error=reason)

    if ep.name in taken:
        first = taken[ep.name] or "another module"
        return failed(
            f"{first} already provides a plugin named '{ep.name}'; uninstall one of the two"
        )
    taken[ep.name] = distribution
    try:
        plugin = ep.load()
    except Exception as exc:  # a broken plugin must not take the process down
        logger.debug("plugin %s failed to import", ep.name, exc_info=True)
        return failed(_one_line(exc, where=True))
    mismatch = _hook_mismatch(pm, plugin)
    if mismatch:
        return failed(mismatch)
    try:
        pm.register(plugin, name=ep.name)
    except Exception as exc:  # pluggy's own checks (wrappers, an object registered twice)
        if pm.get_name(plugin) == ep.name:
            pm.unregister(plugin)  # pluggy < 1.6 leaves a failed plugin half-registered
        return failed(_one_line(exc, where=False))
    return PluginInfo(ep.name, distribution, version, ep.value, hooks=_hook_names(pm, plugin))


def _one_line(exc: BaseException, where: bool) -> str:
    """``Type: message`` on one line, plus the plugin's own line that raised when asked."""
    message = " ".join(str(exc).split())
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    last = traceback.extract_tb(exc.__traceback__)[-1:] if where and exc.__traceback__ else []
    return f"{text} ({last[0].filename}:{last[0].lineno})" if last else text


def _hook_mismatch(pm: pluggy.PluginManager, plugin: object) -> str | None:
    """Why ``plugin``'s hook implementations do not fit the specs, or None when they do.

    Checked before registering so that a mismatched plugin leaves no trace in the
    manager, and so the reason can name the fix (the hook meant, the arguments offered).
    """
    for attribute in dir(plugin):
        options = pm.parse_hookimpl_opts(plugin, attribute)
        if options is None:
            continue
        hook_name = options.get("specname") or attribute
        caller = getattr(pm.hook, hook_name, None)
        if caller is None or caller.spec is None:
            if options.get("optionalhook"):
                continue
            known = [name for name, hook in vars(pm.hook).items() if hook.has_spec()]
            close = difflib.get_close_matches(hook_name, known, n=1)
            fix = f"did you mean {close[0]}?" if close else "see polyaxon_core.hookspecs"
            return f"{hook_name} is not a polyaxon hook; {fix}"
        implementation = pluggy.HookImpl(plugin, "", getattr(plugin, attribute), options)
        offered = caller.spec.argnames + caller.spec.kwargnames
        unknown = [name for name in implementation.argnames if name not in offered]
        if unknown:
            return (
                f"{hook_name}({', '.join(implementation.argnames)}) asks for "
                f"{', '.join(unknown)}, which the hook does not pass; it passes: "
                f"{', '.join(offered) or 'nothing'}"
            )
    return None


@cache
def get_plugin_manager() -> PluginManager:
    """The process-wide manager, built on first use."""
    return build_plugin_manager()


def create(kind: str, name: str, *args: Any, **kwargs: Any) -> Any:
    """Instantiate the ``kind`` plugin selected by ``name``."""
    return get_plugin_manager().get(kind, name)(*args, **kwargs)
