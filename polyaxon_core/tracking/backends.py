"""Where the SDK's data goes. Without a server: the database and the store, directly.

(With a server configured, :mod:`polyaxon_core.tracking.remote` sends it to the API.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import select

from polyaxon_core.db.models import Artifact, Run
from polyaxon_core.db.session import session_scope


@dataclass(frozen=True)
class MetricPoint:
    name: str
    value: float
    step: int | None
    #: when it was logged (UTC); None: when it is stored
    timestamp: datetime | None = None


class DatabaseBackend:
    """Writes straight to the database of POLYAXON_DB_URL, one transaction per call;
    metric points as logged by ``attempt`` of the run (None: its current attempt)."""

    def __init__(self, run_uuid: str, attempt: int | None = None) -> None:
        from polyaxon_core.config import load_settings

        self.run_uuid = run_uuid
        self.attempt = attempt
        self.settings = load_settings()
        self.db_url = self.settings.db_url
        with session_scope(self.db_url) as session:
            if session.scalar(select(Run.id).where(Run.uuid == run_uuid)) is None:
                from polyaxon_core.tracking.run import TrackingError

                raise TrackingError(
                    f"run {run_uuid} does not exist in {self.db_url}; check POLYAXON_RUN_UUID "
                    "and POLYAXON_DB_URL"
                )

    @cached_property
    def store(self) -> Any:
        from polyaxon_core.plugins import create

        return create("store", self.settings.store, self.settings)

    def artifacts_path(self) -> Path:
        local = self.store.local_path(self.run_uuid)
        return Path(local) if local else self.settings.runs_path / self.run_uuid / "artifacts"

    def _run(self, session: Any) -> Run:
        return session.scalars(select(Run).where(Run.uuid == self.run_uuid)).one()

    def log_metrics(self, points: Sequence[MetricPoint]) -> None:
        """Store points of one step in one transaction (and update the run's last values)."""
        from polyaxon_core.domain.metrics import store_metric_points

        with session_scope(self.db_url) as session:
            store_metric_points(
                session, self._run(session),
                [{"name": p.name, "value": p.value, "step": p.step, "timestamp": p.timestamp}
                 for p in points],
                self.attempt)

    def merge_json(self, column: str, values: Mapping[str, Any]) -> None:
        with session_scope(self.db_url) as session:
            run = self._run(session)
            setattr(run, column, {**(getattr(run, column) or {}), **values})

    def add_tags(self, tags: Sequence[str]) -> None:
        with session_scope(self.db_url) as session:
            run = self._run(session)
            run.tags = list(dict.fromkeys([*(run.tags or []), *tags]))

    def put_artifact(self, source: Path, name: str, kind: str) -> None:
        info = self.store.put_file(self.run_uuid, source, name)
        with session_scope(self.db_url) as session:
            run = self._run(session)
            artifact = session.scalar(
                select(Artifact).where(Artifact.run_id == run.id, Artifact.name == name)
            )
            if artifact is None:
                artifact = Artifact(run_id=run.id, name=name)
                session.add(artifact)
            artifact.kind = kind
            artifact.path = info.path
            artifact.summary = {"size": info.size}

    def close(self) -> None:
        """Nothing to do: every call was committed when it returned."""
