"""Build the plugin manager: hook specs -> entry points -> validation -> registry.

Every concrete backend, our own included, arrives through the ``polyaxon.plugins``
entry-point group. A plugin that fails to import, does not match the hook specs,
contributes a class its kind cannot use (not a subclass of the kind's base class,
without a ``name``, or missing one of the base's abstract methods), or contributes a
backend name another plugin also contributes, is recorded in
:attr:`PluginManager.broken` with the reason and not registered: never silently skipped
and never allowed to crash the process. :func:`get_plugin_manager` logs one warning per
broken plugin, and ``polyaxon plugins check`` exits non-zero on them.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import logging
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
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
    #: plugin kind -> backend name -> class, for every class its contribution hooks returned
    classes: dict[str, dict[str, type]] = field(default_factory=dict)

    @property
    def package(self) -> str:
        """``distribution==version``, or the module when no distribution is known."""
        if self.distribution is None:
            return self.module
        return f"{self.distribution}=={self.version}" if self.version else self.distribution


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
        """name -> class for one plugin kind (``scheduler``, ``optimizer``, ...), from the
        plugins that loaded (each name is contributed by one of them at most)."""
        found: dict[str, type] = {}
        for info in self.plugins:
            if not info.error and not info.disabled:
                found.update(info.classes.get(kind, {}))
        return found

    def get(self, kind: str, name: str) -> type:
        """The class contributed for ``kind`` under ``name``; the error says why not:
        the reason of the broken plugin that contributes it, or the list of what exists."""
        for info in self.broken:
            if name in info.classes.get(kind, {}):
                raise UnknownPluginError(
                    f"no {kind} named '{name}' can be used: plugin {info.name} "
                    f"({info.package}) is broken: {info.error}"
                )
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


#: the name and version of each distribution read so far, during one plugin discovery
Described = dict[importlib.metadata.Distribution, tuple[str | None, str | None]]


def _describe(ep: importlib.metadata.EntryPoint, described: Described) -> tuple[str | None, str | None]:
    """The name and version of the distribution providing ``ep``; ``described``: those
    of the distributions read so far (each read parses a ``METADATA`` file, and a
    distribution provides several plugins)."""
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    if dist not in described:
        metadata = dist.metadata
        described[dist] = metadata["Name"], metadata["Version"]
    return described[dist]


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
    described: Described = {}
    for ep in sorted(entry_points, key=lambda item: item.name):
        manager.plugins.append(_load(pm, ep, settings.disabled_plugins, taken, described))
    _refuse_shared_names(manager)
    return manager


def _refuse_shared_names(manager: PluginManager) -> None:
    """Mark broken (and unregister) every plugin contributing a backend name that another
    loaded plugin contributes too: which one would run must not depend on entry names."""
    claims: dict[tuple[str, str], list[PluginInfo]] = {}
    for info in manager.plugins:
        if info.error or info.disabled:
            continue
        for kind, classes in info.classes.items():
            for name in classes:
                claims.setdefault((kind, name), []).append(info)
    reasons: dict[str, list[str]] = {}
    for (kind, name), claimants in sorted(claims.items()):
        if len(claimants) < 2:
            continue
        who = " and ".join(f"{info.package} ({info.name})" for info in claimants)
        reason = (
            f"{kind} '{name}' is contributed by both {who}; uninstall one, or turn one off "
            f"with POLYAXON_DISABLE_PLUGINS={claimants[-1].name}"
        )
        for info in claimants:
            reasons.setdefault(info.name, []).append(reason)
    for index, info in enumerate(manager.plugins):
        if info.name in reasons and not info.error and not info.disabled:
            manager.pm.unregister(name=info.name)
            manager.plugins[index] = replace(
                info, error="; ".join(reasons[info.name]), hooks=()
            )


def _load(
    pm: pluggy.PluginManager,
    ep: importlib.metadata.EntryPoint,
    disabled: frozenset[str],
    taken: dict[str, str | None],
    described: Described,
) -> PluginInfo:
    """Import and register one entry point; what happened, as a PluginInfo."""
    distribution, version = _describe(ep, described)
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
    try:
        classes = _contributed_classes(pm, plugin)
    except ContributionError as exc:
        pm.unregister(plugin)
        # the class named, if any, so that selecting it by name gives this reason
        named = {exc.kind: {exc.name: exc.cls}} if exc.kind and exc.name and exc.cls else {}
        return replace(failed(str(exc)), classes=named)
    return PluginInfo(ep.name, distribution, version, ep.value, hooks=_hook_names(pm, plugin),
                      classes=classes)


class ContributionError(Exception):
    """A contribution hook raised or answered with a class its kind cannot use; ``kind``,
    ``name`` and ``cls`` say which class, when it has a name to be selected by."""

    def __init__(self, message: str, kind: str | None = None, name: str | None = None,
                 cls: type | None = None) -> None:
        super().__init__(message)
        self.kind, self.name, self.cls = kind, name, cls


def _contributed_classes(pm: pluggy.PluginManager, plugin: object) -> dict[str, dict[str, type]]:
    """Call ``plugin``'s own ``polyaxon_register_*`` hooks and check every class returned."""
    from polyaxon_core.interfaces import PLUGIN_KINDS

    found: dict[str, dict[str, type]] = {}
    for kind, base in PLUGIN_KINDS.items():
        hook_name = f"polyaxon_register_{kind}s"
        for implementation in getattr(pm.hook, hook_name).get_hookimpls():
            if implementation.plugin is not plugin:
                continue
            try:
                classes = implementation.function()
            except Exception as exc:  # the plugin's bug, reported instead of crashing
                message = " ".join(str(exc).split())
                raise ContributionError(
                    f"{hook_name} raised {type(exc).__name__}: {message}"
                ) from None
            for cls in classes or ():
                found.setdefault(kind, {})[_checked_name(hook_name, kind, base, cls)] = cls
    return found


def _checked_name(hook_name: str, kind: str, base: type, cls: object) -> str:
    """The name ``cls`` is selected by; ContributionError when its kind cannot use it."""
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ContributionError(
            f"{hook_name} returned {cls!r}, which is not a subclass of {base.__name__}"
        )
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise ContributionError(
            f"{hook_name} returned {cls.__name__} without a `name` to select it by"
        )
    unset = [attribute for attribute in getattr(base, "required_attributes", ())
             if not (isinstance(getattr(cls, attribute, None), str) and getattr(cls, attribute))]
    if unset:
        raise ContributionError(
            f"{hook_name} returned {cls.__name__} without {', '.join(f'`{a}`' for a in unset)} "
            f"(every {base.__name__} sets it)", kind, name, cls,
        )
    missing = missing_abstract_methods(cls)
    if missing:
        raise ContributionError(
            f"{hook_name} returned {cls.__name__}, which does not implement "
            f"{', '.join(missing)} (abstract in {base.__name__})",
            kind, name, cls,
        )
    return name


def missing_abstract_methods(cls: type) -> list[str]:
    """The abstract methods of ``cls``'s bases it leaves unimplemented, sorted.

    The base classes are plain classes (not ``ABCMeta``), so nothing else stops such a
    class from being instantiated; it would fail on its first call instead.
    """
    declared = {
        name
        for klass in cls.__mro__
        for name, value in vars(klass).items()
        if getattr(value, "__isabstractmethod__", False)
    }
    return sorted(
        name for name in declared if getattr(getattr(cls, name, None), "__isabstractmethod__", False)
    )


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
    """The process-wide manager, built on first use; logs a warning per broken plugin."""
    manager = build_plugin_manager()
    for info in manager.broken:
        logger.warning(
            "plugin %s (%s) is broken and not loaded: %s; see `polyaxon plugins check`",
            info.name, info.package, info.error,
        )
    return manager


def create(kind: str, name: str, *args: Any, **kwargs: Any) -> Any:
    """Instantiate the ``kind`` plugin selected by ``name``."""
    return get_plugin_manager().get(kind, name)(*args, **kwargs)
