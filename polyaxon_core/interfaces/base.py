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
