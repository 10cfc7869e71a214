"""The outputs sidecar's passes: which files it sends and when (the upload itself is a
recording double here; tests/client/test_agents.py runs the sidecar in a pod of the
Kubernetes stand-in, sending to a real server)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from polyaxon_schedulers.kubernetes.sidecar import Shipper, main

from polyaxon_core.client.errors import PayloadTooLarge, ServerUnreachable


class Recorder:
    """Stands in for the upload: records what was sent, or raises what it is told to."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.raising: dict[str, Exception] = {}

    def __call__(self, file: Path, path: str) -> None:
        if path in self.raising:
            raise self.raising[path]
        self.sent.append((path, file.read_text()))


def test_a_file_is_sent_once_it_stays_unchanged_for_a_pass_and_again_when_it_changes(
    tmp_path: Path,
) -> None:
    send = Recorder()
    shipper = Shipper(tmp_path, send)
    (tmp_path / "outputs").mkdir()
    (tmp_path / "outputs" / "model.txt").write_text("v1")

    assert shipper.ship().sent == [], "new: it may still be written"
    assert shipper.ship().sent == [("outputs/model.txt", 2)]
    assert shipper.ship().sent == [], "sent as it is"
    (tmp_path / "outputs" / "model.txt").write_text("v2 longer")
    assert shipper.ship().sent == []
    assert shipper.ship().sent == [("outputs/model.txt", 9)]
    (tmp_path / "last.txt").write_text("at the end")
    assert shipper.ship(final=True).sent == [("last.txt", 10)], "the last pass waits for nothing"
    assert send.sent == [("outputs/model.txt", "v1"), ("outputs/model.txt", "v2 longer"),
                         ("last.txt", "at the end")]


def test_a_link_out_of_the_folder_is_not_the_runs(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("not the run's")
    folder = tmp_path / "artifacts"
    folder.mkdir()
    (folder / "inside.txt").write_text("the run's")
    os.symlink(outside, folder / "leak")
    os.symlink(folder / "inside.txt", folder / "alias")
    send = Recorder()

    Shipper(folder, send).ship(final=True)

    assert send.sent == [("alias", "the run's"), ("inside.txt", "the run's")]


def test_a_refused_file_is_said_once_and_a_failed_one_is_tried_again(tmp_path: Path) -> None:
    send = Recorder()
    shipper = Shipper(tmp_path, send)
    (tmp_path / "huge.bin").write_text("x" * 10)
    (tmp_path / "model.txt").write_text("w")
    send.raising = {"huge.bin": PayloadTooLarge("larger than the upload limit", 413),
                    "model.txt": ServerUnreachable("the server at http://127.0.0.1:1 is away")}

    first = shipper.ship(final=True)
    assert sorted(path for path, _ in first.failed) == ["huge.bin", "model.txt"]
    assert "refused by the server: larger than the upload limit" in dict(first.failed)["huge.bin"]
    send.raising.pop("model.txt")
    second = shipper.ship(final=True)
    assert second.sent == [("model.txt", 1)] and second.failed == [], "the refused one is not sent again"
    (tmp_path / "huge.bin").write_text("x" * 5)
    send.raising = {}
    assert shipper.ship(final=True).sent == [("huge.bin", 5)], "changed: tried again"


def test_without_the_runs_context_it_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("POLYAXON_HOST", "POLYAXON_AUTH_TOKEN", "POLYAXON_PROJECT", "POLYAXON_RUN_UUID",
                 "POLYAXON_RUN_ARTIFACTS_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POLYAXON_RUN_UUID", "abc")

    assert main([]) == 2
    error = capsys.readouterr().err
    assert "POLYAXON_HOST, POLYAXON_AUTH_TOKEN, POLYAXON_PROJECT, POLYAXON_RUN_ARTIFACTS_PATH" in error
    assert "POLYAXON_API_HOST" in error
