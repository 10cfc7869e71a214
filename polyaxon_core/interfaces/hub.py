from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from polyaxon_core.interfaces.base import PluginClass


@dataclass(frozen=True)
class HubEntry:
    """One component of a hub: ``owner/name``, its versions and what it is."""

    owner: str
    name: str
    versions: tuple[str, ...]
    description: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


class HubUnavailable(Exception):
    """The hub cannot be read now (a folder gone, a server away); the message says where
    and why."""


class ComponentHub(PluginClass):
    """A source of components addressed ``owner/name:version``: a folder of component
    files, an HTTP index, the components a distribution ships.

    ``location`` is what ``POLYAXON_HUBS`` names it by: a folder, a URL, or nothing for a
    hub that knows where its components are (``location_kind`` says which it reads).
    """

    #: what a ``POLYAXON_HUBS`` entry must be for this hub to read it: ``folder``,
    #: ``url`` (http or https), or ``name`` (the hub's own name, no location)
    location_kind: ClassVar[str] = "name"

    def __init__(self, location: str) -> None:
        self.location = location

    @abstractmethod
    def components(self) -> list[HubEntry]:
        """Every component of the hub (HubUnavailable when it cannot be read)."""

    @abstractmethod
    def read(self, owner: str, name: str, version: str) -> str:
        """The text of the component file ``owner/name:version`` (KeyError when the hub
        has no such version; HubUnavailable when it cannot be read)."""

    def push(self, owner: str, name: str, version: str, text: str, replace: bool) -> None:
        """Add ``text`` (a checked component file) as ``owner/name:version``; a version
        there already is kept unless ``replace`` (FileExistsError). A hub that cannot be
        written raises HubUnavailable saying so."""
        raise HubUnavailable(f"the hub {self.location} ({self.name}) cannot be pushed to")

    def reindex(self) -> str | None:
        """Write what the hub needs to be served over HTTP (its index); where it went, or
        None when this hub has nothing to write."""
        return None
