from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from polyaxon_core.config import Settings
from polyaxon_core.entities import ConnectionEntity, InitStep, RunEntity
from polyaxon_core.interfaces.base import PluginClass


@dataclass(frozen=True)
class BuildRequest:
    """One image to build, for the run that first asked for it.

    ``folder`` is the build's folder on this machine (its own, under the run's folder);
    the context is its ``context`` folder, made by ``steps`` (the ``git``, ``file`` and
    ``paths`` initializers of ``build.runPatch.init``, their destinations already in
    there) with the Dockerfile, ``dockerfile``, written at ``dockerfile_path``.
    ``destination`` is the image reference to produce (the registry connection's ``url``
    in front when there is one); ``key`` is the hash of everything that decides the image
    (Dockerfile, context, destination), which names the build with ``attempt`` (a failed
    build started again is a new attempt).
    """

    run: RunEntity
    key: str
    destination: str
    dockerfile: str
    dockerfile_path: str
    folder: str
    steps: tuple[InitStep, ...] = ()
    connection: ConnectionEntity | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    run_patch: Mapping[str, Any] = field(default_factory=dict)
    attempt: int = 1


@dataclass(frozen=True)
class BuildState:
    """What a builder says about a build: ``running``, ``succeeded`` (with the ``image``
    reference a run's container can use) or ``failed`` (``message``: why, with the
    builder's last log lines)."""

    status: str
    image: str | None = None
    message: str | None = None


class BuildUnavailable(Exception):
    """The builder's backend cannot be reached now (a cluster's API down): the build is
    asked again on the next pass, nothing fails."""


class Builder(PluginClass):
    """Turns an operation's ``build`` section into a container image.

    A build takes minutes, so it is started and then polled, never awaited: the
    orchestrator starts it (:meth:`start`), keeps the run ``scheduled`` with ``pending:
    build`` and asks :meth:`poll` on each pass. The handle :meth:`start` returns is
    stored, so an orchestrator restarted meanwhile polls the same build again; the runs
    that ask for the same build (the same ``key``) all wait for that one.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @abstractmethod
    def start(self, request: BuildRequest) -> Mapping[str, Any]:
        """Start building ``request``; return a JSON-serialisable handle. Starting a
        build already started under the same key adopts it. Raises
        :class:`BuildUnavailable` when the backend cannot be reached, ``ValueError``
        (message: why and the fix) when the request cannot be built at all."""

    @abstractmethod
    def poll(self, handle: Mapping[str, Any]) -> BuildState:
        """Where the build of ``handle`` is (the handle alone says which: the run that
        started it may be gone). Raises :class:`BuildUnavailable`."""
