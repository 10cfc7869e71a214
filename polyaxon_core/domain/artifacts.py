"""Run files: copying a run's artifacts into another, recording uploads, discarding
deleted runs' files."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from typing import TYPE_CHECKING

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
    from sqlalchemy import select

    from polyaxon_core.db.models import Artifact

    artifact = session.scalar(
        select(Artifact).where(Artifact.run_id == run.id, Artifact.name == info.path))
    if artifact is None:
        artifact = Artifact(run_id=run.id, name=info.path)
        session.add(artifact)
    artifact.kind = "file"
    artifact.path = info.path
    artifact.summary = {"size": info.size}
