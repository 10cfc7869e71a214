"""The ``local`` artifact store: every run's files in folders on this machine.

Layout (``POLYAXON_HOME`` is ``~/.polyaxon`` unless set)::

    POLYAXON_HOME/artifacts/<run_uuid>/...            the run's artifacts: what list and
                                                      walk show, and local_path(), where
                                                      local runs write their outputs
    POLYAXON_HOME/artifacts/.incoming/<run_uuid>/     uploads in progress
    POLYAXON_HOME/run-logs/<run_uuid>.log             the run's log, outside its artifacts

Keeping the log outside the artifact folder means listing or downloading a run's
artifacts never includes the log, and a run writing into its own folder cannot
overwrite it. Uploads are written under ``.incoming`` (on the same file system as the
run folders) and renamed into place, so a reader sees either the old file or the whole
new one, never a half-written file, and listings never show temporary names.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from polyaxon_core.config import Settings
from polyaxon_core.entities import ArtifactInfo, LogChunk
from polyaxon_core.hookspecs import hookimpl
from polyaxon_core.interfaces import ArtifactStore, UnsafePathError

#: A run uuid becomes a folder name: one path component, never hidden, nothing to escape.
RUN_UUID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

_COPY_BUFFER = 1024 * 1024


class LocalArtifactStore(ArtifactStore):
    """Artifacts and logs in local folders (see the module docstring for the layout).

    Several processes may append to the same run's log at once: each append is a single
    ``write`` on a file opened with ``O_APPEND``, which the kernel places at the end of
    the file, so appends never overwrite one another. Every artifact path goes through
    :meth:`safe_path`, and its real location (symbolic links followed) must stay inside
    the run's folder, so a link planted in a run cannot lead reads or writes elsewhere.
    """

    name = "local"
    description = "Artifacts and logs in folders under POLYAXON_HOME."

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        #: Parent of the per-run artifact folders.
        self.artifacts_root = settings.artifacts_path
        #: Folder holding one ``<run_uuid>.log`` file per run.
        self.logs_root = settings.home / "run-logs"

    # logs ---------------------------------------------------------------------------
    def append_log(self, run_uuid: str, data: bytes) -> None:
        """Append ``data`` to the run's log; safe with concurrent writers."""
        log = self._log_file(run_uuid)
        log.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            remaining = memoryview(data)
            # A regular file takes the whole buffer in one write; the loop only matters
            # when the write is cut short (a full disk, a signal).
            while remaining:
                remaining = remaining[os.write(descriptor, remaining) :]
        except OSError as exc:
            exc.filename = str(log)  # os.write does not name the file; the message should
            raise
        finally:
            os.close(descriptor)

    def read_log(self, run_uuid: str, offset: int = 0, limit: int | None = None) -> LogChunk:
        """Bytes from ``offset`` (at most ``limit``); a run without a log reads as empty."""
        self.check_log_window(offset, limit)
        try:
            log = self._log_file(run_uuid).open("rb")
        except FileNotFoundError:
            return LogChunk(data=b"", next_offset=offset)
        with log:
            log.seek(offset)
            data = log.read() if limit is None else log.read(limit)
        return LogChunk(data=data, next_offset=offset + len(data))

    # artifacts ------------------------------------------------------------------------
    def put_file(self, run_uuid: str, source: Path, path: str) -> ArtifactInfo:
        """Copy the local file ``source`` into the run at ``path``, atomically."""
        source = Path(source)
        if source.is_dir():
            raise IsADirectoryError(
                f"cannot upload {source}: it is a folder; upload the files inside it"
            )
        if not source.exists():
            raise FileNotFoundError(f"cannot upload {source}: no such file")
        with source.open("rb") as stream:
            return self.put_stream(run_uuid, stream, path)

    def put_stream(self, run_uuid: str, stream: BinaryIO, path: str) -> ArtifactInfo:
        """Write ``stream`` into the run at ``path``, atomically (temp file + rename)."""
        run_folder, target = self._locate(run_uuid, path)
        if target == run_folder or target.is_dir():
            raise IsADirectoryError(
                f"{path!r} is a folder of run {run_uuid}; give the path of a file inside it"
            )
        incoming = self._incoming_folder(run_uuid)
        self._make_run_folder(run_folder)
        incoming.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=incoming)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                shutil.copyfileobj(stream, handle, _COPY_BUFFER)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, 0o644)  # mkstemp creates it private to us
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return self._info(run_folder, target)

    def open(self, run_uuid: str, path: str) -> BinaryIO:
        """Open the artifact at ``path`` for binary reading."""
        _, target = self._locate(run_uuid, path)
        if target.is_dir():
            raise IsADirectoryError(f"{path!r} is a folder of run {run_uuid}; list it instead")
        try:
            return target.open("rb")
        except FileNotFoundError:
            raise FileNotFoundError(f"run {run_uuid} has no artifact {path!r}") from None

    def list(self, run_uuid: str, path: str = "") -> list[ArtifactInfo]:
        """Entries directly under ``path``, sorted; a folder that does not exist is empty.

        Symbolic links whose target lies outside the run's folder, or no longer exists,
        are not part of the run and are left out.
        """
        run_folder, target = self._locate(run_uuid, path)
        if not target.exists():
            return []
        if not target.is_dir():
            raise NotADirectoryError(f"{path!r} is a file of run {run_uuid}; open it instead")
        entries = []
        for entry in os.scandir(target):
            location = Path(entry.path).resolve()
            if location.is_relative_to(run_folder) and location.exists():
                entries.append(self._info(run_folder, Path(entry.path), location))
        return sorted(entries, key=lambda info: info.path)

    def delete_run(self, run_uuid: str) -> None:
        """Remove the run's artifacts, log and unfinished uploads; nothing there is fine."""
        run_folder = self._run_folder(run_uuid)
        if run_folder.is_symlink():
            run_folder.unlink()  # remove the link, never what it points to
        elif run_folder.exists():
            shutil.rmtree(run_folder)
        self._log_file(run_uuid).unlink(missing_ok=True)
        incoming = self._incoming_folder(run_uuid)
        if incoming.exists():
            shutil.rmtree(incoming)

    def local_path(self, run_uuid: str) -> Path:
        """The run's artifact folder, created if needed; local runs write outputs here."""
        run_folder = self._run_folder(run_uuid)
        self._make_run_folder(run_folder)
        return run_folder

    # paths ----------------------------------------------------------------------------
    def _make_run_folder(self, run_folder: Path) -> None:
        """Create the run's folder (and the folder of them all) for this user only: 0700."""
        run_folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        run_folder.mkdir(mode=0o700, exist_ok=True)

    def _run_folder(self, run_uuid: str) -> Path:
        if not RUN_UUID_PATTERN.fullmatch(run_uuid):
            raise UnsafePathError(
                f"{run_uuid!r} is not a run uuid: use letters, digits, '.', '_' and '-' "
                "(not starting with '.', '_' or '-')"
            )
        return self.artifacts_root.resolve() / run_uuid

    def _log_file(self, run_uuid: str) -> Path:
        self._run_folder(run_uuid)  # same rules for the name
        return self.logs_root / f"{run_uuid}.log"

    def _incoming_folder(self, run_uuid: str) -> Path:
        # Beside the run folders, so the final rename stays on one file system.
        return self.artifacts_root.resolve() / ".incoming" / run_uuid

    def _locate(self, run_uuid: str, path: str) -> tuple[Path, Path]:
        """The run's folder and the real location of ``path`` in it, checked to stay inside."""
        run_folder = self._run_folder(run_uuid)
        relative = self.safe_path(path)
        target = (run_folder / relative).resolve()
        if not target.is_relative_to(run_folder):
            raise UnsafePathError(
                f"{path!r} leads outside run {run_uuid}'s folder through a symbolic link"
            )
        return run_folder, target

    @staticmethod
    def _info(run_folder: Path, entry: Path, location: Path | None = None) -> ArtifactInfo:
        status = (location or entry).stat()
        is_dir = (location or entry).is_dir()
        return ArtifactInfo(
            path=entry.relative_to(run_folder).as_posix(),
            size=0 if is_dir else status.st_size,
            is_dir=is_dir,
            modified_at=datetime.fromtimestamp(status.st_mtime, tz=UTC),
        )


@hookimpl
def polyaxon_register_stores() -> list[type[ArtifactStore]]:
    """The local folder store, selected with ``POLYAXON_STORE=local`` (the default)."""
    return [LocalArtifactStore]
