"""The CI controller: checks the branches of projects linked to git and runs new commits.

See :mod:`polyaxon_core.domain.ci`. A check reads the branch's tip with ``git ls-remote``
(outside any transaction), checks a new commit out, reads its polyaxonfile, then in one
transaction moves the project's last commit (compare-and-set) and submits the run, so a
commit is run once however many orchestrators race, and a failed check (an unreachable
repository, an invalid polyaxonfile) is recorded on the project and tried again at the
next interval.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import or_, select

from polyaxon_core.config import Settings
from polyaxon_core.db.models import ProjectCI
from polyaxon_core.db.session import session_scope
from polyaxon_core.domain import ci as domain

logger = logging.getLogger(__name__)


class CIController:
    def __init__(self, settings: Settings, clock: Callable[[], float]) -> None:
        self.settings = settings
        self.clock = clock

    def control_all(self, db_url: str) -> None:
        now = datetime.fromtimestamp(self.clock(), UTC)
        due = now - timedelta(seconds=domain.interval())
        with session_scope(db_url) as session:
            ids = session.scalars(select(ProjectCI.id).where(
                ProjectCI.enabled.is_(True),
                or_(ProjectCI.requested_at.is_not(None), ProjectCI.checked_at.is_(None),
                    ProjectCI.checked_at <= due))).all()
        for ci_id in ids:
            self.check(db_url, ci_id, now)

    def check(self, db_url: str, ci_id: int, now: datetime) -> str | None:
        """Check one project's branch; the uuid of the run it started, if any."""
        from polyaxon_core.connections import get_connection

        with session_scope(db_url) as session:
            ci = session.get(ProjectCI, ci_id)
            if ci is None or not ci.enabled:
                return None
            connection, branch, last = ci.connection, ci.branch, ci.last_commit
            polyaxonfile, project_id = ci.polyaxonfile, ci.project_id
            ci.checked_at, ci.requested_at = now, None
        try:
            url = str(get_connection(connection).schema["url"])
            commit = domain.head_commit(url, branch)
            if commit == last:
                self._record(db_url, ci_id, None)
                return None
            folder = domain.checkout(url, commit, self.settings.home / "ci" / str(project_id) / commit)
            return self._submit(db_url, ci_id, last, commit, folder, polyaxonfile, url, branch)
        except Exception as exc:  # a check that fails is recorded and tried again
            logger.info("CI check of project %s failed: %s", project_id, exc)
            self._record(db_url, ci_id, str(exc))
            return None

    def _submit(self, db_url: str, ci_id: int, previous: str | None, commit: str, folder: Path,
                polyaxonfile: str, url: str, branch: str) -> str | None:
        from polyaxon_core.db.models import Project
        from polyaxon_core.domain.commands import submit_operation
        from polyaxon_core.spec import read_polyaxonfile

        path = folder / polyaxonfile
        if not path.is_file():
            raise RuntimeError(f"commit {commit[:12]} has no {polyaxonfile}")
        spec = read_polyaxonfile(path)
        with session_scope(db_url) as session:
            ci = session.get(ProjectCI, ci_id)
            assert ci is not None
            if not domain.claim_commit(session, ci_id, previous, commit):
                return None  # another orchestrator ran this commit
            project = session.get(Project, ci.project_id)
            assert project is not None
            run = submit_operation(
                session, project, spec, default_concurrency=self.settings.default_concurrency,
                raw_content=path.read_text(), tags=["ci"], context_path=str(path.parent),
                scheduler=self.settings.scheduler)
            run.meta_info = {**(run.meta_info or {}),
                             "code_ref": {"commit": commit, "branch": branch, "repository": url}}
            ci.last_error = None
            logger.info("CI: commit %s of %s runs as %s", commit[:12], branch, run.uuid)
            return run.uuid

    def _record(self, db_url: str, ci_id: int, error: str | None) -> None:
        with session_scope(db_url) as session:
            ci = session.get(ProjectCI, ci_id)
            if ci is not None:
                ci.last_error = error
