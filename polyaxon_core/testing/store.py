"""Contract tests for artifact-store plugins.

Subclass :class:`StoreContract` in a test module and provide one fixture, ``store``: an
instance of your store, empty, isolated for the test (``polyaxon_settings`` gives
settings under a temporary ``POLYAXON_HOME``)::

    class TestMyStore(StoreContract):
        @pytest.fixture
        def store(self, polyaxon_settings):
            return MyStore(polyaxon_settings)

The contract checks what the rest of the platform relies on:

* logs are append-only bytes read with a cursor: a follower reading from the last
  ``next_offset`` sees exactly the new bytes; a run that has logged nothing reads as
  empty; appends from several writers at once are all kept, none cut into another;
* artifacts round-trip byte for byte, at nested paths, listed one level at a time and
  walked recursively; the log is never one of them;
* an upload that fails part-way leaves nothing behind (no half file, no temporary name);
* paths that would leave the run (``..``, absolute, NUL) and run uuids that are not a
  single name raise :class:`~polyaxon_core.interfaces.UnsafePathError`;
* opening a missing artifact raises ``FileNotFoundError``; listing a folder that does
  not exist gives ``[]``;
* ``delete_run`` removes logs and artifacts of that run only, and an unknown run is fine;
* when ``local_path`` gives a folder, a file written there is an artifact of the run;
* the store is found by its ``name`` through the installed ``polyaxon.plugins`` entry
  points, exactly as the platform selects it (``POLYAXON_STORE``).
"""

from __future__ import annotations

import io
import threading
import uuid
from pathlib import Path
from typing import BinaryIO

import pytest

from polyaxon_core.interfaces import ArtifactStore, UnsafePathError

UNSAFE_PATHS = ["../escape.txt", "nested/../../escape.txt", "/etc/passwd", "bad\x00name.txt"]
UNSAFE_RUN_UUIDS = ["", "..", "../other-run", "one/two", "/absolute"]


class _FailingRaw(io.RawIOBase):
    def __init__(self, head: bytes) -> None:
        self._head = head

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if not self._head:
            raise ConnectionResetError("the upload was interrupted")
        size = min(len(buffer), len(self._head))
        buffer[:size] = self._head[:size]
        self._head = self._head[size:]
        return size


def failing_stream(head: bytes) -> BinaryIO:
    """A stream that yields ``head`` and then fails, like a dropped upload."""
    return io.BufferedReader(_FailingRaw(head))


def binary_payload(size: int = 300_000) -> bytes:
    """Every byte value, repeated: catches text-mode and encoding mistakes."""
    return bytes(range(256)) * (size // 256) + bytes(range(size % 256))


def read_all(stream: BinaryIO) -> bytes:
    with stream:
        return stream.read()


class StoreContract:
    """Inherit in a ``Test*`` class that defines a ``store`` fixture."""

    @pytest.fixture
    def run_uuid(self) -> str:
        return uuid.uuid4().hex

    # logs ---------------------------------------------------------------------------
    def test_log_of_a_run_that_logged_nothing_is_empty(
        self, store: ArtifactStore, run_uuid: str
    ) -> None:
        chunk = store.read_log(run_uuid)
        assert (chunk.data, chunk.next_offset) == (b"", 0)

    def test_appended_log_reads_back_with_the_cursor_at_its_end(
        self, store: ArtifactStore, run_uuid: str
    ) -> None:
        store.append_log(run_uuid, b"epoch 1\n")
        store.append_log(run_uuid, b"epoch 2\n")
        chunk = store.read_log(run_uuid)
        assert chunk.data == b"epoch 1\nepoch 2\n"
        assert chunk.next_offset == len(chunk.data)

    def test_reading_from_the_cursor_sees_only_new_bytes(
        self, store: ArtifactStore, run_uuid: str
    ) -> None:
        store.append_log(run_uuid, b"first line\n")
        first = store.read_log(run_uuid)
        store.append_log(run_uuid, b"second line\n")
        second = store.read_log(run_uuid, offset=first.next_offset)
        assert second.data == b"second line\n"
        third = store.read_log(run_uuid, offset=second.next_offset)
        assert (third.data, third.next_offset) == (b"", second.next_offset)

    def test_limit_bounds_a_read_and_the_cursor_follows_it(
        self, store: ArtifactStore, run_uuid: str
    ) -> None:
        store.append_log(run_uuid, b"0123456789")
        head = store.read_log(run_uuid, offset=0, limit=4)
        tail = store.read_log(run_uuid, offset=head.next_offset, limit=100)
        assert (head.data, head.next_offset) == (b"0123", 4)
        assert (tail.data, tail.next_offset) == (b"456789", 10)

    def test_log_keeps_binary_bytes_unchanged(self, store: ArtifactStore, run_uuid: str) -> None:
        payload = b"\x00\xff\r\n\xe2\x9c\x93 progress\r\n"
        store.append_log(run_uuid, payload)
        assert store.read_log(run_uuid).data == payload

    def test_concurrent_appends_lose_nothing(self, store: ArtifactStore, run_uuid: str) -> None:
        writers, lines_each = 8, 50
        start = threading.Barrier(writers)

        def write(writer: int) -> None:
            start.wait()  # all writers begin together
            for line in range(lines_each):
                store.append_log(run_uuid, f"writer {writer} line {line:04d}\n".encode())

        threads = [threading.Thread(target=write, args=(number,)) for number in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        lines = store.read_log(run_uuid).data.decode().splitlines()
        expected = {
            f"writer {writer} line {line:04d}"
            for writer in range(writers)
            for line in range(lines_each)
        }
        assert len(lines) == len(expected)
        assert set(lines) == expected

    def test_logs_are_kept_per_run(self, store: ArtifactStore, run_uuid: str) -> None:
        other = uuid.uuid4().hex
        store.append_log(run_uuid, b"mine\n")
        store.append_log(other, b"theirs\n")
        assert store.read_log(run_uuid).data == b"mine\n"
        assert store.read_log(other).data == b"theirs\n"

    # artifacts ----------------------------------------------------------------------
    def test_put_stream_then_open_round_trips_binary(
        self, store: ArtifactStore, run_uuid: str
    ) -> None:
        payload = binary_payload()
        info = store.put_stream(run_uuid, io.BytesIO(payload), "model.bin")
        assert (info.path, info.size, info.is_dir) == ("model.bin", len(payload), False)
        assert read_all(store.open(run_uuid, "model.bin")) == payload

    def test_put_file_then_open_round_trips_binary(
        self, store: ArtifactStore, run_uuid: str, tmp_path: Path
    ) -> None:
        payload = binary_payload(70_001)
        source = tmp_path / "weights.bin"
        source.write_bytes(payload)
        info = store.put_file(run_uuid, source, "checkpoints/weights.bin")
        assert (info.path, info.size) == ("checkpoints/weights.bin", len(payload))
        assert read_all(store.open(run_uuid, "checkpoints/weights.bin")) == payload

    def test_an_open_artifact_reads_from_where_it_seeks(
        self, store: ArtifactStore, run_uuid: str
    ) -> None:
        payload = binary_payload(70_001)
        store.put_stream(run_uuid, io.BytesIO(payload), "model.bin")
        with store.open(run_uuid, "model.bin") as stream:
            assert stream.read(10) == payload[:10]
            stream.seek(60_000)
            assert stream.read(5) == payload[60_000:60_005]
            stream.seek(3)
            assert stream.read(4) == payload[3:7]
            stream.seek(-2, io.SEEK_END)
            assert stream.read() == payload[-2:]

    def test_put_replaces_an_existing_artifact(self, store: ArtifactStore, run_uuid: str) -> None:
        store.put_stream(run_uuid, io.BytesIO(b"a much longer first version"), "notes.txt")
        store.put_stream(run_uuid, io.BytesIO(b"v2"), "notes.txt")
        assert read_all(store.open(run_uuid, "notes.txt")) == b"v2"

    def test_an_interrupted_upload_leaves_nothing_behind(
        self, store: ArtifactStore, run_uuid: str
    ) -> None:
        with pytest.raises(ConnectionResetError):
            store.put_stream(run_uuid, failing_stream(b"x" * 10_000), "outputs/model.bin")
        with pytest.raises(FileNotFoundError):
            store.open(run_uuid, "outputs/model.bin")
        assert list(store.walk(run_uuid)) == []

    def test_an_interrupted_upload_keeps_the_previous_version(
        self, store: ArtifactStore, run_uuid: str
    ) -> None:
        store.put_stream(run_uuid, io.BytesIO(b"complete version"), "model.bin")
        with pytest.raises(ConnectionResetError):
            store.put_stream(run_uuid, failing_stream(b"partial"), "model.bin")
        assert read_all(store.open(run_uuid, "model.bin")) == b"complete version"

    def test_list_shows_direct_entries_sorted_with_folders_marked(
        self, store: ArtifactStore, run_uuid: str
    ) -> None:
        store.put_stream(run_uuid, io.BytesIO(b"b"), "b.txt")
        store.put_stream(run_uuid, io.BytesIO(b"aa"), "a.txt")
        store.put_stream(run_uuid, io.BytesIO(b"deep"), "plots/loss/epoch-1.png")
        listing = [(info.path, info.is_dir) for info in store.list(run_uuid)]
        assert listing == [("a.txt", False), ("b.txt", False), ("plots", True)]
        assert [info.path for info in store.list(run_uuid, "plots")] == ["plots/loss"]
        sizes = {info.path: info.size for info in store.list(run_uuid) if not info.is_dir}
        assert sizes == {"a.txt": 2, "b.txt": 1}

    def test_walk_yields_every_file_at_every_depth(
        self, store: ArtifactStore, run_uuid: str
    ) -> None:
        paths = ["top.txt", "a/one.txt", "a/b/two.txt", "a/b/c/three.txt"]
        for path in paths:
            store.put_stream(run_uuid, io.BytesIO(path.encode()), path)
        walked = {info.path: info for info in store.walk(run_uuid)}
        assert sorted(walked) == sorted(paths)
        assert all(not info.is_dir for info in walked.values())
        assert sorted(info.path for info in store.walk(run_uuid, "a/b")) == [
            "a/b/c/three.txt",
            "a/b/two.txt",
        ]

    def test_paths_are_normalized_within_the_run(
        self, store: ArtifactStore, run_uuid: str
    ) -> None:
        store.put_stream(run_uuid, io.BytesIO(b"x"), "./outputs//metrics/../result.json")
        assert read_all(store.open(run_uuid, "outputs/result.json")) == b"x"

    def test_listing_a_missing_folder_is_empty(self, store: ArtifactStore, run_uuid: str) -> None:
        assert store.list(run_uuid) == []
        assert store.list(run_uuid, "not/there") == []

    def test_the_log_is_not_an_artifact(self, store: ArtifactStore, run_uuid: str) -> None:
        store.append_log(run_uuid, b"training...\n")
        store.put_stream(run_uuid, io.BytesIO(b"{}"), "metrics.json")
        assert [info.path for info in store.walk(run_uuid)] == ["metrics.json"]

    def test_opening_a_missing_artifact_raises_file_not_found(
        self, store: ArtifactStore, run_uuid: str
    ) -> None:
        with pytest.raises(FileNotFoundError, match="missing.bin"):
            store.open(run_uuid, "outputs/missing.bin")

    @pytest.mark.parametrize("path", UNSAFE_PATHS)
    def test_paths_leaving_the_run_are_rejected(
        self, store: ArtifactStore, run_uuid: str, path: str
    ) -> None:
        with pytest.raises(UnsafePathError):
            store.put_stream(run_uuid, io.BytesIO(b"x"), path)
        with pytest.raises(UnsafePathError):
            store.open(run_uuid, path)
        with pytest.raises(UnsafePathError):
            store.list(run_uuid, path)

    @pytest.mark.parametrize("bad_uuid", UNSAFE_RUN_UUIDS)
    def test_run_uuids_that_are_not_one_name_are_rejected(
        self, store: ArtifactStore, bad_uuid: str
    ) -> None:
        with pytest.raises(UnsafePathError):
            store.put_stream(bad_uuid, io.BytesIO(b"x"), "file.txt")
        with pytest.raises(UnsafePathError):
            store.append_log(bad_uuid, b"x")
        with pytest.raises(UnsafePathError):
            store.delete_run(bad_uuid)

    # lifecycle ------------------------------------------------------------------------
    def test_delete_run_removes_its_logs_and_artifacts(
        self, store: ArtifactStore, run_uuid: str
    ) -> None:
        store.append_log(run_uuid, b"bye\n")
        store.put_stream(run_uuid, io.BytesIO(b"x"), "nested/deep/file.bin")
        store.delete_run(run_uuid)
        assert store.read_log(run_uuid).data == b""
        assert store.list(run_uuid) == []
        with pytest.raises(FileNotFoundError):
            store.open(run_uuid, "nested/deep/file.bin")

    def test_delete_run_leaves_other_runs_alone(self, store: ArtifactStore, run_uuid: str) -> None:
        other = uuid.uuid4().hex
        store.append_log(other, b"still here\n")
        store.put_stream(other, io.BytesIO(b"kept"), "kept.txt")
        store.put_stream(run_uuid, io.BytesIO(b"gone"), "gone.txt")
        store.delete_run(run_uuid)
        assert store.read_log(other).data == b"still here\n"
        assert read_all(store.open(other, "kept.txt")) == b"kept"

    def test_deleting_an_unknown_run_is_fine(self, store: ArtifactStore) -> None:
        store.delete_run(uuid.uuid4().hex)

    def test_files_written_to_the_local_path_are_artifacts(
        self, store: ArtifactStore, run_uuid: str
    ) -> None:
        folder = store.local_path(run_uuid)
        if folder is None:
            assert store.list(run_uuid) == []  # a remote store: nothing appears by itself
            return
        (folder / "outputs").mkdir(parents=True, exist_ok=True)
        (folder / "outputs" / "written-directly.txt").write_bytes(b"local")
        assert read_all(store.open(run_uuid, "outputs/written-directly.txt")) == b"local"
        assert [info.path for info in store.walk(run_uuid)] == ["outputs/written-directly.txt"]

    # discovery ------------------------------------------------------------------------
    def test_registered_by_name_through_entry_points(self, store: ArtifactStore) -> None:
        from polyaxon_core.plugins import build_plugin_manager

        manager = build_plugin_manager(store.settings)
        assert manager.get("store", store.name) is type(store)
