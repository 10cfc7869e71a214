"""A run as seen from inside: validates what is logged and hands it to a backend."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from polyaxon_core.tracking.backends import DatabaseBackend, MetricPoint

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


class TrackingRun:
    def __init__(self, run_uuid: str | None = None) -> None:
        uuid = run_uuid or os.environ.get("POLYAXON_RUN_UUID")
        if not uuid:
            raise TrackingError(
                "no run context: tracking.init() is meant to run inside `polyaxon run`; "
                "outside of it pass the uuid of an existing run: tracking.init(run_uuid=...)"
            )
        self.uuid = uuid
        self.backend = DatabaseBackend(uuid)
        artifacts = os.environ.get("POLYAXON_RUN_ARTIFACTS_PATH")
        self.artifacts_path = Path(artifacts) if artifacts else self.backend.artifacts_path()
        self.outputs_path = Path(os.environ.get("POLYAXON_RUN_OUTPUTS_PATH")
                                 or self.artifacts_path / "outputs")
        self._ended = False

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
        for name, value in metrics.items():
            number = _as_number(name, value)
            if number is not None:
                points.append(MetricPoint(name, number, None if step is None else int(step)))
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
        self._ended = True
