"""A run as seen from inside: validates what is logged and hands it to a backend."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from polyaxon_core.tracking.backends import DatabaseBackend, MetricPoint
from polyaxon_core.tracking.resources import (
    ResourceMonitor,
    interval_from_environment,
    nvidia_smi_reader,
    nvml_reader,
)

logger = logging.getLogger(__name__)


class TrackingError(Exception):
    """The SDK cannot do what was asked; the message says why and what to do."""


def _as_number(name: str, value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TrackingError(
            f"metric {name!r} must be a number, got {type(value).__name__} {value!r}"
        ) from None
    if not math.isfinite(number):
        logger.warning("metric %s=%s is not finite and was not logged", name, number)
        return None
    return number


def _jsonable(name: str, value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(name, item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _jsonable(name, item) for key, item in value.items()}
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TrackingError(f"{name!r}: {type(value).__name__} values cannot be stored as JSON")


class Backend(Protocol):
    """Where a run's data goes: the database directly, or a server's API."""

    def artifacts_path(self) -> Path: ...
    def log_metrics(self, points: Sequence[MetricPoint]) -> None: ...
    def merge_json(self, column: str, values: Mapping[str, Any]) -> None: ...
    def add_tags(self, tags: Sequence[str]) -> None: ...
    def put_artifact(self, source: Path, name: str, kind: str) -> None: ...
    def close(self) -> None: ...


def _backend(uuid: str, project: str | None, attempt: int | None) -> Backend:
    """The server's API when one is configured (POLYAXON_HOST, or the saved login), else
    the database."""
    from polyaxon_core.client.credentials import resolve
    from polyaxon_core.config import ConfigurationError

    try:
        credentials = resolve()
    except ConfigurationError as exc:
        raise TrackingError(str(exc)) from None
    if credentials is None:
        return DatabaseBackend(uuid, attempt)
    project = project or os.environ.get("POLYAXON_PROJECT")
    if not project:
        raise TrackingError(
            f"tracking through the server {credentials.host} needs the run's project: set "
            "POLYAXON_PROJECT or pass tracking.init(run_uuid=..., project=...)"
        )
    from polyaxon_core.tracking.remote import HttpBackend

    try:
        return HttpBackend(uuid, project, credentials.host, credentials.token,
                           owner=os.environ.get("POLYAXON_OWNER") or "default", attempt=attempt)
    except ConfigurationError as exc:
        raise TrackingError(str(exc)) from None


def _attempt() -> int | None:
    """The attempt of the run this process is (``POLYAXON_RUN_ATTEMPT``, set by the
    orchestrator); None outside a launched run: the run's current attempt."""
    text = os.environ.get("POLYAXON_RUN_ATTEMPT")
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise TrackingError(f"POLYAXON_RUN_ATTEMPT must be a whole number from 1, got {text!r}")
    return int(text)


class TrackingRun:
    """The run being tracked, on the transport :func:`_backend` picks."""

    def __init__(self, run_uuid: str | None = None, project: str | None = None, *,
                 track_resources: bool = True, resources_interval: float | None = None) -> None:
        uuid = run_uuid or os.environ.get("POLYAXON_RUN_UUID")
        if not uuid:
            raise TrackingError(
                "no run context: tracking.init() is meant to run inside `polyaxon run`; "
                "outside of it pass the uuid of an existing run: tracking.init(run_uuid=...)"
            )
        self.uuid = uuid
        self.backend = _backend(uuid, project, _attempt())
        artifacts = os.environ.get("POLYAXON_RUN_ARTIFACTS_PATH")
        self.artifacts_path = Path(artifacts) if artifacts else self.backend.artifacts_path()
        self.outputs_path = Path(os.environ.get("POLYAXON_RUN_OUTPUTS_PATH")
                                 or self.artifacts_path / "outputs")
        self._ended = False
        self.resources: ResourceMonitor | None = None
        if resources_interval is not None and not 0 < resources_interval < float("inf"):
            raise TrackingError(f"resources_interval must be a positive number of seconds, "
                                f"not {resources_interval!r}; turn sampling off with "
                                f"track_resources=False")
        interval = (resources_interval or interval_from_environment()) if track_resources else None
        if interval is not None:
            self.resources = ResourceMonitor(self.backend.log_metrics, interval,
                                             nvml_reader() or nvidia_smi_reader()).start()

    def _check_open(self) -> None:
        if self._ended:
            raise TrackingError("this run's tracking was ended; call tracking.init() again")

    def log_metrics(self, step: int | None = None, **metrics: Any) -> None:
        self._check_open()
        if not metrics:
            raise TrackingError("log_metrics() needs at least one name=value")
        if step is not None and (isinstance(step, bool) or int(step) != step):
            raise TrackingError(f"step must be a whole number, got {step!r}")
        points = []
        now = datetime.now(UTC)
        for name, value in metrics.items():
            number = _as_number(name, value)
            if number is not None:
                points.append(MetricPoint(name, number, None if step is None else int(step), now))
        if points:
            self.backend.log_metrics(points)

    def log_inputs(self, **inputs: Any) -> None:
        self._check_open()
        self.backend.merge_json("inputs", {k: _jsonable(k, v) for k, v in inputs.items()})

    def log_outputs(self, **outputs: Any) -> None:
        self._check_open()
        self.backend.merge_json("outputs", {k: _jsonable(k, v) for k, v in outputs.items()})

    def log_tags(self, *tags: str) -> None:
        self._check_open()
        bad = [tag for tag in tags if not isinstance(tag, str) or not tag.strip()]
        if bad:
            raise TrackingError(f"tags must be non-empty strings, got {bad!r}")
        self.backend.add_tags([tag.strip() for tag in tags])

    def log_artifact(self, path: str | Path, name: str | None = None, kind: str = "file") -> None:
        self._check_open()
        source = Path(path)
        if not source.is_file():
            raise TrackingError(f"{source}: no such file to log as an artifact")
        self.backend.put_artifact(source, name or source.name, kind)

    def end(self) -> None:
        """Stop tracking; with a server, wait until every buffered metric point was sent."""
        if not self._ended:
            self._ended = True
            if self.resources is not None:
                self.resources.stop()
            self.backend.close()
