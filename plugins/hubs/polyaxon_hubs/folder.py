"""``hub-folder``: a folder of component files, ``<owner>/<name>/<version>.yaml``.

A team shares components by putting them in a folder everyone reads (a network share, a
checkout of a repository): ``POLYAXON_HUBS=/srv/hub``. ``polyaxon hub push FILE --as
OWNER/NAME:VERSION --to FOLDER`` adds one there; ``polyaxon hub index FOLDER`` writes
the ``index.json`` that makes the folder an HTTP hub once a web server serves it (see
:mod:`polyaxon_hubs.http`); a push writes it as well.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import ClassVar

from polyaxon_core.hookspecs import hookimpl
from polyaxon_core.hub import version_key
from polyaxon_core.interfaces.hub import ComponentHub, HubEntry, HubUnavailable

#: what a folder of the hub may be called (an owner, a component)
NAME = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$")
INDEX = "index.json"


class FolderHub(ComponentHub):
    name = "folder"
    description = "a folder of component files, <owner>/<name>/<version>.yaml"
    location_kind: ClassVar[str] = "folder"

    @property
    def root(self) -> Path:
        return Path(self.location)

    def components(self) -> list[HubEntry]:
        root = self.root
        if not root.is_dir():
            raise HubUnavailable(f"the hub folder {root} does not exist")
        entries = []
        for owner in sorted(root.iterdir()):
            if not owner.is_dir() or not NAME.match(owner.name):
                continue
            for component in sorted(owner.iterdir()):
                versions = tuple(sorted((file.stem for file in component.glob("*.yaml")), key=version_key))
                if component.is_dir() and NAME.match(component.name) and versions:
                    entries.append(HubEntry(owner.name, component.name, versions))
        return entries

    def read(self, owner: str, name: str, version: str) -> str:
        file = self.root / owner / name / f"{version}.yaml"
        try:
            return file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise KeyError(f"{owner}/{name}:{version}") from None
        except OSError as exc:
            raise HubUnavailable(f"{file} cannot be read: {exc.strerror}") from None

    def push(self, owner: str, name: str, version: str, text: str, replace: bool) -> None:
        folder = self.root / owner / name
        file = folder / f"{version}.yaml"
        if file.exists() and not replace:
            raise FileExistsError(f"{owner}/{name}:{version} is in {self.root} already")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            partial = file.with_name(file.name + ".part")
            partial.write_text(text, encoding="utf-8")
            partial.replace(file)
        except OSError as exc:
            raise HubUnavailable(f"{file} cannot be written: {exc.strerror}") from None
        self.reindex()

    def reindex(self) -> str | None:
        return str(write_index(self.root))


def write_index(folder: Path) -> Path:
    """Write ``folder``'s ``index.json`` (its components, versions and descriptions)."""
    from polyaxon_core.hub import describe, latest_of

    hub = FolderHub(str(folder))
    if not folder.is_dir():
        raise HubUnavailable(f"the hub folder {folder} does not exist")
    components = [{"owner": entry.owner, "name": entry.name, "versions": list(entry.versions),
                   "description": describe(hub.read(entry.owner, entry.name,
                                                    latest_of(entry.versions) or entry.versions[-1]))}
                  for entry in hub.components()]
    index = folder / INDEX
    partial = index.with_name(INDEX + ".part")
    partial.write_text(json.dumps({"components": components}, indent=2) + "\n", encoding="utf-8")
    partial.replace(index)
    return index


@hookimpl
def polyaxon_register_hubs() -> list[type[ComponentHub]]:
    return [FolderHub]
