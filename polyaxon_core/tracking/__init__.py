"""The SDK used inside a run.

::

    from polyaxon_core import tracking

    tracking.init()                              # the run context comes from POLYAXON_* variables
    tracking.log_metrics(step=epoch, loss=0.3, val_accuracy=0.91)
    tracking.log_outputs(val_accuracy=0.93)
    tracking.log_artifact("confusion.json")
    tracking.end()

Without a server the SDK writes straight to the database and the artifact store. With
one (``POLYAXON_HOST`` and ``POLYAXON_AUTH_TOKEN`` in the run's environment, or the saved
``polyaxon login``) it talks to the server's API, and metrics are buffered and sent in
batches by a background thread (see :mod:`polyaxon_core.tracking.remote`). Either way
metrics are visible to ``polyaxon ops get`` / ``ops metrics`` while the run goes on, and
the run's CPU, memory and GPU use is sampled into ``system/...`` metrics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from polyaxon_core.tracking.run import TrackingError, TrackingRun

__all__ = [
    "TrackingError",
    "TrackingRun",
    "end",
    "get_artifacts_path",
    "get_outputs_path",
    "init",
    "log_artifact",
    "log_inputs",
    "log_metric",
    "log_metrics",
    "log_outputs",
    "log_tags",
]

_current: TrackingRun | None = None


def init(run_uuid: str | None = None, project: str | None = None, *,
         track_resources: bool = True, resources_interval: float | None = None) -> TrackingRun:
    """Attach to the current run (or to ``run_uuid``, of ``project`` when a server is
    used and POLYAXON_PROJECT is not set) and return it.

    Unless ``track_resources`` is False (or POLYAXON_RESOURCES_INTERVAL is 0), the CPU,
    memory and GPU use of this process and its children are sampled in the background
    every ``resources_interval`` seconds (default: POLYAXON_RESOURCES_INTERVAL, else 10)
    and stored as the run's ``system/...`` metrics
    (:mod:`polyaxon_core.tracking.resources`)."""
    global _current
    _current = TrackingRun(run_uuid, project, track_resources=track_resources,
                           resources_interval=resources_interval)
    return _current


def _run() -> TrackingRun:
    if _current is None:
        raise TrackingError("call tracking.init() before logging")
    return _current


def log_metrics(step: int | None = None, **metrics: float) -> None:
    """Log several metrics at one step, e.g. ``log_metrics(step=3, loss=0.2, acc=0.9)``."""
    _run().log_metrics(step=step, **metrics)


def log_metric(name: str, value: float, step: int | None = None) -> None:
    _run().log_metrics(step=step, **{name: value})


def log_inputs(**inputs: Any) -> None:
    """Record inputs (hyperparameters) on the run, merged with the ones it was started with."""
    _run().log_inputs(**inputs)


def log_outputs(**outputs: Any) -> None:
    """Record outputs (final results) on the run; later values of a name replace earlier ones."""
    _run().log_outputs(**outputs)


def log_tags(*tags: str) -> None:
    _run().log_tags(*tags)


def log_artifact(path: str | Path, name: str | None = None, kind: str = "file") -> None:
    """Copy a file into the run's artifacts (as ``name``, default its file name)."""
    _run().log_artifact(path, name=name, kind=kind)


def get_outputs_path() -> Path:
    """A folder for files the run produces (inside its artifacts)."""
    return _run().outputs_path


def get_artifacts_path() -> Path:
    return _run().artifacts_path


def end() -> None:
    """Finish logging, sending whatever is still buffered; the run's status is decided by
    its exit code. Raises TrackingError if buffered metrics could not be stored."""
    global _current
    if _current is not None:
        current, _current = _current, None
        current.end()
