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
``polyaxon login``) it talks to the server's API (see
:mod:`polyaxon_core.tracking.remote`). Either way metric points are buffered and stored
in batches by a background thread, so logging costs the training loop microseconds;
they are visible to ``polyaxon ops get`` / ``ops metrics`` within a second while the
run goes on, and the run's CPU, memory and GPU use is sampled into ``system/...``
metrics.

Images, histograms, texts, HTML, curves, confusion matrices and plotly charts are
series: one file per step under the run's artifacts (``images/<name>/<step>.png``,
``histograms/<name>/<step>.json``, ...). Everything stored (those series, models,
dataframes, files, the environment, the code version and data references) is recorded
in the run's lineage: its kind, path and summary (size, hash, steps...), read by
``polyaxon ops get`` and the API (``GET .../runs/{uuid}/lineage/artifacts``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polyaxon_core.tracking.run import TrackingError, TrackingRun

__all__ = [
    "TrackingError",
    "TrackingRun",
    "end",
    "flush",
    "get_artifacts_path",
    "get_outputs_path",
    "init",
    "log_artifact",
    "log_code_ref",
    "log_confusion_matrix",
    "log_curve",
    "log_data_ref",
    "log_dataframe",
    "log_env",
    "log_histogram",
    "log_html",
    "log_image",
    "log_images",
    "log_inputs",
    "log_meta",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_outputs",
    "log_plotly_chart",
    "log_pr_curve",
    "log_progress",
    "log_roc_auc_curve",
    "log_tags",
    "log_text",
    "promote_to_artifact_version",
    "promote_to_model_version",
    "set_description",
    "set_name",
]

_current: TrackingRun | None = None


def init(run_uuid: str | None = None, project: str | None = None, *, is_new: bool = False,
         is_offline: bool = False, name: str | None = None, description: str | None = None,
         tags: Sequence[str] = (),
         track_resources: bool = True, resources_interval: float | None = None,
         track_code: bool = True, track_env: bool = False,
         capture_exceptions: bool = True, tensorboard: bool | None = None) -> TrackingRun:
    """Attach to the current run (or to ``run_uuid``, of ``project`` when a server is
    used and POLYAXON_PROJECT is not set) and return it.

    With ``is_new=True`` a new run is created in ``project`` (with ``name``,
    ``description`` and ``tags``), tracked from this process (a notebook, a script on a
    laptop): nothing runs it but this code, it is running at once, and ``end()`` (or the
    interpreter's exit) marks it succeeded, or failed with the uncaught exception's
    message. Without a server it goes into the embedded database.

    With ``is_offline=True`` the same is written into a folder instead
    (``$POLYAXON_OFFLINE_ROOT/<uuid>``, default ``$POLYAXON_HOME/offline``), with no
    server and no database; ``polyaxon ops push FOLDER -p PROJECT`` stores it later
    (:mod:`polyaxon_core.tracking.offline`).

    Unless ``track_resources`` is False (or POLYAXON_RESOURCES_INTERVAL is 0), the CPU,
    memory and GPU use of this process and its children are sampled in the background
    every ``resources_interval`` seconds (default: POLYAXON_RESOURCES_INTERVAL, else 10)
    and stored as the run's ``system/...`` metrics
    (:mod:`polyaxon_core.tracking.resources`). ``track_code`` records the git commit the
    code runs from (:func:`log_code_ref`), ``track_env`` the Python environment
    (:func:`log_env`). With ``capture_exceptions`` an uncaught exception is recorded on
    the run (its type and message); ``end()`` runs at exit in any case. With
    ``tensorboard`` (default: POLYAXON_TRACKING_TENSORBOARD), every ``log_metrics`` point
    is also written to a TensorBoard event file in the run's ``tensorboard`` folder
    (:mod:`polyaxon_core.tracking.tensorboard`)."""
    global _current
    if _current is not None:
        _current.end()
    _current = TrackingRun(run_uuid, project, is_new=is_new, is_offline=is_offline, name=name,
                           description=description,
                           tags=tags, track_resources=track_resources,
                           resources_interval=resources_interval, track_code=track_code,
                           track_env=track_env, capture_exceptions=capture_exceptions,
                           tensorboard=tensorboard)
    return _current


def _run() -> TrackingRun:
    if _current is None:
        raise TrackingError("call tracking.init() before logging")
    return _current


def log_metrics(step: int | None = None, **metrics: float) -> None:
    """Log several metrics at one step, e.g. ``log_metrics(step=3, loss=0.2, acc=0.9)``."""
    (_current or _run()).log_metrics(step, **metrics)


def log_metric(name: str, value: float, step: int | None = None) -> None:
    (_current or _run()).log_metrics(step, **{name: value})


def flush(timeout: float | None = None) -> None:
    """Wait until every metric point logged so far is stored."""
    _run().flush(timeout)


def log_inputs(**inputs: Any) -> None:
    """Record inputs (hyperparameters) on the run, merged with the ones it was started with."""
    _run().log_inputs(**inputs)


def log_outputs(**outputs: Any) -> None:
    """Record outputs (final results) on the run; later values of a name replace earlier ones."""
    _run().log_outputs(**outputs)


def log_tags(*tags: str) -> None:
    _run().log_tags(*tags)


def set_name(name: str) -> None:
    _run().set_name(name)


def set_description(description: str) -> None:
    _run().set_description(description)


def log_meta(**values: Any) -> None:
    """Record what the code knows about itself on the run (``meta_info.meta``)."""
    _run().log_meta(**values)


def log_progress(value: float) -> None:
    """How far the run is, from 0 to 1."""
    _run().log_progress(value)


def log_artifact(path: str | Path, name: str | None = None, kind: str = "file") -> None:
    """Copy a file into the run's artifacts (as ``name``, default its file name)."""
    _run().log_artifact(path, name=name, kind=kind)


def log_model(path: str | Path, name: str = "model", framework: str | None = None,
              **summary: Any) -> None:
    """Store a model file or folder as ``models/<name>``, with its framework."""
    _run().log_model(path, name, framework, **summary)


def log_dataframe(frame: Any, name: str, content_type: str = "csv") -> None:
    """Store a pandas DataFrame as ``dataframes/<name>.csv`` (or ``.json``)."""
    _run().log_dataframe(frame, name, content_type)


def log_env() -> None:
    """Store the Python environment the run uses (``env.json``)."""
    _run().log_env()


def log_image(data: Any, name: str = "image", step: int | None = None) -> None:
    """An image (path, PIL image, or pixels) as a step of the series ``name``."""
    _run().log_image(data, name, step)


def log_images(images: Sequence[Any], name: str = "image", step: int | None = None) -> None:
    _run().log_images(images, name, step)


def log_histogram(values: Any, name: str, bins: int | Sequence[float] = 10,
                  step: int | None = None) -> None:
    _run().log_histogram(values, name, bins, step)


def log_text(text: str, name: str = "text", step: int | None = None) -> None:
    _run().log_text(text, name, step)


def log_html(html: str, name: str = "html", step: int | None = None) -> None:
    _run().log_html(html, name, step)


def log_curve(x: Any, y: Any, name: str, annotation: str | None = None,
              step: int | None = None) -> None:
    _run().log_curve(x, y, name, annotation, step)


def log_roc_auc_curve(y_true: Any, y_score: Any, name: str = "roc",
                      step: int | None = None) -> float:
    """The ROC curve of a binary classifier; returns its area."""
    return _run().log_roc_auc_curve(y_true, y_score, name, step)


def log_pr_curve(y_true: Any, y_score: Any, name: str = "pr", step: int | None = None) -> float:
    """The precision-recall curve of a binary classifier; returns its average precision."""
    return _run().log_pr_curve(y_true, y_score, name, step)


def log_confusion_matrix(x: Sequence[Any], y: Sequence[Any], z: Any, name: str = "confusion",
                         step: int | None = None) -> None:
    _run().log_confusion_matrix(x, y, z, name, step)


def log_plotly_chart(figure: Any, name: str, step: int | None = None) -> None:
    _run().log_plotly_chart(figure, name, step)


def log_code_ref(folder: str | Path | None = None) -> dict[str, Any] | None:
    """Record the git commit, branch and dirtiness of the code (done by ``init``)."""
    return _run().log_code_ref(folder)


def log_data_ref(name: str, path: str | Path | None = None, *, content_hash: str | None = None,
                 **summary: Any) -> str:
    """Record the data the run reads, by content hash; returns the hash."""
    return _run().log_data_ref(name, path, content_hash=content_hash, **summary)


def get_outputs_path() -> Path:
    """A folder for files the run produces (inside its artifacts)."""
    return _run().outputs_path


def get_artifacts_path() -> Path:
    return _run().artifacts_path


def promote_to_model_version(version: str, description: str | None = None,
                             tags: Sequence[str] = (), artifacts: Sequence[str] | None = None,
                             force: bool = False) -> dict[str, Any]:
    """Make the current run the model version ``version`` of its project (its registry:
    ``polyaxon models ls``), at the stage ``testing``; returns the version.

    Nothing is copied: the version points at the run and names the entries of its lineage
    it stands for, ``artifacts`` (default: every model the run logged with
    :func:`log_model`, e.g. ``models/model``). A version of that name already points at
    another run: TrackingError, unless ``force`` moves it to this one (its stage history
    says so)."""
    return _run().promote_to_model_version(version, description, tags, artifacts, force)


def promote_to_artifact_version(version: str, description: str | None = None,
                                tags: Sequence[str] = (), artifacts: Sequence[str] | None = None,
                                force: bool = False) -> dict[str, Any]:
    """As :func:`promote_to_model_version`, for an artifact version (default: every entry of
    the run's lineage)."""
    return _run().promote_to_artifact_version(version, description, tags, artifacts, force)


def end() -> None:
    """Finish logging, storing whatever is still buffered; the run's status is decided by
    its exit code. Raises TrackingError if buffered metrics could not be stored."""
    global _current
    if _current is not None:
        current, _current = _current, None
        current.end()
