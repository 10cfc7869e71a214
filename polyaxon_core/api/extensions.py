"""The server's per-application state, as an unbound extension bound by ``init_app``.

Views reach the database, the plugin hooks, the artifact store and the configuration
through :data:`server`, which looks them up on the current application, so several
applications (tests on SQLite and PostgreSQL side by side) never share state.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

from polyaxon_core.api.config import ServerConfig
from polyaxon_core.api.stream_slots import StreamSlots
from polyaxon_core.config import Settings
from polyaxon_core.wakeup import waking_scope

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from polyaxon_core.api.routing import Route
    from polyaxon_core.interfaces import ArtifactStore
    from polyaxon_core.plugins import PluginManager

EXTENSION_KEY = "polyaxon"

logger = logging.getLogger(__name__)


@dataclass
class ServerState:
    settings: Settings
    config: ServerConfig
    plugins: PluginManager
    #: flask endpoint -> the route it serves (filled when the blueprints are built)
    routes: dict[str, Route] = field(default_factory=dict)
    #: the endpoints a web UI plugin added (its pages, which it guards itself)
    page_endpoints: frozenset[str] = frozenset()
    #: the log-follow streams this process serves at once
    log_streams: StreamSlots = field(init=False, repr=False)
    #: the WebSockets to services this process passes on at once
    service_sockets: StreamSlots = field(init=False, repr=False)
    _store: ArtifactStore | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.log_streams = StreamSlots(self.config.max_log_streams,
                                       self.config.max_log_streams_per_user)
        self.service_sockets = StreamSlots(self.config.max_service_sockets,
                                           self.config.max_service_sockets_per_user)

    @property
    def store(self) -> ArtifactStore:
        """The artifact store plugin selected by the settings, created on first use."""
        if self._store is None:
            self._store = self.plugins.get("store", self.settings.store)(self.settings)
        return self._store


class Server:
    """Access to the current application's :class:`ServerState`."""

    def init_app(self, app: Flask, settings: Settings, config: ServerConfig,
                 plugins: PluginManager) -> None:
        app.extensions[EXTENSION_KEY] = ServerState(settings, config, plugins)

    @property
    def state(self) -> ServerState:
        state: ServerState = current_app.extensions[EXTENSION_KEY]
        return state

    @property
    def settings(self) -> Settings:
        return self.state.settings

    @property
    def config(self) -> ServerConfig:
        return self.state.config

    @property
    def hook(self) -> Any:
        return self.state.plugins.hook

    @property
    def store(self) -> ArtifactStore:
        return self.state.store

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction on the server's database (events are dispatched after commit, and
        the orchestrator woken when the transaction gave it work)."""
        with waking_scope(self.settings) as session:
            yield session

    def ensure_orchestrator(self) -> None:
        """Start the embedded orchestrator if this server is configured to, and none runs.

        An orchestrator that exits at start is logged here; the queued runs it could not
        start are marked failed by it with the reason when it got that far.
        """
        if self.config.orchestrator_on_demand:
            from polyaxon_core.orchestrator import OrchestratorUnavailable, ensure_orchestrator

            try:
                ensure_orchestrator(self.settings)
            except OrchestratorUnavailable as exc:
                logger.error("%s", exc)


server = Server()
