from __future__ import annotations

import posixpath
from abc import abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from polyaxon_core.config import Settings
from polyaxon_core.entities import ArtifactInfo, LogChunk
from polyaxon_core.interfaces.base import PluginClass


class UnsafePathError(ValueError):
    """An artifact path tries to leave its run's folder (``..``, absolute paths)."""


class ArtifactStore(PluginClass):
    """Keeps each run's logs and artifacts, addressed by run uuid and relative path.

    Paths are always relative to the run; :meth:`safe_path` normalizes them and refuses
    anything that would escape, so backends only ever see confined paths.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @staticmethod
    def safe_path(path: str) -> str:
        """Normalize a run-relative path; raise UnsafePathError if it leaves the run."""
        if "\x00" in path:
            raise UnsafePathError("artifact paths cannot contain NUL bytes")
        cleaned = path.replace("\\", "/").strip()
        if cleaned.startswith("/"):
            raise UnsafePathError(f"{path!r} is absolute; give a path relative to the run")
        normalized = posixpath.normpath(cleaned) if cleaned else "."
        if normalized == ".." or normalized.startswith("../"):
            raise UnsafePathError(f"{path!r} leaves the run's folder")
        return "" if normalized == "." else normalized

    @staticmethod
    def check_log_window(offset: int, limit: int | None) -> None:
        """Refuse a read of the log from a negative ``offset`` or of a negative ``limit``."""
        if offset < 0:
            raise ValueError(f"offset must be 0 or more, not {offset}")
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be 0 or more (or None for all), not {limit}")

    # logs -------------------------------------------------------------------------
    @abstractmethod
    def append_log(self, run_uuid: str, data: bytes) -> None:
        """Append bytes to the run's log."""

    @abstractmethod
    def read_log(self, run_uuid: str, offset: int = 0, limit: int | None = None) -> LogChunk:
        """Read the log from ``offset``; ``next_offset`` is where the next read starts."""

    # artifacts ----------------------------------------------------------------------
    @abstractmethod
    def put_file(self, run_uuid: str, source: Path, path: str) -> ArtifactInfo:
        """Copy a local file into the run at ``path``."""

    @abstractmethod
    def put_stream(self, run_uuid: str, stream: BinaryIO, path: str) -> ArtifactInfo:
        """Write a stream into the run at ``path``."""

    @abstractmethod
    def open(self, run_uuid: str, path: str) -> BinaryIO:
        """Open an artifact for reading; FileNotFoundError if it is not there."""

    @abstractmethod
    def list(self, run_uuid: str, path: str = "") -> list[ArtifactInfo]:
        """List the entries directly under ``path`` (sorted by path)."""

    @abstractmethod
    def delete_run(self, run_uuid: str) -> None:
        """Remove everything the run stored; a run with nothing stored is not an error."""

    def walk(self, run_uuid: str, path: str = "") -> Iterator[ArtifactInfo]:
        """Every file below ``path``, depth first."""
        for info in self.list(run_uuid, path):
            if info.is_dir:
                yield from self.walk(run_uuid, info.path)
            else:
                yield info

    def local_path(self, run_uuid: str) -> Path | None:
        """A folder on this machine that *is* the run's storage, or None.

        Schedulers on the same machine write outputs there directly instead of uploading.
        """
        return None
