"""A run as seen from inside: validates what is logged and hands it to a backend."""

from __future__ import annotations

import atexit
import json
import logging
import math
import os
import platform
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from polyaxon_core.tracking import media

if TYPE_CHECKING:
    from polyaxon_core.tracking.tensorboard import EventFile
from polyaxon_core.tracking.backends import SOCKET_VARIABLE, PointRow, write_atomically
from polyaxon_core.tracking.buffer import MetricsBuffer, MetricsNotStored
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

    #: how many metric points :meth:`send_metrics` takes at once
    batch_size: int
    run_uuid: str

    @property
    def where(self) -> str: ...
    def artifacts_path(self) -> Path: ...
    def retry_delay(self, attempt: int) -> float: ...
    def send_metrics(self, batch_id: str, points: Sequence[PointRow]) -> None: ...
    def merge_json(self, column: str, values: Mapping[str, Any]) -> None: ...
    def merge_meta(self, values: Mapping[str, Any]) -> None: ...
    def update(self, values: Mapping[str, str | None]) -> None: ...
    def add_tags(self, tags: Sequence[str]) -> None: ...
    def put_artifact(self, source: Path, path: str) -> int: ...
    def record_lineage(self, entries: Sequence[Mapping[str, Any]]) -> None: ...
    def promote(self, version: Mapping[str, Any]) -> dict[str, Any]: ...
    def report_status(self, status: str, reason: str, message: str | None, at: str | None = None) -> None: ...
    def close(self) -> None: ...


def _backend(uuid: str | None, project: str | None, attempt: int | None,
             new_run: Mapping[str, Any] | None = None) -> Backend:
    """The run's runner for the run it started (POLYAXON_TRACKING_SOCKET, see
    :mod:`polyaxon_core.tracking.relay`); else the server's API when one is configured
    (POLYAXON_HOST, or the saved login), else the database; with ``new_run`` (``name,
    description, tags``) a run tracked from this process is created there first."""
    relay = os.environ.get(SOCKET_VARIABLE)
    if relay and new_run is None and uuid and uuid == os.environ.get("POLYAXON_RUN_UUID"):
        from polyaxon_core.tracking.relay import RelayBackend, RelayLost

        try:
            return RelayBackend(relay, uuid)
        except RelayLost:
            pass  # not started by its runner: the database directly, below
    from polyaxon_core.client.credentials import resolve
    from polyaxon_core.config import ConfigurationError

    try:
        credentials = resolve()
    except ConfigurationError as exc:
        raise TrackingError(str(exc)) from None
    if credentials is None:
        from polyaxon_core.tracking.database import DatabaseBackend

        if new_run is not None:
            if not project:
                raise TrackingError("a new run needs its project: tracking.init(project=..., "
                                    "is_new=True)")
            uuid = DatabaseBackend.create_run(project, **new_run)
        assert uuid is not None
        return DatabaseBackend(uuid, attempt)
    project = project or os.environ.get("POLYAXON_PROJECT")
    if not project:
        raise TrackingError(
            f"tracking through the server {credentials.host} needs the run's project: set "
            "POLYAXON_PROJECT or pass tracking.init(run_uuid=..., project=...)"
        )
    from polyaxon_core.tracking.remote import HttpBackend

    owner = os.environ.get("POLYAXON_OWNER") or "default"
    try:
        if new_run is not None:
            uuid = HttpBackend.create_run(project, credentials.host, credentials.token, owner,
                                          **new_run)
        assert uuid is not None
        return HttpBackend(uuid, project, credentials.host, credentials.token, owner=owner,
                           attempt=attempt)
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


_now = time.time
#: names of what is logged (series, models, data references): a path of plain names
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*(/[A-Za-z0-9_][A-Za-z0-9_.\-]*)*$")
#: where each kind of series is kept in the run's artifacts
_SERIES_FOLDERS = {
    "image": "images", "histogram": "histograms", "text": "texts", "html": "html",
    "curve": "curves", "confusion": "confusion", "chart": "charts",
}


def _check_name(what: str, name: Any) -> str:
    if not isinstance(name, str) or len(name) > 200 or not _NAME.match(name):
        raise TrackingError(f"{what} {name!r} is not a usable name: use letters, digits, "
                            "'_', '-' and '.', parts separated by '/'")
    return name


def _check_step(step: Any) -> int | None:
    if step is None or step.__class__ is int:
        return step  # type: ignore[no-any-return]
    try:
        whole = int(step)
    except (TypeError, ValueError):
        whole = None
    if isinstance(step, bool) or whole is None or whole != step:
        raise TrackingError(f"step must be a whole number, got {step!r}")
    return whole


class TrackingRun:
    """The run being tracked, on the transport :func:`_backend` picks.

    Metric points go into a bounded buffer that one background thread writes in batches
    (:mod:`polyaxon_core.tracking.buffer`), on either transport: logging a metric costs
    the training loop a few microseconds, and ``flush()``/``end()`` wait until what was
    logged is stored. ``end()`` also runs at interpreter exit, and an uncaught exception
    is recorded on the run (``meta_info.meta.error``) before the process ends."""

    def __init__(self, run_uuid: str | None = None, project: str | None = None, *,
                 is_new: bool = False, is_offline: bool = False, name: str | None = None,
                 description: str | None = None, tags: Sequence[str] = (),
                 track_resources: bool = True,
                 resources_interval: float | None = None, track_code: bool = True,
                 track_env: bool = False, capture_exceptions: bool = True,
                 tensorboard: bool | None = None) -> None:
        from polyaxon_core.config import ConfigurationError, _float_setting, _int_setting

        is_new = is_new or is_offline
        uuid = None if is_new else run_uuid or os.environ.get("POLYAXON_RUN_UUID")
        if not uuid and not is_new:
            raise TrackingError(
                "no run context: tracking.init() is meant to run inside `polyaxon run`; "
                "outside of it start a new run, tracking.init(project=..., is_new=True), or "
                "pass the uuid of an existing one: tracking.init(run_uuid=...)"
            )
        if is_new and run_uuid:
            raise TrackingError("is_new=True starts a new run: pass no run_uuid with it")
        if resources_interval is not None and not 0 < resources_interval < float("inf"):
            raise TrackingError(f"resources_interval must be a positive number of seconds, "
                                f"not {resources_interval!r}; turn sampling off with "
                                f"track_resources=False")
        bad_tags = [tag for tag in tags if not isinstance(tag, str) or not tag.strip()]
        if bad_tags or isinstance(tags, str):
            raise TrackingError(f"tags are a list of non-empty strings, got {tags!r}")
        #: whether this process reports the run's status (it created it: managed by the user)
        self.is_managed_here = is_new
        self.attempt = None if is_new else _attempt()
        if is_offline:
            from polyaxon_core.tracking.offline import OfflineBackend

            self.backend: Backend = OfflineBackend.create_run(project, name, description, tags)
        else:
            self.backend = _backend(uuid, project, self.attempt,
                                    {"name": name, "description": description, "tags": list(tags)}
                                    if is_new else None)
        self.uuid = self.backend.run_uuid
        self._error: str | None = None
        try:
            capacity = _int_setting("POLYAXON_METRICS_BUFFER", 100_000,
                                    minimum=self.backend.batch_size)
            interval = _float_setting("POLYAXON_METRICS_INTERVAL", 1.0, minimum=0.01)
            self.retry_timeout = _float_setting("POLYAXON_RETRY_TIMEOUT", 300.0, minimum=1.0)
        except ConfigurationError as exc:
            raise TrackingError(str(exc)) from None
        artifacts = os.environ.get("POLYAXON_RUN_ARTIFACTS_PATH")
        self.artifacts_path = Path(artifacts) if artifacts else self.backend.artifacts_path()
        self.outputs_path = Path(os.environ.get("POLYAXON_RUN_OUTPUTS_PATH")
                                 or self.artifacts_path / "outputs")
        self._ended = False
        if tensorboard is None:
            tensorboard = os.environ.get("POLYAXON_TRACKING_TENSORBOARD", "").lower() in {"1", "true", "yes"}
        self._events: EventFile | None = None
        if tensorboard:
            from polyaxon_core.tracking.tensorboard import EventFile

            self._events = EventFile(self.artifacts_path / "tensorboard")
        self._series: dict[str, dict[str, Any]] = {}
        self._series_lock = threading.Lock()
        self._buffer: MetricsBuffer[PointRow] = MetricsBuffer(
            self.backend.send_metrics, capacity=capacity, batch_size=self.backend.batch_size,
            interval=interval, retry_delay=self.backend.retry_delay)
        atexit.register(self._end_at_exit)
        self._previous_hook: Callable[..., Any] | None = None
        if capture_exceptions:
            self._previous_hook = sys.excepthook
            sys.excepthook = self._excepthook
        self.resources: ResourceMonitor | None = None
        sampling = (resources_interval or interval_from_environment()) if track_resources else None
        if sampling is not None:
            self.resources = ResourceMonitor(self._put, sampling,
                                             nvml_reader() or nvidia_smi_reader()).start()
        if track_code:
            self.log_code_ref()
        if track_env:
            self.log_env()

    def _check_open(self) -> None:
        if self._ended:
            raise TrackingError("this run's tracking was ended; call tracking.init() again")

    # ------------------------------------------------------------------------ metrics
    def _put(self, points: Sequence[PointRow]) -> None:
        try:
            self._buffer.put(points)
        except MetricsNotStored as exc:
            raise TrackingError(f"{exc} ({self.backend.where})") from None

    def log_metrics(self, step: int | None = None, **metrics: Any) -> None:
        """Buffer the points (see the class docstring); values that are not finite are
        left out with a warning."""
        if self._ended:
            self._check_open()
        if not metrics:
            raise TrackingError("log_metrics() needs at least one name=value")
        if step is not None and step.__class__ is not int:
            step = _check_step(step)
        now = _now()
        points = []
        for name, value in metrics.items():
            if value.__class__ is not float or value - value != 0.0:  # not a finite float
                value = _as_number(name, value)
                if value is None:
                    continue
            points.append((name, value, step, now))  # a MetricPoint, made as a plain tuple
        if points:
            self._put(points)
            if self._events is not None:
                self._events.add(points)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every metric point logged so far is stored (at most ``timeout``
        seconds, default POLYAXON_RETRY_TIMEOUT); TrackingError if some could not be."""
        try:
            sent = self._buffer.flush(self.retry_timeout if timeout is None else timeout)
        except MetricsNotStored as exc:
            raise TrackingError(f"{exc} ({self.backend.where})") from None
        if not sent:
            raise TrackingError(f"{self._buffer.pending} metric point(s) are not stored yet "
                                f"({self.backend.where} is not taking them)")

    # ------------------------------------------------------------- what describes the run
    def promote_to_model_version(self, version: str, description: str | None = None,
                                 tags: Sequence[str] = (), artifacts: Sequence[str] | None = None,
                                 force: bool = False) -> dict[str, Any]:
        """Make this run the model version ``version`` of its project (see
        :func:`polyaxon_core.tracking.promote_to_model_version`); the version."""
        return self._promote("model", version, description, tags, artifacts, force)

    def promote_to_artifact_version(self, version: str, description: str | None = None,
                                    tags: Sequence[str] = (), artifacts: Sequence[str] | None = None,
                                    force: bool = False) -> dict[str, Any]:
        return self._promote("artifact", version, description, tags, artifacts, force)

    def _promote(self, kind: str, version: str, description: str | None, tags: Sequence[str],
                 artifacts: Sequence[str] | None, force: bool) -> dict[str, Any]:
        self._check_open()
        if isinstance(tags, str) or isinstance(artifacts, str):
            raise TrackingError("tags and artifacts are lists of names, e.g. artifacts=['models/model']")
        return self.backend.promote({"kind": kind, "name": version, "description": description,
                                     "tags": list(tags),
                                     "artifacts": list(artifacts) if artifacts is not None else None,
                                     "force": force})

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

    def set_name(self, name: str) -> None:
        self._check_open()
        if not isinstance(name, str) or not name.strip() or len(name) > 256:
            raise TrackingError(f"a run's name is a non-empty string of at most 256 "
                                f"characters, got {name!r}")
        self.backend.update({"name": name.strip()})

    def set_description(self, description: str) -> None:
        self._check_open()
        if not isinstance(description, str):
            raise TrackingError(f"a description is a string, got {type(description).__name__}")
        self.backend.update({"description": description})

    def log_meta(self, **values: Any) -> None:
        """Record what the code knows about itself (``meta_info.meta`` of the run)."""
        self._check_open()
        if not values:
            raise TrackingError("log_meta() needs at least one name=value")
        self.backend.merge_meta({k: _jsonable(k, v) for k, v in values.items()})

    def log_progress(self, value: float) -> None:
        """How far the run is, from 0 to 1 (``meta_info.meta.progress``)."""
        number = _as_number("progress", value)
        if number is None or not 0.0 <= number <= 1.0:
            raise TrackingError(f"progress is a number from 0 to 1, got {value!r}")
        self.log_meta(progress=number)

    # --------------------------------------------------------------------- artifacts
    def _store(self, source: Path, path: str) -> int:
        """Put a file at ``path`` of the run's artifacts; its size."""
        from polyaxon_core.interfaces.store import UnsafePathError

        try:
            return self.backend.put_artifact(source, path)
        except UnsafePathError as exc:
            raise TrackingError(str(exc)) from None

    def _write(self, path: str, data: bytes) -> tuple[Path, int]:
        """Write ``data`` at ``path`` of the run's local artifacts folder (whole, see
        :func:`~polyaxon_core.tracking.backends.write_atomically`) and store it."""
        target = self.artifacts_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, data)
        return target, self._store(target, path)

    def _lineage(self, name: str, kind: str, path: str, summary: Mapping[str, Any]) -> None:
        self.backend.record_lineage([{"name": name, "kind": kind, "path": path,
                                      "summary": dict(summary)}])

    def log_artifact(self, path: str | Path, name: str | None = None, kind: str = "file") -> None:
        """Copy a file into the run's artifacts (as ``name``, default its file name) and
        record it in the run's lineage as ``kind``."""
        self._check_open()
        source = Path(path)
        if not source.is_file():
            raise TrackingError(f"{source}: no such file to log as an artifact")
        target = name or source.name
        size = self._store(source, target)
        self._lineage(target, kind, target, {"size": size})

    def log_model(self, path: str | Path, name: str = "model", framework: str | None = None,
                  **summary: Any) -> None:
        """Store a model (a file, or a folder of files) as ``models/<name>`` and record it
        with its framework and whatever else ``summary`` says of it."""
        self._check_open()
        _check_name("a model's name", name)
        source = Path(path)
        if source.is_file():
            files = [(source, f"models/{name}/{source.name}")]
        elif source.is_dir():
            files = [(file, f"models/{name}/{file.relative_to(source).as_posix()}")
                     for file in sorted(source.rglob("*")) if file.is_file()]
        else:
            raise TrackingError(f"{source}: no such file or folder to log as a model")
        size = sum(self._store(file, target) for file, target in files)
        self._lineage(f"models/{name}", "model", f"models/{name}",
                      {"size": size, "files": len(files), "framework": framework,
                       **{k: _jsonable(k, v) for k, v in summary.items()}})

    def log_dataframe(self, frame: Any, name: str, content_type: str = "csv") -> None:
        """Store a pandas DataFrame as ``dataframes/<name>.<csv|json>``."""
        self._check_open()
        _check_name("a dataframe's name", name)
        if content_type not in ("csv", "json"):
            raise TrackingError(f"content_type is csv or json, not {content_type!r}")
        try:
            data, shape = media.dataframe_bytes(frame, content_type)
        except media.MediaError as exc:
            raise TrackingError(str(exc)) from None
        path = f"dataframes/{name}.{content_type}"
        _, size = self._write(path, data)
        self._lineage(path, "dataframe", path, {"size": size, "content_type": content_type, **shape})

    def log_env(self) -> None:
        """Store where the code runs (``env.json``: Python, platform, host, installed
        packages) and record it."""
        self._check_open()
        from importlib import metadata

        packages = sorted({(dist.metadata["Name"] or "", dist.version)
                           for dist in metadata.distributions() if dist.metadata["Name"]})
        env = {"python": sys.version.split()[0], "executable": sys.executable,
               "platform": platform.platform(), "hostname": socket.gethostname(),
               "pid": os.getpid(), "cwd": os.getcwd(),
               "packages": {name: version for name, version in packages}}
        _, size = self._write("env.json", json.dumps(env, indent=1).encode())
        self._lineage("env", "env", "env.json", {"size": size, "python": env["python"],
                                                 "platform": env["platform"]})

    def _log_step(self, kind: str, name: str, step: int | None, data: bytes, extension: str,
                  **summary: Any) -> None:
        """Store one step of the series ``name`` of ``kind`` and update its lineage row."""
        self._check_open()
        _check_name(f"a {kind}'s name", name)
        step = _check_step(step)
        folder = f"{_SERIES_FOLDERS[kind]}/{name}"
        with self._series_lock:
            series = self._series.setdefault(folder, {"steps": 0, "size": 0})
            if step is None:
                step = series["steps"]
            last_file = f"{folder}/{step}.{extension}"
            _, size = self._write(last_file, data)
            series.update(steps=series["steps"] + 1, size=series["size"] + size, last_step=step,
                          last_file=last_file, **summary)
            self._lineage(folder, kind, folder, series)

    def log_image(self, data: Any, name: str = "image", step: int | None = None) -> None:
        """One image of the series ``name``: a file path, a PIL image, or pixels (a numpy
        array or nested lists, height x width [x 1, 3 or 4 channels])."""
        try:
            content, extension = media.image_bytes(data)
        except media.MediaError as exc:
            raise TrackingError(str(exc)) from None
        self._log_step("image", name, step, content, extension)

    def log_images(self, images: Sequence[Any], name: str = "image",
                   step: int | None = None) -> None:
        """Several images of one step, as ``<name>/<index>`` series."""
        for index, image in enumerate(images):
            self.log_image(image, f"{name}/{index}", step)

    def _log_json(self, kind: str, name: str, step: int | None, payload: Mapping[str, Any],
                  **summary: Any) -> None:
        self._log_step(kind, name, step, json.dumps(payload).encode(), "json", **summary)

    def log_histogram(self, values: Any, name: str, bins: int | Sequence[float] = 10,
                      step: int | None = None) -> None:
        try:
            payload = media.histogram(values, bins)
        except media.MediaError as exc:
            raise TrackingError(str(exc)) from None
        self._log_json("histogram", name, step, payload)

    def log_text(self, text: str, name: str = "text", step: int | None = None) -> None:
        if not isinstance(text, str):
            raise TrackingError(f"log_text() takes a string, got {type(text).__name__}")
        self._log_step("text", name, step, text.encode(), "txt")

    def log_html(self, html: str, name: str = "html", step: int | None = None) -> None:
        if not isinstance(html, str):
            raise TrackingError(f"log_html() takes a string, got {type(html).__name__}")
        self._log_step("html", name, step, html.encode(), "html")

    def log_curve(self, x: Any, y: Any, name: str, annotation: str | None = None,
                  step: int | None = None) -> None:
        try:
            payload = media.curve(x, y, annotation)
        except media.MediaError as exc:
            raise TrackingError(str(exc)) from None
        self._log_json("curve", name, step, payload)

    def log_roc_auc_curve(self, y_true: Any, y_score: Any, name: str = "roc",
                          step: int | None = None) -> float:
        """The ROC curve of a binary classifier's scores; returns its area."""
        try:
            payload = media.roc_curve(y_true, y_score)
        except media.MediaError as exc:
            raise TrackingError(str(exc)) from None
        self._log_json("curve", name, step, payload, auc=payload["auc"])
        return float(payload["auc"])

    def log_pr_curve(self, y_true: Any, y_score: Any, name: str = "pr",
                     step: int | None = None) -> float:
        """The precision-recall curve of a binary classifier's scores; returns its
        average precision."""
        try:
            payload = media.pr_curve(y_true, y_score)
        except media.MediaError as exc:
            raise TrackingError(str(exc)) from None
        self._log_json("curve", name, step, payload,
                       average_precision=payload["average_precision"])
        return float(payload["average_precision"])

    def log_confusion_matrix(self, x: Sequence[Any], y: Sequence[Any], z: Any,
                             name: str = "confusion", step: int | None = None) -> None:
        """``z[i][j]``: how many of true class ``y[i]`` were predicted ``x[j]``."""
        try:
            payload = media.confusion_matrix(x, y, z)
        except media.MediaError as exc:
            raise TrackingError(str(exc)) from None
        self._log_json("confusion", name, step, payload)

    def log_plotly_chart(self, figure: Any, name: str, step: int | None = None) -> None:
        try:
            payload = media.plotly_figure(figure)
        except media.MediaError as exc:
            raise TrackingError(str(exc)) from None
        self._log_json("chart", name, step, payload)

    # ----------------------------------------------------------------- code and data
    def log_code_ref(self, folder: str | Path | None = None) -> dict[str, Any] | None:
        """Record the git commit, branch and state of the repository holding ``folder``
        (default: the working directory); a dirty tree's diff is stored as
        ``code/diff.patch``. None (and nothing recorded) outside a git repository."""
        self._check_open()
        from polyaxon_core.tracking.code import code_version

        found = code_version(Path(folder) if folder else None)
        if found is None:
            return None
        version, diff = found
        if diff:
            _, size = self._write("code/diff.patch", diff.encode())
            version = {**version, "diff": "code/diff.patch", "diff_size": size}
        self._lineage("code", "code", "code/diff.patch" if diff else "code", version)
        return version

    def log_data_ref(self, name: str, path: str | Path | None = None, *,
                     content_hash: str | None = None, **summary: Any) -> str:
        """Record that the run reads the data ``name``: at ``path`` (a file or folder,
        hashed here) or elsewhere with the ``content_hash`` given; returns the hash, so
        runs can be compared by the version of their data."""
        self._check_open()
        _check_name("a data reference's name", name)
        from polyaxon_core.tracking.code import content_hash as hash_of

        size = None
        if path is not None and content_hash is None:
            try:
                content_hash, size = hash_of(Path(path))
            except OSError as exc:
                raise TrackingError(f"cannot hash the data {name!r}: {exc}") from None
        if not content_hash:
            raise TrackingError("log_data_ref() needs the data's path, or its content_hash")
        self._lineage(f"data/{name}", "data", str(path) if path is not None else name,
                      {"hash": content_hash, "size": size,
                       **{k: _jsonable(k, v) for k, v in summary.items()}})
        return content_hash

    # ------------------------------------------------------------------------- ending
    def _excepthook(self, kind: type[BaseException], error: BaseException,
                    trace: TracebackType | None) -> None:
        """Record an uncaught exception on the run before Python prints it and exits."""
        if not self._ended and not issubclass(kind, KeyboardInterrupt):
            message = self._error = f"{kind.__name__}: {error}"[:2000]
            try:
                self.backend.merge_meta({"error": {"message": message, "attempt": self.attempt}})
            except Exception as exc:  # noqa: BLE001 - the exception itself is what matters
                logger.warning("the exception could not be recorded on the run: %s", exc)
        (self._previous_hook or sys.__excepthook__)(kind, error, trace)

    def _end_at_exit(self) -> None:
        try:
            self.end()
        except TrackingError as exc:
            logger.error("%s", exc)

    def end(self) -> None:
        """Stop tracking: wait until every buffered metric point is stored (at most
        POLYAXON_RETRY_TIMEOUT seconds); TrackingError if some could not be."""
        if self._ended:
            return
        self._ended = True
        atexit.unregister(self._end_at_exit)
        if self._events is not None:
            self._events.close()
        if sys.excepthook == self._excepthook:
            sys.excepthook = self._previous_hook or sys.__excepthook__
        if self.resources is not None:
            self.resources.stop()
        try:
            sent = self._buffer.close(self.retry_timeout)
        except MetricsNotStored as exc:
            raise TrackingError(f"{exc} ({self.backend.where})") from None
        finally:
            if self.is_managed_here:
                self._report_end()
            self.backend.close()
        if not sent:
            raise TrackingError(
                f"{self._buffer.pending} metric point(s) could not be stored in "
                f"{self.backend.where} within {self.retry_timeout:g} s (POLYAXON_RETRY_TIMEOUT); "
                "they are lost")

    def _report_end(self) -> None:
        """A run this process tracks from outside ends with it: failed with the uncaught
        exception's message, or succeeded; left alone if it was stopped meanwhile."""
        status, reason = ("failed", "exception") if self._error else ("succeeded", "ended")
        try:
            self.backend.report_status(status, reason, self._error)
        except TrackingError as exc:
            logger.warning("the run's end could not be reported: %s", exc)
