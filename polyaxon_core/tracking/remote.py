"""The SDK's transport to a server: everything a run logs goes through the REST API.

Metric points go through a :class:`~polyaxon_core.tracking.buffer.MetricsBuffer`:
``log_metrics`` returns as soon as the points are buffered, a background thread sends
them in batches of up to 1,000 with a ``batch_id`` each, and a batch is retried with
exponential backoff for as long as the server is unreachable or answers 5xx, so a
server restarted while a run logs loses nothing and, thanks to the batch id, stores
nothing twice. When ``POLYAXON_METRICS_BUFFER`` points wait, logging blocks until the
server takes some: it never drops points. A batch the server refuses (4xx), or one that
cannot be sent at all (a value JSON cannot hold), is dropped and reported by the next SDK
call. ``end()`` (and, failing that, interpreter exit) waits up
to ``POLYAXON_RETRY_TIMEOUT`` seconds for the buffer to drain.

Inputs, outputs, tags and artifacts are sent at once, each request retried the same way
for up to ``POLYAXON_RETRY_TIMEOUT`` seconds.
"""

from __future__ import annotations

import atexit
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from polyaxon_core.client.api import MAX_BATCH_POINTS, ApiClient
from polyaxon_core.client.errors import ApiError, ServerError, ServerUnreachable
from polyaxon_core.client.transport import NO_RETRY, RetryPolicy
from polyaxon_core.config import _float_setting, _int_setting, load_settings
from polyaxon_core.errors import PolyaxonError
from polyaxon_core.tracking.backends import MetricPoint
from polyaxon_core.tracking.buffer import MetricsBuffer, MetricsNotStored, PermanentSendError

logger = logging.getLogger(__name__)


class HttpBackend:
    """Writes to the API of the server at ``host`` for the run ``run_uuid`` of ``project``,
    authenticated with ``token``; TrackingError if that run cannot be read there. Metric
    points are sent as logged by ``attempt`` of the run (None: its current attempt)."""

    def __init__(self, run_uuid: str, project: str, host: str, token: str | None,
                 owner: str = "default", attempt: int | None = None) -> None:
        from polyaxon_core.tracking.run import TrackingError

        self.run_uuid = run_uuid
        self.project = project
        self.attempt = attempt
        self.retry_timeout = _float_setting("POLYAXON_RETRY_TIMEOUT", 300.0, minimum=1.0)
        capacity = _int_setting("POLYAXON_METRICS_BUFFER", 10_000, minimum=MAX_BATCH_POINTS)
        interval = _float_setting("POLYAXON_METRICS_INTERVAL", 1.0, minimum=0.01)
        self.client = ApiClient(host, token, owner=owner,
                                retry=RetryPolicy(attempts=None, deadline=self.retry_timeout))
        try:
            self.client.get_run(project, run_uuid)
        except PolyaxonError as exc:
            raise TrackingError(f"cannot track run {run_uuid} of project '{project}': {exc}") from None
        retry = self.client.transport.retry
        self.buffer: MetricsBuffer[MetricPoint] = MetricsBuffer(
            self._send, capacity=capacity, batch_size=MAX_BATCH_POINTS, interval=interval,
            retry_delay=lambda attempt: retry.backoff(attempt),
        )
        atexit.register(self._flush_at_exit)

    @property
    def host(self) -> str:
        return self.client.host

    def artifacts_path(self) -> Path:
        """A local folder for files the run writes; ``log_artifact`` uploads files."""
        return load_settings().runs_path / self.run_uuid / "artifacts"

    def _send(self, batch_id: str, points: list[MetricPoint]) -> None:
        body = [
            {"name": p.name, "value": p.value, "step": p.step,
             "timestamp": p.timestamp.isoformat() if p.timestamp else None}
            for p in points
        ]
        try:
            self.client.log_metrics(self.project, self.run_uuid, batch_id, body, retry=NO_RETRY,
                                    attempt=self.attempt)
        except (ServerError, ServerUnreachable):
            raise  # the server may come back: the buffer sends the batch again
        except ApiError as exc:
            raise PermanentSendError(str(exc)) from None
        except Exception as exc:  # sending it again would fail the same way
            raise PermanentSendError(f"{type(exc).__name__}: {exc}") from None

    def log_metrics(self, points: Sequence[MetricPoint]) -> None:
        """Buffer the points (blocking while the buffer is full); see the module docstring."""
        try:
            self.buffer.put(points)
        except MetricsNotStored as exc:
            from polyaxon_core.tracking.run import TrackingError

            raise TrackingError(f"{exc} (server {self.host})") from None

    def _request(self, what: str, call: Any, *args: Any) -> Any:
        from polyaxon_core.tracking.run import TrackingError

        try:
            return call(*args)
        except PolyaxonError as exc:
            raise TrackingError(f"could not {what}: {exc}") from None

    def merge_json(self, column: str, values: Mapping[str, Any]) -> None:
        self._request(f"record {column}", self.client.patch_run, self.project, self.run_uuid,
                      {column: dict(values)})

    def add_tags(self, tags: Sequence[str]) -> None:
        run = self._request("read the run's tags", self.client.get_run, self.project, self.run_uuid)
        merged = list(dict.fromkeys([*(run.get("tags") or []), *tags]))
        self._request("record tags", self.client.patch_run, self.project, self.run_uuid,
                      {"tags": merged})

    def put_artifact(self, source: Path, name: str, kind: str) -> None:
        """Upload the file as ``name``; the server records the artifact (``kind`` is kept by
        the database transport only, the upload endpoint takes none)."""
        self._request(f"upload {source}", self.client.upload_artifact, self.project,
                      self.run_uuid, name, source)

    def close(self) -> None:
        """Send every buffered point; raise TrackingError if that is not done within
        ``POLYAXON_RETRY_TIMEOUT`` seconds or a batch was refused."""
        from polyaxon_core.tracking.run import TrackingError

        atexit.unregister(self._flush_at_exit)
        try:
            sent = self.buffer.close(self.retry_timeout)
        except MetricsNotStored as exc:
            raise TrackingError(f"{exc} (server {self.host})") from None
        if not sent:
            raise TrackingError(
                f"{self.buffer.pending} metric point(s) could not be sent to {self.host} within "
                f"{self.retry_timeout:g} s (POLYAXON_RETRY_TIMEOUT); they are lost"
            )

    def _flush_at_exit(self) -> None:
        try:
            sent = self.buffer.close(self.retry_timeout)
        except MetricsNotStored as exc:
            logger.error("%s (server %s)", exc, self.host)
            return
        if not sent:
            logger.error("%d metric point(s) of run %s could not be sent to %s before exit",
                         self.buffer.pending, self.run_uuid, self.host)
