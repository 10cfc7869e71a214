from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import ClassVar

from polyaxon_core.config import Settings
from polyaxon_core.interfaces.base import PluginClass


class WorkspaceService(PluginClass):
    """A workspace people open in their browser (a notebook, a dashboard).

    A workspace is a hub component whose ``run.kind`` is ``service``: it runs as any
    other run (queued, scheduled, stopped, culled by the orchestrator) and is reached
    through the server's proxy. What a plugin adds is the way in: for each contributed
    class the command line gets ``polyaxon <name> start | ls | url | stop``, where
    ``start`` turns its options into the component's inputs through :meth:`inputs`.
    """

    required_attributes = ("component",)
    #: the hub component ``start`` runs (``[owner/]name[:version]``); ``--hub`` overrides it
    component: ClassVar[str]
    #: whether ``start`` takes runs (``--uuid``) whose artifacts the workspace reads
    reads_runs: ClassVar[bool] = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @abstractmethod
    def inputs(self, runs: Sequence[str], params: Mapping[str, str]) -> dict[str, str]:
        """The component's inputs for a start with ``runs`` (uuids; empty unless
        :attr:`reads_runs`) and the ``-P NAME=VALUE`` ``params`` given. Raise
        ``PluginConfigError`` with the fix when they cannot make a workspace."""
