"""The platform over the database: the domain functions of :mod:`polyaxon_core.domain`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from polyaxon_core.client.platform import Platform
from polyaxon_core.config import Settings

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.orm import Session

    from polyaxon_core.client.api import LogChunk
    from polyaxon_core.db.models import Project, Run
    from polyaxon_core.interfaces import Scheduler
    from polyaxon_core.orchestrator.backends import Vouched
    from polyaxon_core.spec import OperationSpec


class _Preview(Exception):
    """Leaves the session of a preview with what it found, rolling the session back."""

    def __init__(self, documents: list[dict[str, Any]]) -> None:
        super().__init__("preview")
        self.documents = documents


class LocalPlatform(Platform):
    """Reads and writes the database of ``settings``; ``database`` opens a session on it
    (migrated first), so the CLI can turn a database that cannot be opened into a message."""

    def __init__(self, settings: Settings,
                 database: Callable[[], AbstractContextManager[Session]]) -> None:
        self.settings = settings
        self.database = database
        self.where = f"database {settings.db_url}"

    @cached_property
    def store(self) -> Any:
        from polyaxon_core.plugins import create

        return create("store", self.settings.store, self.settings)

    def keep_going(self) -> None:
        """Start an orchestrator if none runs; OrchestratorUnavailable when none can serve
        the runs (it exits at start, or cannot write the database or the run folders)."""
        from polyaxon_core.orchestrator import (
            OrchestratorUnavailable,
            ensure_orchestrator,
            orchestrator_error,
        )

        ensure_orchestrator(self.settings)
        error = orchestrator_error(self.settings)
        if error:
            raise OrchestratorUnavailable(f"the orchestrator cannot go on: {error}")

    def waiting_notice(self) -> str | None:
        """With POLYAXON_ORCHESTRATOR=external, none is started here: say so when none runs."""
        import os

        from polyaxon_core.orchestrator import OrchestratorLock

        if os.environ.get("POLYAXON_ORCHESTRATOR", "auto") != "external":
            return None
        if OrchestratorLock(self.settings).is_held():
            return None
        return (f"no orchestrator is running for {self.settings.home} and "
                "POLYAXON_ORCHESTRATOR=external starts none: start `polyaxon scheduler` "
                "(or unset POLYAXON_ORCHESTRATOR) for the run to go on; waiting")

    def _check_backends(self) -> Vouched | None:
        """Refuse work for a scheduler or store that is not installed, or that the running
        orchestrator does not use (ConfigurationError), before anything is written; what
        the running orchestrator found of the plugins, when it vouches for them
        (:func:`~polyaxon_core.orchestrator.backends.check_submission_backends`)."""
        from polyaxon_core.orchestrator.backends import check_submission_backends

        return check_submission_backends(self.settings)

    def keep_going_after(self, uuid: str) -> None:
        """keep_going() once ``uuid`` was queued; an error says the run exists."""
        from polyaxon_core.orchestrator import OrchestratorUnavailable

        try:
            self.keep_going()
        except OrchestratorUnavailable as exc:
            raise OrchestratorUnavailable(f"run {uuid} was queued, but {exc}") from None

    # -------------------------------------------------------------------------- projects
    @staticmethod
    def _project_dict(session: Session, project: Project) -> dict[str, Any]:
        from polyaxon_core.domain.projects import count_runs

        return {"uuid": project.uuid, "owner": project.owner, "name": project.name,
                "description": project.description, "tags": list(project.tags or []),
                "created_at": project.created_at, "runs": count_runs(session, project),
                "settings": {"queue": project.queue,
                             "notifications": list(project.notifications or [])}}

    def create_project(self, name: str, description: str | None,
                       tags: Sequence[str]) -> dict[str, Any]:
        from polyaxon_core.domain.projects import create_project

        with self.database() as session:
            project = create_project(session, name, description=description, tags=list(tags))
            return self._project_dict(session, project)

    def list_projects(self) -> list[dict[str, Any]]:
        from polyaxon_core.domain.projects import list_projects

        with self.database() as session:
            return [self._project_dict(session, project) for project in list_projects(session)]

    def get_project(self, name: str) -> dict[str, Any]:
        from polyaxon_core.domain.projects import get_project

        with self.database() as session:
            return self._project_dict(session, get_project(session, name))

    def update_project(self, name: str, *, new_name: str | None, description: str | None,
                       tags: Sequence[str] | None, queue: str | None = None,
                       notifications: Sequence[Mapping[str, str]] | None = None) -> dict[str, Any]:
        from polyaxon_core.domain.projects import get_project, update_project

        with self.database() as session:
            project = update_project(session, get_project(session, name), name=new_name,
                                     description=description, tags=tags, queue=queue,
                                     notifications=notifications)
            return self._project_dict(session, project)

    def project_ci(self, name: str, *, enable: dict[str, str] | None = None,
                   disable: bool = False) -> dict[str, Any]:
        from polyaxon_core.domain import ci
        from polyaxon_core.domain.projects import get_project

        with self.database() as session:
            project = get_project(session, name)
            if enable is not None:
                linked: Any = ci.enable_ci(session, project, **enable)
            elif disable:
                linked = ci.disable_ci(session, project)
            else:
                linked = ci.find_ci(session, project)
            data = ci.ci_document(project, linked)
        if enable is not None:
            self.keep_going()
        return data

    def delete_project(self, name: str) -> int:
        from polyaxon_core.domain.artifacts import discard_run_files
        from polyaxon_core.domain.projects import delete_project, get_project

        with self.database() as session:
            uuids = delete_project(session, get_project(session, name))
        discard_run_files(self.settings, self.store, uuids)
        return len(uuids)

    # ------------------------------------------------------------------------------ runs
    def _project(self, session: Session, name: str | None) -> Project | None:
        from polyaxon_core.domain.projects import get_project

        return get_project(session, name) if name else None

    def _run(self, session: Session, identifier: str, project: str | None) -> Run:
        from polyaxon_core.domain.listing import get_run

        return get_run(session, identifier, self._project(session, project))

    def submit_run(self, project: str, spec: OperationSpec, *, raw_content: str,
                   context_path: str, name: str | None, description: str | None,
                   tags: Sequence[str], queue: str | None) -> dict[str, Any]:
        from polyaxon_core.domain.commands import submit_operation
        from polyaxon_core.domain.listing import run_document
        from polyaxon_core.domain.projects import get_project
        from polyaxon_core.events import listeners_declared

        vouched = self._check_backends()
        with listeners_declared(vouched.listeners if vouched else None), self.database() as session:
            run = submit_operation(
                session, get_project(session, project), spec,
                default_concurrency=self.settings.default_concurrency, raw_content=raw_content,
                name=name, description=description, tags=list(tags), queue=queue,
                context_path=context_path,
                scheduler=vouched.scheduler if vouched else self.settings.scheduler,
                # the store is made only when the run's joins read artifacts paths
                store=self.store if spec.joins else None,
            )
            data = run_document(run)
        self.keep_going_after(data["uuid"])
        return data

    def preview_run(self, project: str, spec: OperationSpec, *, raw_content: str,
                    context_path: str, name: str | None) -> list[dict[str, Any]]:
        """The run made as :meth:`submit_run` makes it, its launch built as the orchestrator
        builds it and given to the scheduler's ``describe``; then all of it rolled back."""
        from polyaxon_core.domain.commands import submit_operation
        from polyaxon_core.domain.projects import get_project
        from polyaxon_core.errors import InvalidRequest
        from polyaxon_core.lifecycle import CONTROLLED_KINDS
        from polyaxon_core.orchestrator.backends import check_backends
        from polyaxon_core.orchestrator.builds import BuiltImage
        from polyaxon_core.orchestrator.loop import build_launch, plan_run_build
        from polyaxon_core.plugins import get_plugin_manager

        check_backends(self.settings)
        scheduler: type[Scheduler] = get_plugin_manager().get("scheduler", self.settings.scheduler)
        try:
            with self.database() as session:
                run = submit_operation(
                    session, get_project(session, project), spec,
                    default_concurrency=self.settings.default_concurrency, raw_content=raw_content,
                    name=name, context_path=context_path, store=self.store,
                    scheduler=self.settings.scheduler)
                if run.kind in CONTROLLED_KINDS:
                    raise InvalidRequest(
                        f"--dry-run shows one run's objects; a {run.kind}'s runs are made as it "
                        "goes. Preview its component with the -P values of one of them")
                session.flush()
                artifacts = self.settings.artifacts_path / run.uuid
                built = None
                if spec.build:  # the image its build would push, by the name it would have
                    request, _ = plan_run_build(self.settings, run, artifacts,
                                                scheduler.run_globals(self.settings))
                    built = BuiltImage(request.destination, request.destination)
                launch = build_launch(self.settings, run, artifacts, scheduler.run_globals(self.settings),
                                      built)
                try:
                    documents = scheduler.describe(self.settings, launch)
                except ValueError as exc:
                    raise InvalidRequest(str(exc)) from None
                raise _Preview(documents)
        except _Preview as preview:  # raised to roll the run back
            return preview.documents

    def list_runs(self, project: str | None, *, query: str | None, sort: str | None,
                  offset: int, limit: int, archived: bool = False) -> tuple[int, list[dict[str, Any]]]:
        from polyaxon_core.domain.listing import list_runs, run_document

        with self.database() as session:
            total, rows = list_runs(session, self._project(session, project), query=query,
                                    sort=sort, offset=offset, limit=limit, archived=archived)
            return total, [run_document(run, detail=False) for run in rows]

    def get_run(self, identifier: str, project: str | None) -> dict[str, Any]:
        from sqlalchemy import select

        from polyaxon_core.db.models import Run
        from polyaxon_core.domain.artifacts import lineage_of
        from polyaxon_core.domain.listing import dag_operations, run_document
        from polyaxon_core.domain.notifications import deliveries_of

        with self.database() as session:
            run = self._run(session, identifier, project)
            data = run_document(run)
            data["message"] = run.conditions[-1].message if run.conditions else None
            data["trials"] = [
                {"index": child.matrix_index, "uuid": child.uuid, "status": child.status,
                 "params": (child.meta_info or {}).get("matrix", {}).get("params", {}),
                 "metrics": dict(child.last_metrics or {})}
                for child in session.scalars(
                    select(Run).where(Run.pipeline_id == run.id).order_by(Run.matrix_index))
            ] if run.kind == "matrix" else []
            if run.kind == "dag":
                data["operations"] = dag_operations(session, run)
            data["notifications"] = deliveries_of(session, run)
            data["lineage"] = lineage_of(session, run)
            return data

    def statuses(self, identifier: str, project: str | None) -> dict[str, Any]:
        from polyaxon_core.client.platform import timeline_for_display
        from polyaxon_core.domain.listing import status_timeline

        with self.database() as session:
            return timeline_for_display(status_timeline(self._run(session, identifier, project)))

    def _status(self, uuid: str) -> str:
        with self.database() as session:
            return self._run(session, uuid, None).status

    # ------------------------------------------------------------------------- artifacts
    def list_artifacts(self, uuid: str, project: str | None, path: str = "") -> list[dict[str, Any]]:
        with _artifact_paths():
            return [{"path": entry.path, "size": entry.size, "is_dir": entry.is_dir}
                    for entry in self.store.list(uuid, path)]

    def download_artifact(self, uuid: str, project: str | None, path: str, destination: Path) -> None:
        import shutil

        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(destination.name + ".part")
        with _artifact_paths(), self.store.open(uuid, path) as stream, open(partial, "wb") as target:
            shutil.copyfileobj(stream, target, 1024 * 1024)
        partial.replace(destination)

    def upload_artifact(self, uuid: str, project: str | None, source: Path, path: str) -> None:
        from polyaxon_core.domain.artifacts import record_upload

        with _artifact_paths():
            info = self.store.put_file(uuid, source, path)
        with self.database() as session:
            record_upload(session, self._run(session, uuid, project), info)

    def read_logs(self, uuid: str, project: str | None, offset: int = 0) -> LogChunk:
        from polyaxon_core.client.api import LogChunk
        from polyaxon_core.lifecycle import is_final

        done = is_final(self._status(uuid))
        chunk = self.store.read_log(uuid, offset)
        return LogChunk(chunk.data.decode(errors="replace"), chunk.next_offset, done)

    def follow_logs(self, uuid: str, project: str | None) -> Iterator[str]:
        from polyaxon_core.lifecycle import is_final

        offset = 0
        while True:
            status = self._status(uuid)
            chunk = self.store.read_log(uuid, offset)
            if chunk.data:
                offset = chunk.next_offset
                yield chunk.data.decode(errors="replace")
            if is_final(status):
                # the runner writes the log before the final status: one last read
                tail = self.store.read_log(uuid, offset)
                if tail.data:
                    yield tail.data.decode(errors="replace")
                return
            self.keep_going()
            time.sleep(self.settings.poll_interval)

    def metrics(self, identifier: str, project: str | None, names: Sequence[str], *,
                attempt: int | str | None = None, limit: int | None = None,
                tail: int | None = None) -> dict[str, Any]:
        from polyaxon_core.domain.metrics import read_metrics

        with self.database() as session:
            run = self._run(session, identifier, project)
            answer = read_metrics(session, run, names=names, attempt=attempt, limit=limit,
                                  tail=tail)
            return {"uuid": run.uuid, **answer}

    def update_run(self, uuid: str, project: str | None, *, name: str | None,
                   description: str | None, tags: Sequence[str] | None) -> dict[str, Any]:
        from polyaxon_core.domain.commands import update_run
        from polyaxon_core.domain.listing import run_document

        with self.database() as session:
            run = update_run(session, self._run(session, uuid, project), name=name,
                             description=description, tags=tags)
            return run_document(run)

    def stop_run(self, uuid: str, project: str | None) -> dict[str, Any]:
        from polyaxon_core.domain.commands import request_stop
        from polyaxon_core.domain.listing import run_document

        with self.database() as session:
            data = run_document(request_stop(session, self._run(session, uuid, project)))
        self.keep_going()
        return data

    def restart_run(self, uuid: str, project: str | None, copy: bool,
                    from_failed: bool = False) -> dict[str, Any]:
        from polyaxon_core.domain.artifacts import copy_run_artifacts
        from polyaxon_core.domain.commands import clone_run
        from polyaxon_core.domain.listing import run_document

        self._check_backends()
        with self.database() as session:
            original = self._run(session, uuid, project)
            run = clone_run(session, original, "copy" if copy else "restart",
                            from_failed=from_failed)
            data = run_document(run)
            if copy:
                copy_run_artifacts(self.store, original.uuid, run.uuid)
        self.keep_going_after(data["uuid"])
        return data

    def resume_run(self, uuid: str, project: str | None) -> dict[str, Any]:
        from polyaxon_core.domain.commands import resume_run
        from polyaxon_core.domain.listing import run_document

        self._check_backends()
        with self.database() as session:
            data = run_document(resume_run(session, self._run(session, uuid, project)))
        self.keep_going_after(data["uuid"])
        return data

    def archive_run(self, uuid: str, project: str | None) -> dict[str, Any]:
        from polyaxon_core.domain.commands import archive_run
        from polyaxon_core.domain.listing import run_document

        with self.database() as session:
            return run_document(archive_run(session, self._run(session, uuid, project)))

    def restore_run(self, uuid: str, project: str | None) -> dict[str, Any]:
        from polyaxon_core.domain.commands import restore_run
        from polyaxon_core.domain.listing import run_document

        with self.database() as session:
            return run_document(restore_run(session, self._run(session, uuid, project)))

    def delete_run(self, uuid: str, project: str | None) -> list[str]:
        from polyaxon_core.domain.artifacts import discard_run_files
        from polyaxon_core.domain.commands import delete_run

        with self.database() as session:
            uuids = delete_run(session, self._run(session, uuid, project))
        discard_run_files(self.settings, self.store, uuids)
        return uuids


@contextmanager
def _artifact_paths() -> Iterator[None]:
    """A path that leaves its run is the caller's mistake, said as such."""
    from polyaxon_core.errors import InvalidRequest
    from polyaxon_core.interfaces import UnsafePathError

    try:
        yield
    except UnsafePathError as exc:
        raise InvalidRequest(str(exc)) from None
