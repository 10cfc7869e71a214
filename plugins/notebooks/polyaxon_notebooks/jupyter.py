"""``notebook``: JupyterLab on the project's folder, through the hub's ``jupyterlab``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from polyaxon_core.hookspecs import hookimpl
from polyaxon_core.interfaces import WorkspaceService


class NotebookService(WorkspaceService):
    name = "notebook"
    description = "JupyterLab workspaces: start, list, open and stop a project's notebooks."
    component = "jupyterlab"

    def inputs(self, runs: Sequence[str], params: Mapping[str, str]) -> dict[str, str]:
        return dict(params)


@hookimpl
def polyaxon_register_services() -> list[type[WorkspaceService]]:
    return [NotebookService]
