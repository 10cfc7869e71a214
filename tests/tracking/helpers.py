"""What the tracking tests share."""

from __future__ import annotations

from typing import Any

import pytest

from polyaxon_core.db.models import Run
from polyaxon_core.db.session import session_scope
from polyaxon_core.domain.projects import create_project


def tracked_run(db_url: str, monkeypatch: pytest.MonkeyPatch, **columns: Any) -> str:
    """A job run of project ``p`` in the database of ``db_url``, made the run this process
    tracks (POLYAXON_DB_URL, POLYAXON_RUN_UUID); its uuid."""
    monkeypatch.setenv("POLYAXON_DB_URL", db_url)
    with session_scope(db_url) as session:
        run = Run(project=create_project(session, "p"), kind="job", runtime="job", **columns)
        session.add(run)
        session.flush()
        uuid = run.uuid
    monkeypatch.setenv("POLYAXON_RUN_UUID", uuid)
    return uuid
