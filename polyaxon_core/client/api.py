"""A typed client of the REST API (docs/api-contract.md), one method per endpoint.

Resources come back as the JSON objects the API sends (``dict``: a run has Polyaxon's
field names, timestamps as ISO strings); small structured answers as dataclasses. Every
failure raises: an :class:`~polyaxon_core.client.errors.ApiError` subclass that is also
the matching domain error (``NotFound``, ``Conflict``, ``InvalidRequest``), or
:class:`~polyaxon_core.client.errors.ServerUnreachable` naming the host.
"""

from __future__ import annotations

import codecs
import http.client
import shutil
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyaxon_core.client.errors import ServerUnreachable
from polyaxon_core.client.transport import DEFAULT_RETRY, DEFAULT_TIMEOUT, RetryPolicy, Transport

DEFAULT_OWNER = "default"
#: the most points one metrics request may carry
MAX_BATCH_POINTS = 1_000


@dataclass(frozen=True)
class LogChunk:
    """Log text from ``offset`` on; ``done``: the run is final, nothing more will come."""

    data: str
    next_offset: int
    done: bool


@dataclass(frozen=True)
class BatchResult:
    """What the server did with a metric batch: ``duplicate`` when it had it already."""

    count: int
    duplicate: bool


@dataclass(frozen=True)
class ArtifactEntry:
    path: str
    size: int | None
    is_dir: bool


def _segment(value: str) -> str:
    return urllib.parse.quote(value, safe="")


class ApiClient:
    """Talks to one server as one user (``token``); safe to share between threads."""

    def __init__(self, host: str, token: str | None = None, owner: str = DEFAULT_OWNER,
                 timeout: float = DEFAULT_TIMEOUT, retry: RetryPolicy = DEFAULT_RETRY) -> None:
        self.transport = Transport(host, token, timeout=timeout, retry=retry)
        self.owner = owner

    @property
    def host(self) -> str:
        return self.transport.host

    def _project_path(self, project: str) -> str:
        return f"/api/v1/{_segment(self.owner)}/{_segment(project)}"

    def _run_path(self, project: str, uuid: str) -> str:
        return f"{self._project_path(project)}/runs/{_segment(uuid)}"

    # ----------------------------------------------------------------------------- users
    def create_token(self, username: str, password: str) -> str:
        """Exchange a username and password for a token (``POST /users/token``)."""
        answer = self.transport.request(
            "POST", "/api/v1/users/token", json_body={"username": username, "password": password},
        ).json()
        return str(answer["token"])

    def revoke_token(self) -> None:
        """Revoke the token this client authenticates with (``DELETE /users/token``)."""
        self.transport.request("DELETE", "/api/v1/users/token")

    def whoami(self) -> dict[str, Any]:
        """The authenticated user: ``username``, ``email``, ``role``, ..."""
        answer: dict[str, Any] = self.transport.request("GET", "/api/v1/users").json()
        return answer

    # -------------------------------------------------------------------------- projects
    def list_projects(self, offset: int = 0, limit: int = 100) -> dict[str, Any]:
        """One page: ``{"count", "results", "previous", "next"}``."""
        page: dict[str, Any] = self.transport.request(
            "GET", f"/api/v1/{_segment(self.owner)}/projects/list",
            params={"offset": offset, "limit": limit},
        ).json()
        return page

    def create_project(self, name: str, description: str | None = None,
                       tags: Sequence[str] = ()) -> dict[str, Any]:
        project: dict[str, Any] = self.transport.request(
            "POST", f"/api/v1/{_segment(self.owner)}/projects/create",
            json_body={"name": name, "description": description, "tags": list(tags)},
        ).json()
        return project

    def get_project(self, name: str) -> dict[str, Any]:
        project: dict[str, Any] = self.transport.request("GET", self._project_path(name)).json()
        return project

    def project_ci(self, project: str, change: str | None = None,
                   body: dict[str, Any] | None = None) -> dict[str, Any]:
        """The project's CI (``change``: ``PUT`` to link it with ``body``, ``DELETE`` to
        unlink it)."""
        answer: dict[str, Any] = self.transport.request(
            change or "GET", f"{self._project_path(project)}/ci", json_body=body).json()
        return answer

    def update_project(self, name: str, *, new_name: str | None = None,
                       description: str | None = None, tags: Sequence[str] | None = None,
                       queue: str | None = None,
                       notifications: Sequence[Mapping[str, str]] | None = None) -> dict[str, Any]:
        """Rename a project or change its description, tags, queue (None: left as it is;
        an empty queue: back to ``default``) or notifications (replaced)."""
        body: dict[str, Any] = {}
        for key, value in (("name", new_name), ("description", description), ("tags", tags)):
            if value is not None:
                body[key] = list(value) if key == "tags" else value
        settings: dict[str, Any] = {}
        if queue is not None:
            settings["queue"] = queue or None
        if notifications is not None:
            settings["notifications"] = [dict(entry) for entry in notifications]
        if settings:
            body["settings"] = settings
        project: dict[str, Any] = self.transport.request(
            "PATCH", self._project_path(name), json_body=body).json()
        return project

    def delete_project(self, name: str) -> None:
        self.transport.request("DELETE", self._project_path(name))

    # ------------------------------------------------------------------------------ runs
    def create_run(self, project: str, content: str, *, name: str | None = None,
                   description: str | None = None, tags: Sequence[str] = (),
                   queue: str | None = None) -> dict[str, Any]:
        """Create (compile and queue) a run from polyaxonfile ``content`` (YAML or JSON);
        ``tags`` are added to the file's, ``queue`` overrides the file's."""
        body: dict[str, Any] = {"content": content, "tags": list(tags)}
        for key, value in (("name", name), ("description", description), ("queue", queue)):
            if value is not None:
                body[key] = value
        run: dict[str, Any] = self.transport.request(
            "POST", f"{self._project_path(project)}/runs", json_body=body).json()
        return run

    def create_tracked_run(self, project: str, *, name: str | None = None,
                           description: str | None = None, tags: Sequence[str] = (),
                           uuid: str | None = None, created_at: str | None = None) -> dict[str, Any]:
        """Create a run tracked from this process (``managed_by: user``): the server does
        not run anything; the run is running until :meth:`report_status` ends it. ``uuid``
        keeps the one an offline run was given, ``created_at`` (ISO 8601) its creation."""
        body: dict[str, Any] = {"managed_by": "user", "tags": list(tags), "name": name,
                                "description": description}
        if uuid is not None:
            body["uuid"] = uuid
        if created_at is not None:
            body["created_at"] = created_at
        run: dict[str, Any] = self.transport.request(
            "POST", f"{self._project_path(project)}/runs", json_body=body).json()
        return run

    def report_status(self, project: str, uuid: str, status: str, reason: str | None = None,
                      message: str | None = None, at: str | None = None) -> dict[str, Any]:
        """Report the status of a run tracked from a user's process; ``at`` (ISO 8601):
        when it happened, if earlier than now."""
        run: dict[str, Any] = self.transport.request(
            "POST", f"{self._run_path(project, uuid)}/statuses",
            json_body={"condition": {"type": status, "status": True, "reason": reason,
                                     "message": message, "last_transition_time": at}},
            idempotent=True).json()  # reporting the status a run has already changes nothing
        return run

    def list_runs(self, project: str, *, query: str | None = None, sort: str | None = None,
                  offset: int = 0, limit: int = 20, archived: bool = False) -> dict[str, Any]:
        """One page of runs: ``{"count", "results", "previous", "next"}``; live runs, or
        only archived ones with ``archived``."""
        page: dict[str, Any] = self.transport.request(
            "GET", f"{self._project_path(project)}/runs",
            params={"query": query, "sort": sort, "offset": offset, "limit": limit,
                    "archived": "true" if archived else None},
        ).json()
        return page

    def get_run(self, project: str, uuid: str) -> dict[str, Any]:
        run: dict[str, Any] = self.transport.request("GET", self._run_path(project, uuid)).json()
        return run

    def patch_run(self, project: str, uuid: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change ``name, description, tags, inputs, outputs, meta_info``; the last three
        are merged into what is stored, ``tags`` replaces the list."""
        run: dict[str, Any] = self.transport.request(
            "PATCH", self._run_path(project, uuid), json_body=dict(changes)).json()
        return run

    def get_notifications(self, project: str, uuid: str) -> list[dict[str, Any]]:
        """The notifications the run's hooks owe, with their delivery attempts."""
        answer: dict[str, Any] = self.transport.request(
            "GET", f"{self._run_path(project, uuid)}/notifications").json()
        return list(answer["results"])

    def get_statuses(self, project: str, uuid: str) -> dict[str, Any]:
        """``{"uuid", "status", "status_conditions": [...]}``."""
        statuses: dict[str, Any] = self.transport.request(
            "GET", f"{self._run_path(project, uuid)}/statuses").json()
        return statuses

    def _action(self, project: str, uuid: str, action: str,
                body: dict[str, Any] | None = None) -> dict[str, Any] | None:
        answer: dict[str, Any] | None = self.transport.request(
            "POST", f"{self._run_path(project, uuid)}/{action}", json_body=body).json()
        return answer

    def stop_run(self, project: str, uuid: str) -> dict[str, Any] | None:
        return self._action(project, uuid, "stop")

    def restart_run(self, project: str, uuid: str, copy: bool = False,
                    from_failed: bool = False) -> dict[str, Any]:
        """A new run with the same content (``copy``: and a copy of the artifacts;
        ``from_failed``: of a DAG, only the operations that did not succeed)."""
        run = self._action(project, uuid, "copy" if copy else "restart",
                           {"from_failed": True} if from_failed else None)
        return run or {}

    def resume_run(self, project: str, uuid: str) -> dict[str, Any] | None:
        return self._action(project, uuid, "resume")

    def archive_run(self, project: str, uuid: str) -> dict[str, Any] | None:
        return self._action(project, uuid, "archive")

    def restore_run(self, project: str, uuid: str) -> dict[str, Any] | None:
        return self._action(project, uuid, "restore")

    def delete_run(self, project: str, uuid: str) -> None:
        self.transport.request("DELETE", self._run_path(project, uuid))

    # ------------------------------------------------------------------------------ logs
    def read_logs(self, project: str, uuid: str, offset: int = 0) -> LogChunk:
        answer = self.transport.request(
            "GET", f"{self._run_path(project, uuid)}/logs", params={"offset": offset}).json()
        return LogChunk(str(answer.get("data") or ""), int(answer.get("next_offset", offset)),
                        bool(answer.get("done")))

    def follow_logs(self, project: str, uuid: str, offset: int = 0) -> Iterator[tuple[str, int]]:
        """Yield ``(text, next_offset)`` from the follow stream until the run is final.

        The stream is read as it arrives; ``next_offset`` counts the bytes received, so a
        caller whose connection broke can open a new stream where this one stopped.
        """
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        with self.transport.stream(f"{self._run_path(project, uuid)}/logs",
                                   params={"offset": offset, "follow": True}) as response:
            while True:
                try:
                    data = response.read1(65536)
                except (OSError, http.client.HTTPException) as exc:
                    raise ServerUnreachable(
                        f"the log stream from {self.host} broke at byte {offset}: "
                        f"{type(exc).__name__}") from None
                if not data:
                    break
                offset += len(data)
                text = decoder.decode(data)
                if text:
                    yield text, offset
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail, offset

    # --------------------------------------------------------------------------- metrics
    def log_metrics(self, project: str, uuid: str, batch_id: str,
                    points: Sequence[Mapping[str, Any]],
                    retry: RetryPolicy | None = None, attempt: int | None = None) -> BatchResult:
        """Store up to 1,000 points (``name, value, step?, timestamp?``) as one batch,
        logged by ``attempt`` of the run (None: the run's current attempt).

        The same ``batch_id`` sent again for the run is not stored twice, which is what
        makes this request safe to retry.
        """
        if len(points) > MAX_BATCH_POINTS:
            raise ValueError(f"a batch holds at most {MAX_BATCH_POINTS} points, got {len(points)}")
        body: dict[str, Any] = {"batch_id": batch_id, "metrics": [dict(point) for point in points]}
        if attempt is not None:
            body["attempt"] = attempt
        answer = self.transport.request(
            "POST", f"{self._run_path(project, uuid)}/metrics", json_body=body,
            idempotent=True, retry=retry,
        ).json()
        return BatchResult(int(answer.get("count", len(points))), bool(answer.get("duplicate")))

    def get_metrics(self, project: str, uuid: str, names: Sequence[str] = (),
                    max_points: int | None = None, *, attempt: int | str | None = None,
                    limit: int | None = None, tail: int | None = None) -> dict[str, Any]:
        """Every series (or those named) of one attempt (the latest by default, ``"all"``:
        every attempt's): ``{"attempt", "attempts", "metrics": {name: [{"step", "value",
        "timestamp", "attempt"}, ...]}}``; ``limit`` / ``tail``: the first / last points
        of each series."""
        answer: dict[str, Any] = self.transport.request(
            "GET", f"{self._run_path(project, uuid)}/metrics",
            params={"names": list(names) or None, "max_points": max_points, "attempt": attempt,
                    "limit": limit, "tail": tail},
        ).json()
        return answer

    # ------------------------------------------------------------------------- artifacts
    def artifacts_tree(self, project: str, uuid: str, path: str = "") -> list[ArtifactEntry]:
        answer = self.transport.request(
            "GET", f"{self._run_path(project, uuid)}/artifacts/tree", params={"path": path}).json()
        return [ArtifactEntry(str(item["path"]), item.get("size"), bool(item.get("is_dir")))
                for item in answer.get("files", [])]

    def download_artifact(self, project: str, uuid: str, path: str, destination: Path) -> Path:
        """Stream the artifact at ``path`` into the file ``destination``."""
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(destination.name + ".part")
        with self.transport.stream(f"{self._run_path(project, uuid)}/artifacts/download",
                                   params={"path": path},
                                   read_timeout=self.transport.timeout) as response, \
                open(partial, "wb") as target:
            shutil.copyfileobj(response, target)
        partial.replace(destination)
        return destination

    def upload_artifact(self, project: str, uuid: str, path: str, source: Path,
                        record: bool = True) -> None:
        """Send the file ``source`` to be stored as ``path`` in the run's artifacts, and
        recorded in its lineage as a file unless ``record`` is False.

        Retried like an idempotent request: uploading the same file to the same path
        again leaves the same artifact.
        """
        params = {"path": path} if record else {"path": path, "record": "false"}
        with open(source, "rb") as stream:
            self.transport.request(
                "POST", f"{self._run_path(project, uuid)}/artifacts/upload",
                params=params, body=stream, content_type="application/octet-stream",
                idempotent=True,
            )

    def lineage(self, project: str, uuid: str) -> list[dict[str, Any]]:
        """The run's lineage: what it logged (``name, kind, path, summary``), oldest first."""
        answer = self.transport.request(
            "GET", f"{self._run_path(project, uuid)}/lineage/artifacts").json()
        return list(answer.get("results", []))

    def promote_run(self, project: str, uuid: str, version: Mapping[str, Any]) -> dict[str, Any]:
        """Make the run a model (or artifact) version of its project: ``kind``, ``name``,
        ``description``, ``tags``, ``artifacts``, ``force``; the version."""
        answer: dict[str, Any] = self.transport.request(
            "POST", f"{self._run_path(project, uuid)}/promote", json_body=dict(version)).json()
        return answer

    def versions(self, project: str, kind: str) -> list[dict[str, Any]]:
        """Every ``kind`` version (component, model, artifact) of the project, newest first."""
        found: list[dict[str, Any]] = []
        while True:
            answer = self.transport.request(
                "GET", f"{self._project_path(project)}/versions/{_segment(kind)}",
                params={"offset": len(found), "limit": 1000}).json()
            found += answer.get("results", [])
            if not answer.get("next") or not answer.get("results"):
                return found

    def version(self, project: str, kind: str, name: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.transport.request(
            "GET", f"{self._project_path(project)}/versions/{_segment(kind)}/{_segment(name)}").json()
        return answer

    def delete_version(self, project: str, kind: str, name: str) -> None:
        self.transport.request(
            "DELETE", f"{self._project_path(project)}/versions/{_segment(kind)}/{_segment(name)}")

    def stage_version(self, project: str, kind: str, name: str, stage: str,
                      message: str | None = None) -> dict[str, Any]:
        answer: dict[str, Any] = self.transport.request(
            "POST", f"{self._project_path(project)}/versions/{_segment(kind)}/{_segment(name)}/stages",
            json_body={"stage": stage, "message": message}).json()
        return answer

    def log_lineage(self, project: str, uuid: str, entries: Sequence[Mapping[str, Any]]) -> None:
        """Record lineage rows (``name, kind, path, summary``), replacing rows of the same name."""
        self.transport.request("POST", f"{self._run_path(project, uuid)}/lineage/artifacts",
                               json_body={"artifacts": list(entries)}, idempotent=True)
