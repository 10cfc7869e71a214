from __future__ import annotations

from typing import ClassVar


class PluginConfigError(Exception):
    """A plugin refuses its configuration; the message names the field and the fix."""


class PluginClass:
    """What every contributed class has: the name it is selected by."""

    #: The name users select this implementation by (``local``, ``grid``, ...).
    name: ClassVar[str]
    #: One line shown by ``polyaxon plugins list``.
    description: ClassVar[str] = ""
    #: Text class attributes every subclass must set (besides ``name``); a contributed
    #: class without them is refused when the plugin loads.
    required_attributes: ClassVar[tuple[str, ...]] = ()


def class_path(cls: type) -> str:
    """``module:qualname`` of ``cls``: how a process that chose a plugin class through the
    plugin manager tells another process which one, so that it imports that class alone."""
    return f"{cls.__module__}:{cls.__qualname__}"


def class_at(path: str) -> type:
    """The class at ``path`` (``module:qualname``, from :func:`class_path`); ImportError,
    AttributeError or ValueError when there is none."""
    import importlib

    module, colon, qualname = path.partition(":")
    if not colon or not qualname:
        raise ValueError(f"{path!r} is not module:qualname")
    found: object = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    if not isinstance(found, type):
        raise ValueError(f"{path!r} is not a class")
    return found
