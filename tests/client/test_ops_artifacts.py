"""`polyaxon ops artifacts` and `polyaxon ops upload`, on the embedded default and on a
server (the same commands, through the API)."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.client.conftest import Deployment, _base_env, _cli

JOB = textwrap.dedent("""
    version: 1.1
    kind: component
    run:
      kind: job
      container:
        image: python:3.11-slim
        command: [python, -c, "pass"]
""")

Where = tuple[Callable[..., Any], str]


@pytest.fixture(params=["embedded", "server"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Where:
    """The CLI and a new project, on the embedded default or on the module's server."""
    if request.param == "embedded":
        home = tmp_path / "home"
        home.mkdir()
        cli = _cli(_base_env(home))
        cli("project", "create", "files")
        return cli, "files"
    deployment: Deployment = request.getfixturevalue("deployment")
    project: str = request.getfixturevalue("project")
    return deployment.cli, project


def new_run(where: Where, folder: Path) -> str:
    cli, project = where
    job = folder / "job.yaml"
    job.write_text(JOB)
    run = str(json.loads(cli("run", "-f", str(job), "-p", project, "-o", "json").stdout)["uuid"])
    cli("ops", "statuses", run, "-p", project, "--watch")  # until it ended: its folders exist
    return run


def test_uploaded_files_are_listed_a_level_at_a_time_and_downloaded_whole(
    where: Where, tmp_path: Path
) -> None:
    cli, project = where
    run = new_run(where, tmp_path)
    assert cli("ops", "artifacts", run, "-p", project, "--path", "checkpoint").stdout.strip() == \
        f"run {run[:12]} has no artifact under 'checkpoint'"
    checkpoint = tmp_path / "checkpoint"
    (checkpoint / "layers").mkdir(parents=True)
    (checkpoint / "layers" / "w.bin").write_bytes(bytes(range(256)) * 40)
    (checkpoint / "meta.json").write_text('{"epoch": 3}')
    notes = tmp_path / "notes.txt"
    notes.write_text("a note")

    sent = cli("ops", "upload", run, "-p", project, str(checkpoint)).stdout.splitlines()
    assert sent == [f"{checkpoint / 'layers' / 'w.bin'} -> checkpoint/layers/w.bin",
                    f"{checkpoint / 'meta.json'} -> checkpoint/meta.json"]
    cli("ops", "upload", run, "-p", project, str(notes), "--to", "docs/readme.txt")

    # outputs/: the folder every run gets for its outputs
    assert cli("ops", "artifacts", run, "-p", project).stdout.splitlines() == [
        "checkpoint/", "docs/", "outputs/"]
    listed = json.loads(cli("ops", "artifacts", run, "-p", project, "--path", "checkpoint",
                            "-o", "json").stdout)
    assert listed == [{"is_dir": True, "path": "checkpoint/layers", "size": 0},
                      {"is_dir": False, "path": "checkpoint/meta.json", "size": 12}]

    target = tmp_path / "downloaded"
    cli("ops", "artifacts", run, "-p", project, "--download", str(target))
    assert sorted(str(path.relative_to(target)) for path in target.rglob("*") if path.is_file()) == [
        "checkpoint/layers/w.bin", "checkpoint/meta.json", "docs/readme.txt"]
    assert (target / "checkpoint" / "layers" / "w.bin").read_bytes() == bytes(range(256)) * 40
    one = tmp_path / "one"
    cli("ops", "artifacts", run, "-p", project, "--path", "docs/readme.txt", "--download", str(one))
    assert (one / "docs" / "readme.txt").read_text() == "a note"


def test_mistakes_are_said_with_the_fix(where: Where, tmp_path: Path) -> None:
    cli, project = where
    run = new_run(where, tmp_path)
    notes = tmp_path / "notes.txt"
    notes.write_text("a note")
    cli("ops", "upload", run, "-p", project, str(notes))

    a_file = cli("ops", "artifacts", run, "-p", project, "--path", "notes.txt", check=False)
    assert a_file.returncode == 1
    assert "'notes.txt' is a file of run" in a_file.stderr and "--download DIR" in a_file.stderr
    for args in (("ops", "artifacts", run, "-p", project, "--path", "../other-run"),
                 ("ops", "upload", run, "-p", project, str(notes), "--to", "../escape.txt")):
        escaping = cli(*args, check=False)
        assert escaping.returncode == 1, escaping
        assert "leaves the run" in escaping.stderr and "Traceback" not in escaping.stderr
    nothing = cli("ops", "artifacts", run, "-p", project, "--path", "missing", "--download",
                  str(tmp_path / "none"), check=False)
    assert nothing.returncode == 1
    assert "has no artifact under 'missing': nothing to download" in nothing.stderr
    assert not (tmp_path / "none").exists()
