"""Offline runs: everything tracked into a folder, with no server and no database, and
pushed later (``polyaxon ops push FOLDER -p PROJECT``).

The folder, ``$POLYAXON_OFFLINE_ROOT/<uuid>`` (default ``$POLYAXON_HOME/offline``), holds:

* ``run.json``: the run (uuid, project, name, description, tags, inputs, outputs, meta,
  status and message, times), rewritten whole at each change;
* ``metrics.jsonl``: a line per point, ``[name, value, step, timestamp]``, appended in
  the batches the SDK's buffer makes;
* ``lineage.jsonl``: a line per lineage record (a later record of a name replaces an
  earlier one);
* ``artifacts/``: the run's files, as they would be in its store.

:func:`push` replays the folder through the transport ``tracking.init`` would pick
(the database, or the server of ``POLYAXON_HOST`` / ``polyaxon login``): the run is
created with the folder's uuid, and metric batches carry ids made from their place in
``metrics.jsonl``, so pushing the same folder again stores nothing twice.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid as uuid_module
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from polyaxon_core.tracking.backends import PointRow, retry_delay, write_atomically

RUN_FILE = "run.json"
METRICS_FILE = "metrics.jsonl"
LINEAGE_FILE = "lineage.jsonl"
ARTIFACTS = "artifacts"
FINAL = ("succeeded", "failed", "stopped")


def offline_root() -> Path:
    from polyaxon_core.config import load_settings

    root = os.environ.get("POLYAXON_OFFLINE_ROOT")
    return Path(root).expanduser() if root else load_settings().home / "offline"


def _now() -> str:
    return datetime.now(UTC).isoformat()


class OfflineBackend:
    """Writes a run into its folder (see the module docstring)."""

    batch_size = 5_000
    where = "the offline folder"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.run_uuid = folder.name
        self._record: dict[str, Any] = json.loads((folder / RUN_FILE).read_text())

    @classmethod
    def create_run(cls, project: str | None, name: str | None, description: str | None,
                   tags: Sequence[str]) -> OfflineBackend:
        uuid = uuid_module.uuid4().hex
        folder = offline_root() / uuid
        (folder / ARTIFACTS).mkdir(parents=True)
        record: dict[str, Any] = {"uuid": uuid, "project": project, "name": name, "description": description,
                  "tags": list(dict.fromkeys(tags)), "inputs": {}, "outputs": {}, "meta": {},
                  "status": "running", "reason": None, "message": None,
                  "created_at": _now(), "finished_at": None}
        _write_json(folder / RUN_FILE, record)
        return cls(folder)

    def _save(self) -> None:
        _write_json(self.folder / RUN_FILE, self._record)

    def artifacts_path(self) -> Path:
        return self.folder / ARTIFACTS

    def retry_delay(self, attempt: int) -> float:
        return retry_delay(attempt)

    def send_metrics(self, batch_id: str, points: Sequence[PointRow]) -> None:
        with open(self.folder / METRICS_FILE, "a", encoding="utf-8") as stream:
            stream.write("".join(json.dumps(list(point)) + "\n" for point in points))

    def merge_json(self, column: str, values: Mapping[str, Any]) -> None:
        self._record[column] = {**self._record.get(column, {}), **values}
        self._save()

    def merge_meta(self, values: Mapping[str, Any]) -> None:
        self.merge_json("meta", values)

    def update(self, values: Mapping[str, str | None]) -> None:
        self._record.update(values)
        self._save()

    def add_tags(self, tags: Sequence[str]) -> None:
        self._record["tags"] = list(dict.fromkeys([*self._record["tags"], *tags]))
        self._save()

    def put_artifact(self, source: Path, path: str) -> int:
        from polyaxon_core.interfaces.store import ArtifactStore

        target = self.folder / ARTIFACTS / ArtifactStore.safe_path(path)
        if not (target.exists() and target.resolve() == source.resolve()):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        return target.stat().st_size

    def promote(self, version: Mapping[str, Any]) -> dict[str, Any]:
        from polyaxon_core.tracking.run import TrackingError

        raise TrackingError("an offline run has no project to promote it in yet: store it with "
                            "`polyaxon ops push FOLDER -p PROJECT`, then `polyaxon models promote "
                            "UUID --name NAME`")

    def record_lineage(self, entries: Sequence[Mapping[str, Any]]) -> None:
        with open(self.folder / LINEAGE_FILE, "a", encoding="utf-8") as stream:
            stream.write("".join(json.dumps(dict(entry)) + "\n" for entry in entries))

    def report_status(self, status: str, reason: str, message: str | None,
                      at: str | None = None) -> None:
        self._record.update(status=status, reason=reason, message=message,
                            finished_at=(at or _now()) if status in FINAL else None)
        self._save()

    def close(self) -> None:
        """Nothing to do: every call was written when it returned."""


def _write_json(path: Path, value: Any) -> None:
    write_atomically(path, json.dumps(value, indent=1).encode())


class PushError(Exception):
    """The folder cannot be pushed; the message says why and what to do."""


def _lines(path: Path) -> Iterator[tuple[int, Any]]:
    """The JSON values of a JSON-lines file with their line numbers; a last line cut short
    (the process was killed while writing it) is left out."""
    if not path.exists():
        return
    with open(path, encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError:
                if line.endswith("\n"):
                    raise PushError(f"{path}, line {number}: not a JSON value; the file was "
                                    "changed by hand or damaged") from None
                return


def read_offline_run(folder: Path) -> dict[str, Any]:
    """The ``run.json`` of an offline run's folder, checked."""
    path = folder / RUN_FILE
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise PushError(f"{folder} is not an offline run: it has no {RUN_FILE} (offline runs "
                        f"are folders under {offline_root()})") from None
    except (OSError, ValueError) as exc:
        raise PushError(f"{path} cannot be read: {exc}") from None
    uuid = record.get("uuid") if isinstance(record, dict) else None
    if not isinstance(uuid, str) or len(uuid) != 32:
        raise PushError(f"{path} names no run uuid; the file was changed by hand or damaged")
    return dict(record)


def push(folder: Path, project: str, force: bool = False,
         retry_timeout: float = 300.0) -> dict[str, Any]:
    """Store the offline run of ``folder`` in ``project`` through the transport
    ``tracking.init`` would pick; what was pushed (``uuid, points, files, lineage,
    status``). A run still being tracked (its status running) is pushed only with
    ``force``, and then ends failed."""
    from polyaxon_core.tracking.run import TrackingError, _backend

    record = read_offline_run(folder)
    status = record.get("status")
    if status not in FINAL and not force:
        raise PushError(f"offline run {record['uuid']} is still {status}: its process has not "
                        "ended it. Push it when it has, or with --force to push it as it is "
                        "(it ends failed)")
    backend = _backend(None, project, None, {
        "name": record.get("name"), "description": record.get("description"),
        "tags": list(record.get("tags") or ()), "uuid": record["uuid"],
        "created_at": record.get("created_at")})
    for column in ("inputs", "outputs"):
        if record.get(column):
            backend.merge_json(column, record[column])
    if record.get("meta"):
        backend.merge_meta(record["meta"])
    points = 0
    batch: list[PointRow] = []
    first = 1
    for number, point in _lines(folder / METRICS_FILE):
        batch.append((str(point[0]), float(point[1]), point[2], point[3]))
        if len(batch) == backend.batch_size:
            _send(backend, f"offline-{record['uuid']}-{first}-{number}", batch, retry_timeout)
            points += len(batch)
            batch, first = [], number + 1
    if batch:
        _send(backend, f"offline-{record['uuid']}-{first}-{first + len(batch) - 1}", batch,
              retry_timeout)
        points += len(batch)
    files = 0
    artifacts = folder / ARTIFACTS
    for file in sorted(artifacts.rglob("*")) if artifacts.is_dir() else ():
        if file.is_file() and not file.name.endswith(".part"):
            backend.put_artifact(file, file.relative_to(artifacts).as_posix())
            files += 1
    lineage = {entry["name"]: entry for _, entry in _lines(folder / LINEAGE_FILE)}
    rows = list(lineage.values())
    for start in range(0, len(rows), 1000):
        backend.record_lineage(rows[start:start + 1000])
    ended = status if status in FINAL else "failed"
    message = record.get("message") if status in FINAL else (
        "pushed before its tracking process ended it")
    try:
        backend.report_status(ended, record.get("reason") or ended, message,
                              record.get("finished_at") if status in FINAL else None)
    except TrackingError as exc:
        if "cannot become" not in str(exc):  # already ended: an earlier push did it
            raise
    backend.close()
    return {"uuid": record["uuid"], "points": points, "files": files, "lineage": len(rows),
            "status": ended}


def _send(backend: Any, batch_id: str, batch: list[PointRow], timeout: float) -> None:
    """Send one batch, retried while the transport says it may succeed later."""
    from polyaxon_core.tracking.buffer import PermanentSendError

    deadline = time.monotonic() + timeout
    attempt = 0
    while True:
        try:
            backend.send_metrics(batch_id, batch)
            return
        except PermanentSendError as exc:
            raise PushError(f"metric points were refused: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - the transport's transient failures
            if time.monotonic() > deadline:
                raise PushError(f"metric points could not be stored within {timeout:g} s: "
                                f"{exc}") from None
            time.sleep(backend.retry_delay(attempt))
            attempt += 1
