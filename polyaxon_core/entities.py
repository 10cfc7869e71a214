"""Plain, frozen data handed to plugins.

Plugins never see ORM rows or database sessions: the core converts rows to these
entities at the edge (``polyaxon_core.db.convert``), so a plugin cannot mutate state
behind the orchestrator's back and keeps working when the storage changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: resource samples (CPU, memory, GPU) are metrics whose names start with it
SYSTEM_PREFIX = "system/"


@dataclass(frozen=True)
class ProjectEntity:
    uuid: str
    owner: str
    name: str
    description: str | None
    tags: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True)
class RunEntity:
    """A run as plugins see it."""

    uuid: str
    project: str
    owner: str
    name: str | None
    kind: str
    runtime: str | None
    status: str
    inputs: Mapping[str, Any] = field(default_factory=dict)
    outputs: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    meta_info: Mapping[str, Any] = field(default_factory=dict)
    pipeline: str | None = None
    original: str | None = None
    cloning_kind: str | None = None
    queue: str | None = None
    retries: int = 0
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class ContainerSpec:
    """What to execute: the ``run.container`` section after templating."""

    image: str | None
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    resources: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LaunchRequest:
    """Everything a scheduler needs to start one run.

    ``env`` already holds the run context (``POLYAXON_RUN_UUID`` and friends) that the
    tracking SDK reads; schedulers add it to the container's environment unchanged.
    ``isolated`` is True for a run started on behalf of a server (it holds a token of its
    own in ``env``): a scheduler then gives the run ``env`` and the container's ``env``
    only, nothing of its own process environment (which may hold database credentials
    and other secrets), and never records the values of ``env`` anywhere readable.
    """

    run: RunEntity
    #: the main container; for a run of replicas (``tfjob``...), whose containers are in
    #: ``run_section``, one with no image and no command
    container: ContainerSpec
    env: Mapping[str, str]
    run_path: str
    context_path: str | None = None
    timeout: float | None = None
    isolated: bool = False
    #: the catalog's entries of the connections the run names (``run.connections``), to
    #: mount or expose to it; their secrets are resolved by the scheduler, at launch
    connections: tuple[ConnectionEntity, ...] = ()
    #: the run's initializers (``run.init``), in order, to run before its container
    init: tuple[InitStep, ...] = ()
    #: the whole ``run`` section, templates rendered (camelCase, as written): environment,
    #: volumes, sidecars, ports, replicas, for schedulers that act on them
    run_section: Mapping[str, Any] = field(default_factory=dict)
    #: for a service, the ports it listens on where it is started (``globals.ports``): its
    #: declared ports in a pod, free ports of this machine on the local scheduler
    ports: tuple[int, ...] = ()
    #: for a service, the path the server's proxy serves each declared port at
    service_urls: tuple[str, ...] = ()
    #: ``termination``: ``max_retries``, ``timeout`` and ``ttl`` (seconds), when given
    termination: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class InitStep:
    """One initializer of a run (an item of ``run.init``), resolved for a scheduler.

    ``kind`` is ``git`` (clone ``value``'s ``url`` at its ``revision`` into
    ``destination``), ``file`` / ``dockerfile`` (write ``value`` as the file
    ``destination``), ``paths`` (copy each ``(source, target)`` of ``sources``: a path of
    the artifacts store, or of ``connection``'s folder, to a path under ``destination``)
    or ``container`` (run ``container``). ``connection`` is the catalog's entry the
    initializer names: only this step gets its secret, not the run's container.
    """

    kind: str
    destination: str
    value: Mapping[str, Any] = field(default_factory=dict)
    sources: tuple[tuple[str, str], ...] = ()
    connection: ConnectionEntity | None = None
    container: ContainerSpec | None = None


@dataclass(frozen=True)
class StatusUpdate:
    """What a scheduler observed about one run."""

    run_uuid: str
    status: str
    reason: str | None = None
    message: str | None = None
    exit_code: int | None = None


@dataclass(frozen=True)
class ParamDistribution:
    """One matrix parameter in its normalized form.

    ``value`` shapes by kind: ``choice`` a list; ``pchoice`` a list of ``[value, p]``;
    ``range`` / ``daterange`` / ``datetimerange`` ``{start, stop, step}``;
    ``linspace`` / ``logspace`` / ``geomspace`` ``{start, stop, num}`` (logspace may add
    ``base``); ``uniform`` / ``loguniform`` ``{low, high}``; ``quniform`` / ``qloguniform``
    ``{low, high, q}``; ``normal`` / ``lognormal`` ``{loc, scale}``; ``qnormal`` /
    ``qlognormal`` ``{loc, scale, q}``.
    """

    kind: str
    value: Any


@dataclass(frozen=True)
class MatrixConfig:
    """The ``matrix`` section of an operation, validated, as an optimizer receives it."""

    kind: str
    params: Mapping[str, ParamDistribution]
    options: Mapping[str, Any] = field(default_factory=dict)
    concurrency: int | None = None
    num_runs: int | None = None
    seed: int | None = None


@dataclass(frozen=True)
class Trial:
    """One child run of a sweep, as the optimizer's history."""

    index: int
    params: Mapping[str, Any]
    status: str
    metrics: Mapping[str, float] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)
    run_uuid: str | None = None


@dataclass(frozen=True)
class Suggestion:
    """A configuration an optimizer wants evaluated; ``meta`` is kept on the child run."""

    params: Mapping[str, Any]
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ArtifactInfo:
    path: str
    size: int
    is_dir: bool
    modified_at: datetime | None = None


@dataclass(frozen=True)
class LogChunk:
    """A slice of a run's log and the cursor to continue from."""

    data: bytes
    next_offset: int


@dataclass(frozen=True)
class ResourceReference:
    """A secret or config map a connection names: what to read, never its values.

    ``items`` are the keys the connection needs (empty: every key found); ``mount_path``
    is where a scheduler that mounts it would put its files.
    """

    name: str
    items: tuple[str, ...] = ()
    mount_path: str | None = None


@dataclass(frozen=True)
class ConnectionEntity:
    """One entry of the connections catalog (``connections.yaml``), as plugins see it.

    ``schema`` holds the kind's fields as written (``bucket``, ``url``, ``hostPath``...).
    Secret values are not part of it: a plugin that needs them calls
    :func:`polyaxon_core.connections.resolve_secret` at the moment it connects.
    """

    name: str
    kind: str
    schema: Mapping[str, Any] = field(default_factory=dict)
    secret: ResourceReference | None = None
    config_map: ResourceReference | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Notification:
    """What a notifier tells: ``trigger`` (the hook's, e.g. ``failed`` or ``done``)
    happened to ``run``, which ended ``run.status`` with ``message`` (its last status
    message, if any)."""

    run: RunEntity
    trigger: str
    message: str | None = None
