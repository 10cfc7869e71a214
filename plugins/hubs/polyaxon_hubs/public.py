"""``hub-polyaxon``: the components shipped with this distribution, under the owner
``polyaxon`` (what Polyaxon's public hub offers: notebooks, TensorBoards, editors, image
builds, a git clone). It is searched after the hubs ``POLYAXON_HUBS`` lists."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from polyaxon_core.hookspecs import hookimpl
from polyaxon_core.interfaces.hub import ComponentHub, HubUnavailable
from polyaxon_hubs.folder import FolderHub

COMPONENTS = Path(__file__).parent / "components"


class PolyaxonHub(FolderHub):
    name = "polyaxon"
    description = "the components shipped with polyaxon-hubs (owner polyaxon)"
    location_kind: ClassVar[str] = "name"

    @property
    def root(self) -> Path:
        return COMPONENTS

    def push(self, owner: str, name: str, version: str, text: str, replace: bool) -> None:
        raise HubUnavailable("the components shipped with polyaxon-hubs are read-only: push to "
                             "a folder or a server (`--to`)")

    def reindex(self) -> None:
        return None


@hookimpl
def polyaxon_register_hubs() -> list[type[ComponentHub]]:
    return [PolyaxonHub]
