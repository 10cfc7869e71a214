"""Run files: copying a run's artifacts into another, recording uploads, discarding
deleted runs' files."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from polyaxon_core.config import Settings
    from polyaxon_core.db.models import Run
    from polyaxon_core.entities import ArtifactInfo
    from polyaxon_core.interfaces import ArtifactStore


def copy_run_artifacts(store: ArtifactStore, source: str, target: str) -> int:
    """Copy every artifact of run ``source`` into run ``target`` (same paths); return how many.

    Used by ``restart --copy`` and by trials that resume another one's checkpoints.
    """
    copied = 0
    for info in store.walk(source):
        with store.open(source, info.path) as stream:
            store.put_stream(target, stream, info.path)
        copied += 1
    return copied


def discard_run_files(settings: Settings, store: ArtifactStore, uuids: Iterable[str]) -> None:
    """Remove deleted runs' logs and artifacts from the store and their local folders."""
    for uuid in uuids:
        store.delete_run(uuid)
        run_path = settings.runs_path / uuid
        if run_path.exists():
            shutil.rmtree(run_path, ignore_errors=True)


def record_upload(session: Session, run: Run, info: ArtifactInfo) -> None:
    """Record a file uploaded into ``run``'s artifacts (its lineage row), replacing the
    record of one uploaded at the same path before."""
    record_lineage(session, run, info.path, "file", info.path, {"size": info.size})


#: what a lineage row's ``kind`` may be: what the SDK logs, plus ``file`` and ``folder``
LINEAGE_KINDS = (
    "file", "folder", "model", "dataframe", "image", "histogram", "text", "html", "curve",
    "confusion", "chart", "env", "code", "data", "tensorboard", "checkpoint",
)


def record_lineage(session: Session, run: Run, name: str, kind: str, path: str,
                   summary: dict[str, Any] | None = None) -> None:
    """Record (or replace) the lineage row ``name`` of ``run``: an artifact of ``kind``
    at ``path`` in the run's artifacts, described by ``summary`` (its size, its hash...)."""
    from sqlalchemy import select

    from polyaxon_core.db.models import Artifact

    artifact = session.scalar(
        select(Artifact).where(Artifact.run_id == run.id, Artifact.name == name))
    if artifact is None:
        artifact = Artifact(run_id=run.id, name=name)
        session.add(artifact)
    artifact.kind = kind
    artifact.path = path
    artifact.summary = dict(summary or {})


def lineage_of(session: Session, run: Run) -> list[dict[str, Any]]:
    """The run's lineage rows, oldest first, as the API returns them."""
    from sqlalchemy import select

    from polyaxon_core.db.models import Artifact

    rows = session.scalars(
        select(Artifact).where(Artifact.run_id == run.id).order_by(Artifact.id)).all()
    return [{"name": row.name, "kind": row.kind, "path": row.path, "summary": row.summary or {},
             "run": run.uuid, "created_at": row.created_at} for row in rows]
