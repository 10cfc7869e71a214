"""Artifact stores in object storage, through fsspec: the base of ``s3``, ``gs`` and ``az``.

The store is chosen by a URL, ``POLYAXON_ARTIFACTS_STORE=s3://bucket/prefix``; its
scheme is the store's name. Layout under ``bucket/prefix``::

    <run_uuid>/...                     the run's artifacts
    .logs/<run_uuid>/<chunk>           the run's log, one object per append

Credentials and endpoints come from each cloud SDK's own conventions (for S3
``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``, ``~/.aws/credentials``...), so what a user
already configured for the cloud works here unchanged.

Object stores have no append: each append of a log is an object of its own, named by
the time it was written (then the writing process and a counter), and a log reads as
those objects in name order. A reader following the log with ``next_offset`` sees new
bytes only, as long as appends come from one process, which is how runs write their log
(the runner). Uploads are streamed in parts (``put_stream`` never holds more than one
part in memory) and become visible only when whole: an upload that fails part-way is
abandoned and the previous version, if any, stays. Reads are ranged: ``open`` gives a
file object that fetches the object a part at a time, holding one part.
"""

from __future__ import annotations

import io
import itertools
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, cast

from polyaxon_core.config import ConfigurationError, Settings
from polyaxon_core.entities import ArtifactInfo, LogChunk
from polyaxon_core.interfaces import ArtifactStore, UnsafePathError
from polyaxon_stores.local import RUN_UUID_PATTERN

if TYPE_CHECKING:
    from concurrent.futures import Future

#: the parts an upload is sent in, and the most of it held in memory at once
PART_SIZE = 8 * 1024 * 1024
#: what is read from an upload's source at a time, into the part being filled
READ_SIZE = 1024 * 1024
#: the range a ranged download fetches at a time (the size cloud providers advise for
#: ranged reads); a reader holds at most two (the one read, the next one being fetched):
#: larger ranges cost twice their size at once while a response is assembled
RANGE_SIZE = 8 * 1024 * 1024
LOGS = ".logs"


class ObjectArtifactStore(ArtifactStore):
    """Artifacts and logs as objects under ``<scheme>://bucket/prefix``, through fsspec."""

    #: the fsspec protocol and the Python package that provides it (named in errors)
    protocol: ClassVar[str]
    package: ClassVar[str]
    extra: ClassVar[str]

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        url = settings.artifacts_store
        scheme, separator, rest = url.partition("://")
        if scheme != self.name or not separator or not rest.strip("/"):
            raise ConfigurationError(
                f"the {self.name} artifacts store needs POLYAXON_ARTIFACTS_STORE="
                f"{self.name}://BUCKET[/PREFIX], not {url!r}")
        #: ``bucket/prefix``, without slashes around it
        self.root = rest.strip("/")
        self._appends = threading.Lock()
        self._sequence = itertools.count()

    @cached_property
    def fs(self) -> Any:
        try:
            import fsspec
        except ImportError:  # pragma: no cover - fsspec comes with every extra
            raise ConfigurationError(self._missing()) from None
        try:
            return fsspec.filesystem(self.protocol, use_listings_cache=False,
                                     **self.filesystem_options())
        except ImportError:
            raise ConfigurationError(self._missing()) from None

    def filesystem_options(self) -> dict[str, Any]:
        """Keyword arguments of the fsspec file system: the credentials of the catalog's
        connection the store comes from (``POLYAXON_ARTIFACTS_CONNECTION``), else none
        (each SDK's own settings apply)."""
        if not self.settings.artifacts_connection:
            return {}
        from polyaxon_core.connections import get_connection, resolve_secret

        connection = get_connection(self.settings.artifacts_connection)
        secret = {key: value.reveal() for key, value in resolve_secret(connection).items()}
        unknown = sorted(set(secret) - set(self.credential_keys))
        if unknown:
            raise ConfigurationError(
                f"the secret of the connection {connection.name!r} holds "
                f"{', '.join(unknown)}, which the {self.name} store does not read; its keys "
                f"are {', '.join(self.credential_keys)} (list the ones to use in the "
                "connection's secret.items)")
        return self.credential_options(secret, connection.schema)

    #: the keys of a connection's secret the store reads (each SDK's variable names)
    credential_keys: ClassVar[tuple[str, ...]] = ()

    def credential_options(self, secret: dict[str, str], schema: Any) -> dict[str, Any]:
        """The file system's keyword arguments for a connection's secret."""
        return {}

    def _missing(self) -> str:
        return (f"the {self.name} artifacts store needs {self.package}: "
                f"pip install 'polyaxon-stores[{self.extra}]'")

    # paths --------------------------------------------------------------------------
    def _run_key(self, run_uuid: str) -> str:
        if not RUN_UUID_PATTERN.fullmatch(run_uuid):
            raise UnsafePathError(
                f"{run_uuid!r} is not a run uuid: use letters, digits, '.', '_' and '-' "
                "(not starting with '.', '_' or '-')")
        return f"{self.root}/{run_uuid}"

    def _key(self, run_uuid: str, path: str) -> str:
        relative = self.safe_path(path)
        run_key = self._run_key(run_uuid)
        return f"{run_key}/{relative}" if relative else run_key

    def _logs_key(self, run_uuid: str) -> str:
        self._run_key(run_uuid)
        return f"{self.root}/{LOGS}/{run_uuid}"

    # logs -----------------------------------------------------------------------------
    def append_log(self, run_uuid: str, data: bytes) -> None:
        if not data:
            return
        with self._appends:
            name = f"{time.time_ns():020d}-{os.getpid():08d}-{next(self._sequence):08d}"
            self.fs.pipe_file(f"{self._logs_key(run_uuid)}/{name}", data)

    def read_log(self, run_uuid: str, offset: int = 0, limit: int | None = None) -> LogChunk:
        self.check_log_window(offset, limit)
        try:
            chunks = sorted(self.fs.ls(self._logs_key(run_uuid), detail=True),
                            key=lambda entry: entry["name"])
        except FileNotFoundError:
            chunks = []
        parts: list[bytes] = []
        start, wanted = 0, limit
        for chunk in chunks:
            size = int(chunk["size"])
            end = start + size
            if end > offset and (wanted is None or wanted > 0):
                begin = max(0, offset - start)
                stop = size if wanted is None else min(size, begin + wanted)
                part = self.fs.cat_file(chunk["name"], start=begin, end=stop)
                parts.append(part)
                if wanted is not None:
                    wanted -= len(part)
            start = end
        data = b"".join(parts)
        return LogChunk(data=data, next_offset=offset + len(data))

    # artifacts --------------------------------------------------------------------------
    def put_file(self, run_uuid: str, source: Path, path: str) -> ArtifactInfo:
        source = Path(source)
        if source.is_dir():
            raise IsADirectoryError(f"cannot upload {source}: it is a folder; upload the files inside it")
        if not source.exists():
            raise FileNotFoundError(f"cannot upload {source}: no such file")
        with source.open("rb") as stream:
            return self.put_stream(run_uuid, stream, path)

    def put_stream(self, run_uuid: str, stream: BinaryIO, path: str) -> ArtifactInfo:
        key = self._key(run_uuid, path)
        if key == self._run_key(run_uuid) or self._is_folder(key):
            raise IsADirectoryError(
                f"{path!r} is a folder of run {run_uuid}; give the path of a file inside it")
        handle = self.fs.open(key, "wb", block_size=PART_SIZE)
        try:
            shutil.copyfileobj(stream, handle, READ_SIZE)
        except BaseException:
            handle.discard()  # the parts sent are dropped; a previous version stays
            handle.closed = True  # and nothing flushes the rest when it is collected
            raise
        handle.close()
        return self._info(run_uuid, self.fs.info(key))

    def open(self, run_uuid: str, path: str) -> BinaryIO:
        key = self._key(run_uuid, path)
        try:
            info = self.fs.info(key)
        except FileNotFoundError:
            raise FileNotFoundError(f"run {run_uuid} has no artifact {path!r}") from None
        if info["type"] == "directory":
            raise IsADirectoryError(f"{path!r} is a folder of run {run_uuid}; list it instead")
        size = int(info.get("size") or 0)
        return cast(BinaryIO, ObjectReader(lambda start: self.chunks(key, size, start), size))

    def chunks(self, key: str, size: int, start: int) -> Iterator[bytes]:
        """The object ``key`` (of ``size`` bytes) from ``start`` on, in chunks: ranged
        requests here (:func:`ranged_chunks`); a store whose client streams a response
        overrides it with one request."""
        return ranged_chunks(self.fs, key, size, start)

    def list(self, run_uuid: str, path: str = "") -> list[ArtifactInfo]:
        key = self._key(run_uuid, path)
        try:
            entries = self.fs.ls(key, detail=True)
        except FileNotFoundError:
            return []
        if len(entries) == 1 and entries[0]["type"] == "file" and entries[0]["name"].rstrip("/") == key:
            raise NotADirectoryError(f"{path!r} is a file of run {run_uuid}; open it instead")
        return sorted((self._info(run_uuid, entry) for entry in entries
                       if entry["name"].rstrip("/") != key),
                      key=lambda info: info.path)

    def delete_run(self, run_uuid: str) -> None:
        for key in (self._run_key(run_uuid), self._logs_key(run_uuid)):
            try:
                self.fs.rm(key, recursive=True)
            except FileNotFoundError:
                continue

    # helpers ----------------------------------------------------------------------------
    def _is_folder(self, key: str) -> bool:
        try:
            return bool(self.fs.info(key)["type"] == "directory")
        except FileNotFoundError:
            return False

    def _info(self, run_uuid: str, entry: dict[str, Any]) -> ArtifactInfo:
        name = entry["name"].rstrip("/")
        is_dir = entry["type"] == "directory"
        modified = entry.get("LastModified") or entry.get("last_modified") or entry.get("updated")
        return ArtifactInfo(
            path=name[len(self._run_key(run_uuid)) + 1:],
            size=0 if is_dir else int(entry.get("size") or 0),
            is_dir=is_dir,
            modified_at=_as_datetime(modified),
        )


def ranged_chunks(fs: Any, key: str, size: int, start: int) -> Iterator[bytes]:
    """The object ``key`` from ``start`` in ranged requests of :data:`RANGE_SIZE`, the
    next one fetched in the background while the current one is read (the network busy
    while the reader sends). At most two ranges are held at once."""
    # imported here: at import, concurrent.futures registers an exit hook, which fails
    # when a run's tracking loads the plugins while its interpreter exits
    from concurrent.futures import ThreadPoolExecutor

    fetcher = ThreadPoolExecutor(1, thread_name_prefix="ranged-read")
    ahead: Future[bytes] | None = None
    try:
        position = start
        while position < size:
            end = min(size, position + RANGE_SIZE)
            data = ahead.result() if ahead is not None else fs.cat_file(key, start=position, end=end)
            following = min(size, end + RANGE_SIZE)
            ahead = fetcher.submit(fs.cat_file, key, start=end, end=following) if end < size else None
            position = end
            yield data
    finally:
        if ahead is not None:
            ahead.cancel()
        fetcher.shutdown(wait=True, cancel_futures=True)


class ObjectReader(io.RawIOBase):
    """An object read from a source of chunks: ``chunks(start)`` yields its bytes from
    ``start`` on (:func:`ranged_chunks`, or a store's own stream); one chunk is held at a
    time, and a seek elsewhere than where the source is starts a new one there."""

    def __init__(self, chunks: Callable[[int], Iterator[bytes]], size: int) -> None:
        self.chunks, self.size = chunks, size
        self.position = 0
        self.part: memoryview = memoryview(b"")
        self.part_start = 0
        self.source: Iterator[bytes] | None = None
        self.source_at = 0  # where the source's next chunk starts

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def _drop_source(self) -> None:
        source, self.source = self.source, None
        if source is not None:
            source.close()  # type: ignore[attr-defined]

    def readinto(self, buffer: Any) -> int:
        if self.position >= self.size:
            return 0
        offset = self.position - self.part_start
        if not 0 <= offset < len(self.part):
            if self.source is None or self.source_at != self.position:
                self._drop_source()
                self.source, self.source_at = self.chunks(self.position), self.position
            data = next(self.source, b"")
            if not data:
                raise OSError(f"the store ended the object early, at byte {self.position} of {self.size}")
            self.part, self.part_start = memoryview(data), self.source_at
            self.source_at += len(data)
            offset = 0
        count = min(len(buffer), len(self.part) - offset)
        buffer[:count] = self.part[offset:offset + count]
        self.position += count
        return count

    def close(self) -> None:
        self.part = memoryview(b"")
        self._drop_source()
        super().close()


def _as_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None
