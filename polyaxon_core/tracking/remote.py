"""The SDK's transport to a server: everything a run logs goes through the REST API.

Metric points come in batches of up to 1,000 from the run's buffer
(:class:`~polyaxon_core.tracking.run.TrackingRun`), each with a ``batch_id``; a batch is
retried with exponential backoff for as long as the server is unreachable or answers
5xx, so a server restarted while a run logs loses nothing and, thanks to the batch id,
stores nothing twice. A batch the server refuses (4xx), or one that cannot be sent at
all (a value JSON cannot hold), is dropped and reported by the next SDK call.

Inputs, outputs, tags, lineage and artifacts are sent at once, each request retried the
same way for up to ``POLYAXON_RETRY_TIMEOUT`` seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from polyaxon_core.client.api import MAX_BATCH_POINTS, ApiClient
from polyaxon_core.client.errors import ApiError, ServerError, ServerUnreachable, StateConflict
from polyaxon_core.client.transport import NO_RETRY, RetryPolicy
from polyaxon_core.config import _float_setting, load_settings
from polyaxon_core.errors import PolyaxonError
from polyaxon_core.tracking.backends import PointRow, with_times
from polyaxon_core.tracking.buffer import PermanentSendError


class HttpBackend:
    """Writes to the API of the server at ``host`` for the run ``run_uuid`` of ``project``,
    authenticated with ``token``; TrackingError if that run cannot be read there. Metric
    points are sent as logged by ``attempt`` of the run (None: its current attempt)."""

    batch_size = MAX_BATCH_POINTS

    def __init__(self, run_uuid: str, project: str, host: str, token: str | None,
                 owner: str = "default", attempt: int | None = None) -> None:
        from polyaxon_core.tracking.run import TrackingError

        self.run_uuid = run_uuid
        self.project = project
        self.attempt = attempt
        self.retry_timeout = _float_setting("POLYAXON_RETRY_TIMEOUT", 300.0, minimum=1.0)
        self.client = ApiClient(host, token, owner=owner,
                                retry=RetryPolicy(attempts=None, deadline=self.retry_timeout))
        try:
            self.run = self.client.get_run(project, run_uuid)
        except PolyaxonError as exc:
            raise TrackingError(f"cannot track run {run_uuid} of project '{project}': {exc}") from None

    @staticmethod
    def create_run(project: str, host: str, token: str | None, owner: str, name: str | None,
                   description: str | None, tags: Sequence[str], uuid: str | None = None,
                   created_at: str | None = None) -> str:
        """Create a run tracked from this process on the server; its uuid. With ``uuid``
        (an offline run's), a run of the project tracked from outside that has it already
        is taken as it is."""
        from polyaxon_core.tracking.run import TrackingError

        retry_timeout = _float_setting("POLYAXON_RETRY_TIMEOUT", 300.0, minimum=1.0)
        client = ApiClient(host, token, owner=owner,
                           retry=RetryPolicy(attempts=None, deadline=retry_timeout))
        try:
            try:
                run = client.create_tracked_run(project, name=name, description=description,
                                                tags=tags, uuid=uuid, created_at=created_at)
            except StateConflict:
                if uuid is None:
                    raise
                run = client.get_run(project, uuid)  # NotFound: another project's run
                if run.get("managed_by") != "user":
                    raise TrackingError(f"run {uuid} of project '{project}' is run by the "
                                        "server; an offline run cannot be pushed into it") from None
        except PolyaxonError as exc:
            raise TrackingError(f"cannot create a run in project '{project}' on {host}: {exc}") from None
        return str(run["uuid"])

    @property
    def host(self) -> str:
        return self.client.host

    @property
    def where(self) -> str:
        return f"server {self.client.host}"

    def artifacts_path(self) -> Path:
        """A local folder for files the run writes; ``log_artifact`` uploads files."""
        return load_settings().runs_path / self.run_uuid / "artifacts"

    def retry_delay(self, attempt: int) -> float:
        return self.client.transport.retry.backoff(attempt)

    def send_metrics(self, batch_id: str, points: Sequence[PointRow]) -> None:
        body = [{"name": name, "value": value, "step": step,
                 "timestamp": logged_at.isoformat() if logged_at else None}
                for name, value, step, logged_at in with_times(points)]
        try:
            self.client.log_metrics(self.project, self.run_uuid, batch_id, body, retry=NO_RETRY,
                                    attempt=self.attempt)
        except (ServerError, ServerUnreachable):
            raise  # the server may come back: the buffer sends the batch again
        except ApiError as exc:
            raise PermanentSendError(str(exc)) from None
        except Exception as exc:  # sending it again would fail the same way
            raise PermanentSendError(f"{type(exc).__name__}: {exc}") from None

    def _request(self, what: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        from polyaxon_core.tracking.run import TrackingError

        try:
            return call(*args, **kwargs)
        except PolyaxonError as exc:
            raise TrackingError(f"could not {what}: {exc}") from None

    def merge_json(self, column: str, values: Mapping[str, Any]) -> None:
        self._request(f"record {column}", self.client.patch_run, self.project, self.run_uuid,
                      {column: dict(values)})

    def merge_meta(self, values: Mapping[str, Any]) -> None:
        self._request("record meta", self.client.patch_run, self.project, self.run_uuid,
                      {"meta": dict(values)})

    def update(self, values: Mapping[str, str | None]) -> None:
        self._request("update the run", self.client.patch_run, self.project, self.run_uuid,
                      dict(values))

    def add_tags(self, tags: Sequence[str]) -> None:
        self._request("record tags", self.client.patch_run, self.project, self.run_uuid,
                      {"tags": list(tags), "merge": True})

    def put_artifact(self, source: Path, path: str) -> int:
        """Upload the file as ``path`` of the run's artifacts (the lineage is recorded by
        :meth:`record_lineage`); its size."""
        self._request(f"upload {source}", self.client.upload_artifact, self.project,
                      self.run_uuid, path, source, record=False)
        return source.stat().st_size

    def promote(self, version: Mapping[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self._request(
            f"promote the run to {version['kind']} version {version['name']!r}",
            self.client.promote_run, self.project, self.run_uuid, version)
        return answer

    def record_lineage(self, entries: Sequence[Mapping[str, Any]]) -> None:
        self._request("record the lineage", self.client.log_lineage, self.project,
                      self.run_uuid, [dict(entry) for entry in entries])

    def report_status(self, status: str, reason: str, message: str | None,
                      at: str | None = None) -> None:
        self._request(f"report the run {status}", self.client.report_status, self.project,
                      self.run_uuid, status, reason, message, at)

    def close(self) -> None:
        """Nothing buffered here: the run's buffer was flushed before."""
