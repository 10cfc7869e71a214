"""Images built before a run starts: an operation's ``build`` section.

::

    build:
      hubRef: buildah            # the builder plugin (builder-buildah); kaniko on Kubernetes
      connection: my-registry    # optional: a `registry` connection to push to
      params:
        destination: {value: "team/train:v1"}   # optional; default polyaxon/<project>:<hash>
      runPatch:
        init:
          - dockerfile: {image: "python:3.11-slim", run: ["pip install torch"]}
          - git: {url: "https://github.com/org/repo", revision: "4f2c1e0"}

``runPatch.init`` makes the build's context as ``run.init`` makes a run's folder: one
``dockerfile`` initializer (the Dockerfile) and any ``git``, ``file`` and ``paths``
ones (the files beside it). The run waits ``scheduled`` with ``pending: build`` until the
image exists, then starts with it in every container that names no image or names the
destination; a failed build fails the run with the builder's last log lines.

A build is named by the hash of its Dockerfile, its context (each initializer as
written: a git repository *at its revision*, a file's content, the store paths copied)
and its destination, within the project: runs that ask for the same build share one, so
it runs once, and a later run reuses its image. A ``git`` initializer without a
``revision`` follows a branch that can move: its build is the run's own, never reused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from polyaxon_core.config import Settings
from polyaxon_core.db.claims import claim_rows
from polyaxon_core.db.convert import run_to_entity
from polyaxon_core.db.models import Build, Run, utcnow
from polyaxon_core.entities import ConnectionEntity
from polyaxon_core.interfaces.builder import Builder, BuildRequest, BuildState, BuildUnavailable
from polyaxon_core.lifecycle import Status
from polyaxon_core.orchestrator import initializers

logger = logging.getLogger(__name__)

#: a build's own folder, under its run's folder, and its context in there (the build's
#: log and state stay out of what is sent to the builder)
BUILD_FOLDER, CONTEXT_FOLDER = "build", "context"
RUNNING, SUCCEEDED, FAILED = "running", "succeeded", "failed"


class BuildFailed(Exception):
    """The run's image could not be built (the message says why)."""


@dataclass(frozen=True)
class BuiltImage:
    """The image a run's build made, and the destination it was asked under."""

    image: str
    destination: str

    def replaces(self, written: str | None) -> bool:
        """Whether a container whose image is ``written`` runs the built image instead:
        it names none, or names the destination (with or without the registry)."""
        if not written:
            return True
        return written == self.destination or self.destination.endswith("/" + written)


def builder_name(build: Mapping[str, Any]) -> str:
    """The builder plugin ``build.hubRef`` names (``kaniko:v1.23`` -> ``kaniko``)."""
    return str(build.get("hubRef") or "").split(":", 1)[0].strip()


def _param(build: Mapping[str, Any], name: str) -> Any:
    """A ``build.params`` value: ``{value: ...}`` as Polyaxon writes it, or bare."""
    param = (build.get("params") or {}).get(name)
    return param.get("value") if isinstance(param, Mapping) else param


def _registry_host(connection: ConnectionEntity) -> str:
    url = str(connection.schema.get("url") or "")
    return url.split("://", 1)[-1].rstrip("/")


def plan_build(settings: Settings, run: Run, build: Mapping[str, Any],
               connection: Callable[[str], ConnectionEntity],
               is_project_run: Callable[[str], bool]) -> BuildRequest:
    """The build ``run`` asks for, from its rendered ``build`` section. Raises
    ``ValueError`` (:class:`initializers.InitializerError`) naming what to fix."""
    folder = settings.runs_path / run.uuid / BUILD_FOLDER
    context_folder = folder / CONTEXT_FOLDER
    init = (build.get("runPatch") or {}).get("init") or []
    if any(entry.get("container") is not None for entry in init):
        raise initializers.InitializerError(
            "build.runPatch.init: a build's context comes from dockerfile, git, file and "
            "paths initializers; move the container into the run's own init")
    steps = initializers.plan(init, context_folder, context_folder, connection, is_project_run)
    dockerfiles = [step for step in steps if step.kind == "dockerfile"]
    if len(dockerfiles) != 1:
        raise initializers.InitializerError(
            f"build.runPatch.init has {len(dockerfiles)} dockerfile initializers; give it "
            "exactly one (`- dockerfile: {image: ..., run: [...]}`): the Dockerfile to build")
    dockerfile = initializers.dockerfile_text(dockerfiles[0].value)
    context = [step for step in steps if step.kind != "dockerfile"]
    registry = connection(str(build["connection"])) if build.get("connection") else None

    def relative(path: str) -> str:
        return posixpath.relpath(path, str(context_folder))

    fingerprint = {
        "builder": builder_name(build),
        "dockerfile": dockerfile,
        "dockerfile_path": relative(dockerfiles[0].destination),
        "context": [{
            "kind": step.kind, "destination": relative(step.destination),
            "value": {key: value for key, value in step.value.items() if key != "root"},
            "root": step.value.get("root"),
            "sources": [[source, relative(target)] for source, target in step.sources],
            # a branch moves: a build of it is never shared
            "unpinned": run.uuid if step.kind == "git" and not step.value.get("revision") else None,
        } for step in context],
    }
    content = hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()
    destination = str(_param(build, "destination") or
                      f"polyaxon/{run.project.name.lower()}:{content[:16]}")
    if registry is not None and _registry_host(registry):
        destination = f"{_registry_host(registry)}/{destination}"
    key = hashlib.sha256(f"{content}\n{destination}".encode()).hexdigest()
    return BuildRequest(
        run=run_to_entity(run), key=key, destination=destination, dockerfile=dockerfile,
        dockerfile_path=dockerfiles[0].destination, folder=str(folder), steps=tuple(context),
        connection=registry, params=dict(build.get("params") or {}),
        run_patch=dict(build.get("runPatch") or {}))


#: read by every pass: built once
_RUNNING_BUILDS = claim_rows(select(Build).where(Build.status == RUNNING))


class BuildController:
    """Starts the builds runs ask for, polls the running ones once per pass, and tells
    each run waiting for one whether its image is there."""

    def __init__(self, settings: Settings, create: Callable[[str], Builder]) -> None:
        self.settings = settings
        self._create = create
        self._builders: dict[str, Builder] = {}

    def builder(self, name: str) -> Builder:
        if name not in self._builders:
            self._builders[name] = self._create(name)
        return self._builders[name]

    def poll_all(self, session: Session) -> None:
        """Ask each running build's builder where it is, once; record what ended."""
        for row in session.scalars(_RUNNING_BUILDS).all():
            if not row.handle:
                continue
            try:
                state = self.builder(row.builder).poll(row.handle)
            except BuildUnavailable as exc:
                logger.warning("build %s waits for its builder: %s", row.key[:12], exc)
                continue
            except Exception as exc:  # a builder that cannot be made or polled fails its build
                logger.info("build %s cannot be followed: %s", row.key[:12], exc)
                state = BuildState(FAILED, message=f"the {row.builder} builder failed: "
                                                   f"{type(exc).__name__}: {exc}")
            self._record(row, state)

    @staticmethod
    def _record(row: Build, state: BuildState) -> None:
        if state.status == SUCCEEDED:
            row.status, row.image, row.finished_at = SUCCEEDED, state.image or row.destination, utcnow()
            logger.info("build %s made %s", row.key[:12], row.image)
        elif state.status == FAILED:
            row.status, row.message, row.finished_at = FAILED, state.message, utcnow()
            logger.info("build %s failed: %s", row.key[:12], state.message)

    def image_for(self, session: Session, run: Run, request: BuildRequest,
                  builder: str) -> BuiltImage | None:
        """The image of ``run``'s build once it exists; None while it is being built
        (the build started if nobody had). Raises :class:`BuildFailed`, and
        :class:`BuildUnavailable` when the builder cannot be reached to start it."""
        waiting = dict((run.meta_info or {}).get("build") or {})
        row = session.scalar(select(Build).where(Build.project_id == run.project_id,
                                                 Build.key == request.key))
        if row is None:
            row = self._claim(session, run, request, builder)
        elif row.status == FAILED and waiting.get("key") == row.key and waiting.get("attempt") == row.attempt:
            raise BuildFailed(row.message or "the build failed")
        elif row.status == FAILED:  # an earlier run's failure: this run builds again
            row.status, row.attempt, row.run_uuid, row.handle = RUNNING, row.attempt + 1, run.uuid, {}
            row.message = row.finished_at = None
        run.meta_info = {**(run.meta_info or {}), "build": {
            "key": row.key, "attempt": row.attempt, "builder": row.builder,
            "destination": row.destination}}
        if row.status == SUCCEEDED:
            return BuiltImage(str(row.image), row.destination)
        if row.status == RUNNING and not row.handle and self._may_start(session, row, run):
            row.run_uuid = run.uuid  # the context is made in this run's folder
            try:
                row.handle = dict(self.builder(row.builder).start(replace(request, attempt=row.attempt)))
            except ValueError as exc:
                self._record(row, BuildState(FAILED, message=str(exc)))
                raise BuildFailed(str(exc)) from None
        return None

    @staticmethod
    def _may_start(session: Session, row: Build, run: Run) -> bool:
        """Whether ``run`` starts a build nobody started yet: it is the run the build was
        made for, or that run no longer waits for it (stopped, deleted). Another pass may
        be starting it for its own run right now: that one is left to it."""
        if row.run_uuid == run.uuid:
            return True
        owner = session.scalar(select(Run.status).where(Run.uuid == row.run_uuid))
        return owner != Status.SCHEDULED.value

    def _claim(self, session: Session, run: Run, request: BuildRequest, builder: str) -> Build:
        """The build row of ``request``, made for ``run`` unless another orchestrator's
        pass made it first."""
        row = Build(project_id=run.project_id, key=request.key, builder=builder,
                    destination=request.destination, status=RUNNING, attempt=1,
                    run_uuid=run.uuid, handle={})
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            found = session.scalar(select(Build).where(Build.project_id == run.project_id,
                                                       Build.key == request.key))
            assert found is not None
            return found
        return row
