"""The SDK's transport without a server: the database and the store, directly (the
embedded default), imported only by a run that tracks that way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import select

from polyaxon_core.db.models import Run
from polyaxon_core.db.session import session_scope, transact
from polyaxon_core.tracking.backends import PointRow, parse_moment, retry_delay, with_times
from polyaxon_core.tracking.buffer import PermanentSendError


class DatabaseBackend:
    """Writes straight to the database of POLYAXON_DB_URL, one transaction per call;
    metric points as logged by ``attempt`` of the run (None: its current attempt)."""

    batch_size = 5_000

    @classmethod
    def create_run(cls, project: str, name: str | None, description: str | None,
                   tags: Sequence[str], uuid: str | None = None,
                   created_at: str | None = None) -> str:
        """Create a run tracked from this process in ``project``; its uuid. With ``uuid``
        (an offline run's), a run of the project tracked from outside that has it already
        is taken as it is; ``created_at`` (ISO 8601): an offline run's creation."""
        from polyaxon_core.config import load_settings
        from polyaxon_core.db.session import migrate
        from polyaxon_core.domain import notifications  # noqa: F401 - see below
        from polyaxon_core.domain.commands import create_tracked_run

        # the run's end is reported at interpreter exit, when a module that starts threads
        # (as the notifications' does) can no longer be imported: it is imported now
        from polyaxon_core.domain.projects import get_project
        from polyaxon_core.errors import NotFound

        db_url = load_settings().db_url
        migrate(db_url)
        from polyaxon_core.errors import AlreadyExists, PolyaxonError
        from polyaxon_core.tracking.run import TrackingError

        owner, _, name_of_project = project.rpartition("/")
        try:
            def create(session: Any) -> str:
                where = get_project(session, name_of_project, owner or "default")
                try:
                    return create_tracked_run(session, where, name=name, description=description,
                                              tags=tags, uuid=uuid,
                                              created_at=parse_moment(created_at)).uuid
                except AlreadyExists:
                    run = session.scalars(select(Run).where(Run.uuid == uuid)).one()
                    if run.project_id != where.id or run.managed_by != "user":
                        raise
                    return str(run.uuid)

            return transact(db_url, create)
        except (NotFound, PolyaxonError) as exc:
            raise TrackingError(str(exc)) from None

    def __init__(self, run_uuid: str, attempt: int | None = None) -> None:
        from polyaxon_core.config import load_settings

        self.run_uuid = run_uuid
        self.attempt = attempt
        self.settings = load_settings()
        self.db_url = self.settings.db_url
        found = transact(self.db_url, lambda session: session.scalar(
            select(Run.id).where(Run.uuid == run_uuid)), idempotent=True)
        if found is None:
            from polyaxon_core.tracking.run import TrackingError

            raise TrackingError(
                f"run {run_uuid} does not exist in {self.db_url}; check POLYAXON_RUN_UUID "
                "and POLYAXON_DB_URL"
            )

    @property
    def where(self) -> str:
        return self.db_url

    @cached_property
    def store(self) -> Any:
        from polyaxon_core.plugins import create

        return create("store", self.settings.store, self.settings)

    def artifacts_path(self) -> Path:
        local = self.store.local_path(self.run_uuid)
        return Path(local) if local else self.settings.runs_path / self.run_uuid / "artifacts"

    def retry_delay(self, attempt: int) -> float:
        return retry_delay(attempt)

    def _run(self, session: Any) -> Run:
        return session.scalars(select(Run).where(Run.uuid == self.run_uuid)).one()

    def send_metrics(self, batch_id: str, points: Sequence[PointRow]) -> None:
        """Store a batch of points in one transaction (and update the run's last values).

        A database that is busy or away (``OperationalError``) is retried by the caller;
        a batch the domain refuses is dropped (:class:`PermanentSendError`)."""
        from sqlalchemy.exc import InterfaceError, OperationalError, PendingRollbackError

        from polyaxon_core.db.session import is_disconnect
        from polyaxon_core.domain.metrics import log_metric_rows, metric_target
        from polyaxon_core.errors import PolyaxonError

        rows = with_times(points)
        try:
            with session_scope(self.db_url) as session:
                # stored with its batch id: a batch sent again (an offline run pushed
                # twice) is not stored twice
                log_metric_rows(session, metric_target(session, self.run_uuid), batch_id, rows,
                                self.attempt)
        except (OperationalError, InterfaceError, PendingRollbackError):
            raise  # the connection, not the batch: sent again
        except PolyaxonError as exc:
            raise PermanentSendError(str(exc)) from None
        except Exception as exc:
            if is_disconnect(exc):  # the connection was lost mid-statement: sent again
                raise
            # storing it again would fail the same way
            raise PermanentSendError(f"{type(exc).__name__}: {exc}") from None

    def _update(self, **changes: Any) -> None:
        from polyaxon_core.domain.commands import update_run

        # merges and sets: doing one twice changes nothing more
        transact(self.db_url, lambda session: update_run(session, self._run(session), **changes),
                 idempotent=True)

    def merge_json(self, column: str, values: Mapping[str, Any]) -> None:
        self._update(**{column: values})

    def merge_meta(self, values: Mapping[str, Any]) -> None:
        self._update(meta=values)

    def update(self, values: Mapping[str, str | None]) -> None:
        self._update(**values)

    def add_tags(self, tags: Sequence[str]) -> None:
        self._update(tags=tags, merge_tags=True)

    def put_artifact(self, source: Path, path: str) -> int:
        """Store the file ``source`` at ``path`` of the run's artifacts; its size. A file
        written in place (the local store's folder is the run's) is left where it is."""
        local = self.store.local_path(self.run_uuid)
        if local is not None:
            target = Path(local) / self.store.safe_path(path)
            if target.exists() and target.resolve() == source.resolve():
                return source.stat().st_size
        return int(self.store.put_file(self.run_uuid, source, path).size)

    def record_lineage(self, entries: Sequence[Mapping[str, Any]]) -> None:
        from polyaxon_core.domain.artifacts import record_lineage

        def record(session: Any) -> None:
            run = self._run(session)
            for entry in entries:
                record_lineage(session, run, entry["name"], entry["kind"], entry["path"],
                               entry.get("summary"))

        transact(self.db_url, record)

    def promote(self, version: Mapping[str, Any]) -> dict[str, Any]:
        from polyaxon_core.domain.versions import promote, version_document
        from polyaxon_core.errors import PolyaxonError

        try:
            with session_scope(self.db_url) as session:
                return version_document(promote(
                    session, self._run(session), version["kind"], version["name"],
                    description=version.get("description"), tags=version.get("tags") or (),
                    artifacts=version.get("artifacts"), force=bool(version.get("force"))))
        except PolyaxonError as exc:
            from polyaxon_core.tracking.run import TrackingError

            raise TrackingError(f"could not promote the run: {exc}") from None

    def report_status(self, status: str, reason: str, message: str | None,
                      at: str | None = None) -> None:
        from polyaxon_core.domain.commands import report_tracked_status
        from polyaxon_core.errors import PolyaxonError

        try:
            transact(self.db_url, lambda session: report_tracked_status(
                session, self._run(session), status, reason, message, at=parse_moment(at)))
        except PolyaxonError as exc:
            from polyaxon_core.tracking.run import TrackingError

            raise TrackingError(str(exc)) from None

    def close(self) -> None:
        """Nothing to do: every call was committed when it returned."""
