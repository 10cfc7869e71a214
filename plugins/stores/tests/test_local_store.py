"""The local store passes the store contract, plus what only a local folder can show."""

from __future__ import annotations

import io
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from polyaxon_stores.local import LocalArtifactStore

from polyaxon_core.config import Settings
from polyaxon_core.interfaces import UnsafePathError
from polyaxon_core.testing import StoreContract


@pytest.fixture
def store(polyaxon_settings: Settings) -> LocalArtifactStore:
    return LocalArtifactStore(polyaxon_settings)


@pytest.fixture
def run_uuid() -> str:
    return uuid.uuid4().hex


class TestLocalStoreContract(StoreContract):
    """Every behaviour a store must have, on the local folder store."""


# layout -----------------------------------------------------------------------------------


def test_artifacts_live_in_the_run_folder_under_the_artifacts_path(
    store: LocalArtifactStore, polyaxon_settings: Settings, run_uuid: str
) -> None:
    store.put_stream(run_uuid, io.BytesIO(b"1"), "outputs/model.txt")
    run_folder = polyaxon_settings.artifacts_path / run_uuid
    assert (run_folder / "outputs" / "model.txt").read_bytes() == b"1"
    assert store.local_path(run_uuid) == run_folder.resolve()


def test_the_log_lives_outside_the_run_folder(
    store: LocalArtifactStore, polyaxon_settings: Settings, run_uuid: str
) -> None:
    store.append_log(run_uuid, b"hello\n")
    log = polyaxon_settings.home / "run-logs" / f"{run_uuid}.log"
    assert log.read_bytes() == b"hello\n"
    assert not (polyaxon_settings.artifacts_path / run_uuid).exists()


def test_local_path_creates_the_run_folder(store: LocalArtifactStore, run_uuid: str) -> None:
    folder = store.local_path(run_uuid)
    assert folder.is_dir()
    assert store.list(run_uuid) == []


# logs from several processes --------------------------------------------------------------

WRITER = """
import sys
from pathlib import Path

from polyaxon_core.config import Settings
from polyaxon_stores.local import LocalArtifactStore

home, run_uuid, writer, lines = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
settings = Settings(home=Path(home), db_url="sqlite://", scheduler="local", store="local")
store = LocalArtifactStore(settings)
print("ready", flush=True)
sys.stdin.readline()  # the go signal: every writer starts appending at the same moment
padding = b"." * 200  # long lines make an interleaved write visible
for line in range(lines):
    store.append_log(run_uuid, f"process {writer} line {line:05d} ".encode() + padding + b"\\n")
"""


def test_appends_from_several_processes_lose_nothing(
    polyaxon_settings: Settings, store: LocalArtifactStore, run_uuid: str
) -> None:
    processes, lines_each = 4, 2000
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(polyaxon_settings.home), run_uuid,
             str(number), str(lines_each)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        for number in range(processes)
    ]
    for writer in writers:
        assert writer.stdout is not None and writer.stdout.readline() == b"ready\n"
    for writer in writers:
        assert writer.stdin is not None
        writer.stdin.write(b"go\n")
        writer.stdin.close()
    assert [writer.wait(timeout=120) for writer in writers] == [0] * processes

    lines = store.read_log(run_uuid).data.split(b"\n")
    assert lines.pop() == b""  # the log ends with a complete line
    padding = b"." * 200
    expected = {
        f"process {writer} line {line:05d} ".encode() + padding
        for writer in range(processes)
        for line in range(lines_each)
    }
    assert len(lines) == processes * lines_each
    assert set(lines) == expected


def test_read_log_refuses_a_negative_cursor(store: LocalArtifactStore, run_uuid: str) -> None:
    with pytest.raises(ValueError, match="offset must be 0 or more"):
        store.read_log(run_uuid, offset=-1)
    with pytest.raises(ValueError, match="limit must be 0 or more"):
        store.read_log(run_uuid, limit=-5)


# atomic writes -----------------------------------------------------------------------------


class ObservingStream(io.RawIOBase):
    """Yields ``payload`` in small pieces and, midway, records what a reader would see."""

    def __init__(self, payload: bytes, observe: Callable[[], object]) -> None:
        self._payload = payload
        self._observe = observe
        self.observed: list[object] = []

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._payload and not self.observed:
            self.observed.append(self._observe())
        size = min(len(buffer), len(self._payload), 1024)
        buffer[:size] = self._payload[:size]
        self._payload = self._payload[size:]
        return size


def test_readers_never_see_a_half_written_file(store: LocalArtifactStore, run_uuid: str) -> None:
    store.put_stream(run_uuid, io.BytesIO(b"old version"), "model.bin")

    def what_a_reader_sees() -> tuple[bytes, list[str]]:
        with store.open(run_uuid, "model.bin") as handle:
            content = handle.read()
        return content, [info.path for info in store.walk(run_uuid)]

    new_version = b"n" * 50_000
    stream = ObservingStream(new_version, what_a_reader_sees)
    store.put_stream(run_uuid, io.BufferedReader(stream), "model.bin")

    assert stream.observed == [(b"old version", ["model.bin"])]
    with store.open(run_uuid, "model.bin") as handle:
        assert handle.read() == new_version


def test_delete_run_removes_uploads_left_by_a_crashed_process(
    store: LocalArtifactStore, polyaxon_settings: Settings, run_uuid: str
) -> None:
    leftover = polyaxon_settings.artifacts_path / ".incoming" / run_uuid / "tmp1234"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half")
    store.delete_run(run_uuid)
    assert not leftover.parent.exists()


# confinement -----------------------------------------------------------------------------


def test_a_symlink_leading_out_of_the_run_cannot_be_followed(
    store: LocalArtifactStore, run_uuid: str, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"not yours")
    (store.local_path(run_uuid) / "escape").symlink_to(outside)

    with pytest.raises(UnsafePathError, match="symbolic link"):
        store.open(run_uuid, "escape/secret.txt")
    with pytest.raises(UnsafePathError, match="symbolic link"):
        store.put_stream(run_uuid, io.BytesIO(b"x"), "escape/planted.txt")
    with pytest.raises(UnsafePathError, match="symbolic link"):
        store.list(run_uuid, "escape")
    assert store.list(run_uuid) == []
    assert not (outside / "planted.txt").exists()


def test_a_symlink_inside_the_run_is_followed(store: LocalArtifactStore, run_uuid: str) -> None:
    store.put_stream(run_uuid, io.BytesIO(b"weights"), "checkpoints/step-3/model.bin")
    (store.local_path(run_uuid) / "latest").symlink_to("checkpoints/step-3")
    with store.open(run_uuid, "latest/model.bin") as handle:
        assert handle.read() == b"weights"
    assert [info.path for info in store.list(run_uuid)] == ["checkpoints", "latest"]


def test_a_run_folder_replaced_by_a_symlink_is_refused_and_deleted_as_a_link(
    store: LocalArtifactStore, polyaxon_settings: Settings, run_uuid: str, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "data.txt").write_bytes(b"keep me")
    polyaxon_settings.artifacts_path.mkdir(parents=True, exist_ok=True)
    (polyaxon_settings.artifacts_path / run_uuid).symlink_to(elsewhere)

    with pytest.raises(UnsafePathError):
        store.open(run_uuid, "data.txt")
    store.delete_run(run_uuid)
    assert not (polyaxon_settings.artifacts_path / run_uuid).exists()
    assert (elsewhere / "data.txt").read_bytes() == b"keep me"


# clear errors -----------------------------------------------------------------------------


def test_opening_a_folder_says_to_list_it(store: LocalArtifactStore, run_uuid: str) -> None:
    store.put_stream(run_uuid, io.BytesIO(b"x"), "plots/a.png")
    with pytest.raises(IsADirectoryError, match="list it instead"):
        store.open(run_uuid, "plots")


def test_listing_a_file_says_to_open_it(store: LocalArtifactStore, run_uuid: str) -> None:
    store.put_stream(run_uuid, io.BytesIO(b"x"), "a.txt")
    with pytest.raises(NotADirectoryError, match="open it instead"):
        store.list(run_uuid, "a.txt")


def test_writing_over_a_folder_is_refused(store: LocalArtifactStore, run_uuid: str) -> None:
    store.put_stream(run_uuid, io.BytesIO(b"x"), "plots/a.png")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        store.put_stream(run_uuid, io.BytesIO(b"y"), "plots")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        store.put_stream(run_uuid, io.BytesIO(b"y"), "")


def test_uploading_a_missing_file_names_it(
    store: LocalArtifactStore, run_uuid: str, tmp_path: Path
) -> None:
    missing = tmp_path / "nope.bin"
    with pytest.raises(FileNotFoundError, match="cannot upload .*nope.bin: no such file"):
        store.put_file(run_uuid, missing, "nope.bin")


def test_uploading_a_folder_is_refused(
    store: LocalArtifactStore, run_uuid: str, tmp_path: Path
) -> None:
    with pytest.raises(IsADirectoryError, match="upload the files inside it"):
        store.put_file(run_uuid, tmp_path, "folder")
