"""The platform over the REST API of a polyaxon server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from polyaxon_core.client.api import ApiClient, LogChunk
from polyaxon_core.client.errors import ServerUnreachable
from polyaxon_core.client.platform import Platform, normalize_run_identifier, timeline_for_display
from polyaxon_core.errors import InvalidRequest

if TYPE_CHECKING:
    from pathlib import Path

    from polyaxon_core.spec import OperationSpec

_TIMESTAMPS = frozenset({"created_at", "updated_at", "started_at", "finished_at",
                         "last_transition_time", "last_update_time", "timestamp",
                         "expires_at", "last_used_at", "revoked_at"})
_PAGE = 500


def with_datetimes(value: Any) -> Any:
    """``value`` with the ISO timestamps of the API's JSON read as ``datetime``."""
    if isinstance(value, dict):
        return {key: (_parse_time(item) if key in _TIMESTAMPS else with_datetimes(item))
                for key, item in value.items()}
    if isinstance(value, list):
        return [with_datetimes(item) for item in value]
    return value


def _parse_time(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return value


class RemotePlatform(Platform):
    """Sends every action to the server; its orchestrator runs what is queued.

    Runs live inside projects in the API's paths, so run commands need a project
    (``-p``, ``POLYAXON_PROJECT`` or the folder's ``polyaxon init -p``).
    """

    def __init__(self, client: ApiClient, follow_retry_seconds: float = 60.0) -> None:
        self.client = client
        self.where = f"server {client.host}"
        self.follow_retry_seconds = follow_retry_seconds

    def keep_going(self) -> None:
        """Nothing to do: the server's orchestrator drives queued runs."""

    def _scope(self, project: str | None) -> str:
        if not project:
            raise InvalidRequest(
                f"no project given: on a server ({self.client.host}) runs are listed and found "
                "within a project; pass -p NAME, set POLYAXON_PROJECT, or run "
                "`polyaxon init -p NAME` in this folder"
            )
        return project

    def _get(self, identifier: str, project: str) -> dict[str, Any]:
        """The run ``identifier`` names: its uuid or a unique prefix, resolved by the server."""
        run: dict[str, Any] = with_datetimes(
            self.client.get_run(project, normalize_run_identifier(identifier)))
        return run

    # -------------------------------------------------------------------------- projects
    def create_project(self, name: str, description: str | None,
                       tags: Sequence[str]) -> dict[str, Any]:
        created = self.client.create_project(name, description, tags)
        return with_datetimes(created)  # type: ignore[no-any-return]

    def list_projects(self) -> list[dict[str, Any]]:
        projects: list[dict[str, Any]] = []
        while True:
            page = self.client.list_projects(offset=len(projects), limit=_PAGE)
            results = page.get("results") or []
            projects.extend(with_datetimes(results))
            if not results or not page.get("next"):
                return sorted(projects, key=lambda project: str(project.get("name")))

    def get_project(self, name: str) -> dict[str, Any]:
        return with_datetimes(self.client.get_project(name))  # type: ignore[no-any-return]

    def update_project(self, name: str, *, new_name: str | None, description: str | None,
                       tags: Sequence[str] | None, queue: str | None = None,
                       notifications: Sequence[Mapping[str, str]] | None = None) -> dict[str, Any]:
        return with_datetimes(self.client.update_project(  # type: ignore[no-any-return]
            name, new_name=new_name, description=description, tags=tags, queue=queue,
            notifications=notifications))

    def project_ci(self, name: str, *, enable: dict[str, str] | None = None,
                   disable: bool = False) -> dict[str, Any]:
        if enable is not None:
            return self.client.project_ci(name, "PUT", dict(enable))
        return self.client.project_ci(name, "DELETE" if disable else None)

    def delete_project(self, name: str) -> int | None:
        self.client.delete_project(name)
        return None

    # ------------------------------------------------------------------------------ runs
    def submit_run(self, project: str, spec: OperationSpec, *, raw_content: str,
                   context_path: str, name: str | None, description: str | None,
                   tags: Sequence[str], queue: str | None) -> dict[str, Any]:
        # The operation is sent compiled (params applied, file references inlined): the
        # server cannot read files next to the polyaxonfile, and any mistake in the file
        # was already reported here with its line.
        run = self.client.create_run(project, json.dumps(spec.to_dict()), name=name,
                                     description=description, tags=tags, queue=queue)
        return with_datetimes(run)  # type: ignore[no-any-return]

    def list_runs(self, project: str | None, *, query: str | None, sort: str | None,
                  offset: int, limit: int, archived: bool = False) -> tuple[int, list[dict[str, Any]]]:
        # the server answers at most _PAGE runs at once: a larger --limit takes several pages
        scope, count = self._scope(project), 0
        runs: list[dict[str, Any]] = []
        while True:
            page = self.client.list_runs(scope, query=query, sort=sort, offset=offset + len(runs),
                                         limit=min(_PAGE, limit - len(runs)), archived=archived)
            results, count = page.get("results") or [], int(page.get("count", 0))
            runs.extend(with_datetimes(results))
            if not results or len(runs) >= limit or offset + len(runs) >= count:
                return count, runs

    def _all_runs(self, project: str, query: str) -> list[dict[str, Any]]:
        runs: list[dict[str, Any]] = []
        while True:
            page = self.client.list_runs(project, query=query, offset=len(runs), limit=_PAGE)
            results = page.get("results") or []
            runs.extend(with_datetimes(results))
            if not results or len(runs) >= int(page.get("count", 0)):
                return runs

    def get_run(self, identifier: str, project: str | None) -> dict[str, Any]:
        scope = self._scope(project)
        data = self._get(identifier, scope)
        uuid = data["uuid"]
        conditions = self.statuses(uuid, scope)["status_conditions"]
        data["message"] = conditions[-1]["message"] if conditions else None
        data["trials"] = sorted(
            ({"index": (child.get("meta_info") or {}).get("matrix", {}).get("index"),
              "uuid": child["uuid"], "status": child["status"],
              "params": (child.get("meta_info") or {}).get("matrix", {}).get("params", {}),
              "metrics": dict(child.get("metrics") or {})}
             for child in self._all_runs(scope, f"pipeline:{uuid}")),
            key=lambda trial: (trial["index"] is None, trial["index"] or 0),
        ) if data.get("kind") == "matrix" else []
        if data.get("kind") == "dag":
            data["operations"] = self._operations(data, scope)
        data["notifications"] = self.client.get_notifications(scope, uuid)
        data["lineage"] = self.client.lineage(scope, uuid)
        return data

    def _operations(self, dag: dict[str, Any], scope: str) -> list[dict[str, Any]]:
        from collections import Counter

        from polyaxon_core.domain.listing import operations_tree

        def below(run: Mapping[str, Any]) -> dict[str, Any]:
            if run.get("kind") == "dag":
                return {"operations": self._operations(dict(run), scope)}
            if run.get("kind") == "matrix":
                trials = self._all_runs(scope, f"pipeline:{run['uuid']}")
                return {"trials": dict(Counter(str(trial["status"]) for trial in trials))}
            return {}

        reused = {name: self._get(uuid, scope)
                  for name, uuid in ((dag.get("meta_info") or {}).get("reused") or {}).items()}
        children = sorted(self._all_runs(scope, f"pipeline:{dag['uuid']}"),
                          key=lambda run: run.get("created_at") or 0)
        return operations_tree(dag, children, reused, below)

    def statuses(self, identifier: str, project: str | None) -> dict[str, Any]:
        scope = self._scope(project)
        uuid = normalize_run_identifier(identifier)
        answer = with_datetimes(self.client.get_statuses(scope, uuid))
        return timeline_for_display({"uuid": uuid, **answer})

    # ------------------------------------------------------------------------- artifacts
    def list_artifacts(self, uuid: str, project: str | None, path: str = "") -> list[dict[str, Any]]:
        return [{"path": entry.path, "size": entry.size, "is_dir": entry.is_dir}
                for entry in self.client.artifacts_tree(self._scope(project), uuid, path)]

    def download_artifact(self, uuid: str, project: str | None, path: str, destination: Path) -> None:
        self.client.download_artifact(self._scope(project), uuid, path, destination)

    def upload_artifact(self, uuid: str, project: str | None, source: Path, path: str) -> None:
        self.client.upload_artifact(self._scope(project), uuid, path, source)

    def read_logs(self, uuid: str, project: str | None, offset: int = 0) -> LogChunk:
        return self.client.read_logs(self._scope(project), uuid, offset)

    def follow_logs(self, uuid: str, project: str | None) -> Iterator[str]:
        """The server's follow stream until the run is final.

        The server ends each follow answer after a while (``POLYAXON_LOG_STREAM_SECONDS``)
        even if the run goes on: when an answer ends, the log read without ``follow``
        says whether it is done, and if not a new answer continues where the last
        stopped. A broken stream is opened again the same way, for up to
        ``follow_retry_seconds`` without progress.
        """
        scope = self._scope(project)
        offset = 0
        retry = self.client.transport.retry
        failures = 0
        last_progress = time.monotonic()
        while True:
            try:
                for text, received in self.client.follow_logs(scope, uuid, offset):
                    offset = received
                    failures = 0
                    last_progress = time.monotonic()
                    yield text
                rest = self.client.read_logs(scope, uuid, offset)
                if rest.data:
                    offset = rest.next_offset
                    yield rest.data
                if rest.done:
                    return
            except ServerUnreachable:
                if time.monotonic() - last_progress > self.follow_retry_seconds:
                    raise
                time.sleep(retry.backoff(failures))
                failures += 1

    def metrics(self, identifier: str, project: str | None, names: Sequence[str], *,
                attempt: int | str | None = None, limit: int | None = None,
                tail: int | None = None) -> dict[str, Any]:
        scope = self._scope(project)
        uuid = self._get(identifier, scope)["uuid"]
        answer = self.client.get_metrics(scope, uuid, names, attempt=attempt, limit=limit,
                                         tail=tail)
        return {"uuid": uuid, "attempt": answer.get("attempt"),
                "attempts": answer.get("attempts") or [],
                "metrics": with_datetimes(answer.get("metrics") or {})}

    def _after(self, answer: dict[str, Any] | None, project: str, uuid: str) -> dict[str, Any]:
        if answer and "uuid" in answer:
            return with_datetimes(answer)  # type: ignore[no-any-return]
        return with_datetimes(self.client.get_run(project, uuid))  # type: ignore[no-any-return]

    def update_run(self, uuid: str, project: str | None, *, name: str | None,
                   description: str | None, tags: Sequence[str] | None) -> dict[str, Any]:
        changes = {key: value for key, value in (("name", name), ("description", description),
                                                  ("tags", None if tags is None else list(tags)))
                   if value is not None}
        return with_datetimes(  # type: ignore[no-any-return]
            self.client.patch_run(self._scope(project), uuid, changes))

    def stop_run(self, uuid: str, project: str | None) -> dict[str, Any]:
        scope = self._scope(project)
        return self._after(self.client.stop_run(scope, uuid), scope, uuid)

    def restart_run(self, uuid: str, project: str | None, copy: bool,
                    from_failed: bool = False) -> dict[str, Any]:
        return with_datetimes(  # type: ignore[no-any-return]
            self.client.restart_run(self._scope(project), uuid, copy=copy, from_failed=from_failed))

    def resume_run(self, uuid: str, project: str | None) -> dict[str, Any]:
        scope = self._scope(project)
        return self._after(self.client.resume_run(scope, uuid), scope, uuid)

    def archive_run(self, uuid: str, project: str | None) -> dict[str, Any]:
        scope = self._scope(project)
        return self._after(self.client.archive_run(scope, uuid), scope, uuid)

    def restore_run(self, uuid: str, project: str | None) -> dict[str, Any]:
        scope = self._scope(project)
        return self._after(self.client.restore_run(scope, uuid), scope, uuid)

    def delete_run(self, uuid: str, project: str | None) -> list[str]:
        self.client.delete_run(self._scope(project), uuid)
        return [uuid]
