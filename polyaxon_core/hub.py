"""Components from hubs: ``owner/name:version`` references and their resolution.

A reference is ``name``, ``name:version``, ``owner/name`` or ``owner/name:version``; the
owner is ``polyaxon`` (the public namespace) when left out, the version ``latest``:
the version of that name when the hub has one, else the highest version (compared
number by number: ``1.10`` after ``1.9``).

The hubs are those ``POLYAXON_HUBS`` lists, in order (comma separated: a folder, an http
or https URL, or the name of a hub that needs no location), then ``polyaxon``, the hub of
components shipped with ``polyaxon-hubs``, unless the list names it already. Each entry
is read by the hub plugin of its kind (see :class:`~polyaxon_core.interfaces.ComponentHub`).
The first hub that has the component and the version asked for answers. A reference no
hub knows is an error that names the nearest components; a version none has, one that
lists the versions there are.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from polyaxon_core.errors import PolyaxonError

if TYPE_CHECKING:
    from polyaxon_core.interfaces.hub import ComponentHub, HubEntry

#: the owner of a reference that names none
PUBLIC_OWNER = "polyaxon"
LATEST = "latest"
#: the hub searched after those POLYAXON_HUBS lists
DEFAULT_HUB = "polyaxon"
_PART = r"[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?"
_VERSION = r"[A-Za-z0-9][A-Za-z0-9._+-]{0,62}"
_REFERENCE = re.compile(rf"^(?:(?P<owner>{_PART})/)?(?P<name>{_PART})(?::(?P<version>{_VERSION}))?$")


class HubError(PolyaxonError):
    """A reference that is malformed or that no hub resolves; the message has the fix."""


@dataclass(frozen=True)
class HubRef:
    owner: str
    name: str
    #: None: ``latest``
    version: str | None = None

    @classmethod
    def parse(cls, text: str) -> HubRef:
        found = _REFERENCE.match(text.strip())
        if found is None:
            raise HubError(f"`{text}` is not a component reference: write `name`, `name:version`, "
                           "`owner/name` or `owner/name:version` (lowercase letters, digits, "
                           "`.`, `_` and `-`)")
        return cls(found["owner"] or PUBLIC_OWNER, found["name"], found["version"])

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def __str__(self) -> str:
        return f"{self.full_name}:{self.version or LATEST}"


@dataclass(frozen=True)
class Resolved:
    """A component found: its reference with the version it resolved to, its file's text,
    and where it came from."""

    ref: HubRef
    text: str
    hub: str


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Orders versions number by number (``1.10`` after ``1.9``), text after numbers."""
    return tuple((0, int(part)) if part.isdigit() else (1, part)
                 for part in re.split(r"[.+_-]", version))


def latest_of(versions: Sequence[str]) -> str | None:
    """The version ``latest`` means among ``versions``."""
    if LATEST in versions:
        return LATEST
    return max(versions, key=version_key) if versions else None


def describe(text: str) -> str:
    """A component file's ``description`` (empty when it has none or cannot be read)."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return ""
    return str(data.get("description") or "") if isinstance(data, dict) else ""


def hub_locations() -> list[str]:
    """``POLYAXON_HUBS`` in order, then the default hub unless it is listed."""
    raw = os.environ.get("POLYAXON_HUBS", "")
    locations = [entry.strip() for entry in raw.split(",") if entry.strip()]
    return locations if DEFAULT_HUB in locations else [*locations, DEFAULT_HUB]


def open_hub(location: str) -> ComponentHub:
    """The hub plugin that reads ``location`` (a URL, a folder, or a hub's name)."""
    from polyaxon_core.plugins import get_plugin_manager

    classes: dict[str, type[ComponentHub]] = get_plugin_manager().contributions("hub")
    if location in classes and classes[location].location_kind == "name":
        return classes[location](location)
    kind = "url" if re.match(r"^https?://", location, re.IGNORECASE) else "folder"
    if kind == "folder" and not os.path.isabs(os.path.expanduser(location)) and "/" not in location:
        named = ", ".join(sorted(name for name, cls in classes.items() if cls.location_kind == "name"))
        raise HubError(f"POLYAXON_HUBS names `{location}`, which is no hub: give a folder (an absolute "
                       f"path), an http(s) URL, or one of the hubs installed ({named or 'none'})")
    for cls in classes.values():
        if cls.location_kind == kind:
            return cls(os.path.expanduser(location) if kind == "folder" else location)
    raise HubError(f"no hub plugin reads a {kind} (`{location}` in POLYAXON_HUBS): install "
                   "polyaxon-hubs (`pip install polyaxon-hubs`)")


def configured_hubs() -> list[ComponentHub]:
    return [open_hub(location) for location in hub_locations()]


def resolve(reference: str, hubs: Sequence[ComponentHub] | None = None) -> Resolved:
    """The component ``reference`` names, from the first hub that has it (HubError else)."""
    from polyaxon_core.interfaces.hub import HubUnavailable

    ref = HubRef.parse(reference)
    searched = list(configured_hubs() if hubs is None else hubs)
    known: dict[str, HubEntry] = {}
    versions: dict[str, list[str]] = {}
    away: list[str] = []
    for hub in searched:
        try:
            entries = hub.components()
        except HubUnavailable as exc:
            away.append(str(exc))
            continue
        for entry in entries:
            known.setdefault(entry.full_name, entry)
        found = next((e for e in entries if e.full_name == ref.full_name), None)
        if found is None:
            continue
        version = ref.version or latest_of(found.versions)
        if version is None or version not in found.versions:
            versions.setdefault(hub.location, list(found.versions))
            continue
        try:
            return Resolved(HubRef(ref.owner, ref.name, version),
                            hub.read(ref.owner, ref.name, version), hub.location)
        except HubUnavailable as exc:
            away.append(str(exc))
    also = f" ({'; '.join(away)})" if away else ""
    if versions:
        listed = "; ".join(f"{', '.join(sorted(found, key=version_key))} in {where}"
                           for where, found in versions.items())
        raise HubError(f"`{ref.full_name}` has no version `{ref.version or LATEST}`{also}; "
                       f"versions: {listed}")
    from polyaxon_core.spec.errors import one_of

    where = ", ".join(hub.location for hub in searched)
    raise HubError(f"no hub has `{ref.full_name}` (searched {where}){also}; "
                   f"{one_of(ref.full_name, sorted(known), 'components')}")
