"""What the CLI does to projects and runs, independent of where the state lives.

:class:`Platform` is implemented twice: :class:`~polyaxon_core.client.local.LocalPlatform`
over the database and the domain functions of :mod:`polyaxon_core.domain`, and
:class:`~polyaxon_core.client.remote.RemotePlatform` over the REST API. Both return the
same shapes — plain dicts with Polyaxon's field names, timestamps as ``datetime`` — and
raise the same domain errors, so a command is written once.

Runs are named by their uuid or a unique prefix of it (at least 4 characters).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from polyaxon_core.errors import InvalidRequest

if TYPE_CHECKING:
    from pathlib import Path

    from polyaxon_core.client.api import LogChunk
    from polyaxon_core.spec import OperationSpec


def normalize_run_identifier(identifier: str) -> str:
    """A uuid or uuid prefix as 4 to 32 lowercase hex digits, or InvalidRequest."""
    text = identifier.strip().lower().replace("-", "")
    if len(text) < 4 or len(text) > 32 or not re.fullmatch(r"[0-9a-f]+", text):
        raise InvalidRequest(
            f"{text!r} is not a run uuid; give the uuid or at least its first 4 characters"
        )
    return text


def timeline_for_display(timeline: dict[str, Any]) -> dict[str, Any]:
    """A status timeline in Polyaxon's names (a condition's status is its ``type``) as the
    CLI shows it: each condition's ``status``, ``reason``, ``message`` and time."""
    conditions = [
        {"status": condition.get("type") or condition.get("status"),
         "reason": condition.get("reason"), "message": condition.get("message"),
         "last_transition_time": condition.get("last_transition_time")}
        for condition in timeline.get("status_conditions") or []
    ]
    return {"uuid": timeline.get("uuid"), "status": timeline.get("status"),
            "status_conditions": conditions}


class Platform(ABC):
    """Projects and runs, wherever they are stored."""

    #: where the state lives, for messages: ``database sqlite:///...`` or ``server http://...``
    where: str

    # -------------------------------------------------------------------------- projects
    @abstractmethod
    def create_project(self, name: str, description: str | None,
                       tags: Sequence[str]) -> dict[str, Any]:
        """Create a project; AlreadyExists/Conflict if it exists."""

    @abstractmethod
    def list_projects(self) -> list[dict[str, Any]]:
        """Every project, by name."""

    @abstractmethod
    def get_project(self, name: str) -> dict[str, Any]:
        """A project (``runs``: how many it has, when known); NotFound if none."""

    @abstractmethod
    def update_project(self, name: str, *, new_name: str | None, description: str | None,
                       tags: Sequence[str] | None, queue: str | None = None,
                       notifications: Sequence[Mapping[str, str]] | None = None) -> dict[str, Any]:
        """Rename a project or change its description, tags or queue (None: left as it
        is; an empty queue: back to ``default``)."""

    @abstractmethod
    def project_ci(self, name: str, *, enable: dict[str, str] | None = None,
                   disable: bool = False) -> dict[str, Any]:
        """The project's CI; ``enable`` links it (``connection``, ``branch``,
        ``polyaxonfile``), ``disable`` unlinks it."""

    @abstractmethod
    def delete_project(self, name: str) -> int | None:
        """Delete a project with its runs; how many runs went, when known."""

    # ------------------------------------------------------------------------------ runs
    @abstractmethod
    def submit_run(self, project: str, spec: OperationSpec, *, raw_content: str,
                   context_path: str, name: str | None, description: str | None,
                   tags: Sequence[str], queue: str | None) -> dict[str, Any]:
        """Create, compile and queue a run of a validated operation; the run."""

    def preview_run(self, project: str, spec: OperationSpec, *, raw_content: str,
                    context_path: str, name: str | None) -> list[dict[str, Any]]:
        """What the scheduler would start for a run of ``spec``, creating nothing."""
        raise InvalidRequest(
            f"--dry-run shows what the scheduler of this machine would start; the runs of the "
            f"{self.where} are started by its own scheduler. Unset POLYAXON_HOST to preview "
            "with this machine's configuration")

    @abstractmethod
    def list_runs(self, project: str | None, *, query: str | None, sort: str | None,
                  offset: int, limit: int, archived: bool = False) -> tuple[int, list[dict[str, Any]]]:
        """``(total, page)`` of runs, newest first unless ``sort`` says otherwise; live runs,
        or only archived ones with ``archived``."""

    @abstractmethod
    def get_run(self, identifier: str, project: str | None) -> dict[str, Any]:
        """A run, plus ``message`` (of its last status), ``trials`` (a sweep's children,
        by index: ``index, uuid, status, params, metrics``; empty for other runs) and
        ``lineage`` (what it logged: ``name, kind, path, summary``)."""

    @abstractmethod
    def statuses(self, identifier: str, project: str | None) -> dict[str, Any]:
        """``{"uuid", "status", "status_conditions": [{"status", "reason", "message",
        "last_transition_time"}, ...]}``, oldest first."""

    @abstractmethod
    def read_logs(self, uuid: str, project: str | None, offset: int = 0) -> LogChunk:
        """The log from byte ``offset`` on, as far as it is written now."""

    @abstractmethod
    def follow_logs(self, uuid: str, project: str | None) -> Iterator[str]:
        """The whole log, then new text as it is written, until the run is final."""

    @abstractmethod
    def list_artifacts(self, uuid: str, project: str | None, path: str = "") -> list[dict[str, Any]]:
        """``[{"path", "size", "is_dir"}, ...]``: the entries directly under ``path`` of the
        run's artifacts, sorted."""

    @abstractmethod
    def download_artifact(self, uuid: str, project: str | None, path: str, destination: Path) -> None:
        """Stream the artifact file at ``path`` into ``destination`` (written whole, or not)."""

    @abstractmethod
    def upload_artifact(self, uuid: str, project: str | None, source: Path, path: str) -> None:
        """Store the file ``source`` at ``path`` in the run's artifacts (replacing one there)."""

    @abstractmethod
    def metrics(self, identifier: str, project: str | None, names: Sequence[str], *,
                attempt: int | str | None = None, limit: int | None = None,
                tail: int | None = None) -> dict[str, Any]:
        """``{"uuid", "attempt", "attempts", "metrics": {name: [{"step", "value",
        "timestamp", "attempt"}, ...]}}`` of the latest attempt that logged points, of
        ``attempt``, or of every attempt (``"all"``); ``limit`` / ``tail``: only the first
        / last points of each series (see :func:`polyaxon_core.domain.metrics.read_metrics`)."""

    @abstractmethod
    def update_run(self, uuid: str, project: str | None, *, name: str | None,
                   description: str | None, tags: Sequence[str] | None) -> dict[str, Any]:
        """Change a run's name, description or tags (None: left as it is; tags replace)."""

    @abstractmethod
    def stop_run(self, uuid: str, project: str | None) -> dict[str, Any]:
        """Ask a run to stop; the run as it is right after."""

    @abstractmethod
    def restart_run(self, uuid: str, project: str | None, copy: bool,
                    from_failed: bool = False) -> dict[str, Any]:
        """A new run with the same content (``copy``: and the artifacts); the new run."""

    @abstractmethod
    def resume_run(self, uuid: str, project: str | None) -> dict[str, Any]:
        """Queue a finished run again in place; the run."""

    @abstractmethod
    def archive_run(self, uuid: str, project: str | None) -> dict[str, Any]:
        """Hide a finished run from run lists (Conflict for an unfinished one); the run."""

    @abstractmethod
    def restore_run(self, uuid: str, project: str | None) -> dict[str, Any]:
        """Bring an archived run back into run lists; the run."""

    @abstractmethod
    def delete_run(self, uuid: str, project: str | None) -> list[str]:
        """Delete a finished run (a sweep with its trials); the uuids deleted, when known."""

    @abstractmethod
    def keep_going(self) -> None:
        """Make sure something drives queued runs (on a server: its own orchestrator)."""

    def waiting_notice(self) -> str | None:
        """Why runs may wait with nothing driving them, to say before following one."""
        return None
