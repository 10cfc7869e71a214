"""What ``code_version`` says of a folder, and that it starts no git outside a repository."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from polyaxon_core.tracking import code
from polyaxon_core.tracking.code import code_version


def _git(folder: Path, *arguments: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *arguments], cwd=folder,
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    folder = tmp_path / "repository"
    (folder / "src").mkdir(parents=True)
    _git(folder, "init", "-q", "-b", "main")
    (folder / "src" / "train.py").write_text("print('v1')\n")
    _git(folder, "add", ".")
    _git(folder, "commit", "-q", "-m", "v1")
    return folder


def test_outside_a_repository_it_is_none_and_no_git_is_started(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Any] = []
    monkeypatch.delenv("GIT_DIR", raising=False)
    monkeypatch.setattr(code.subprocess, "run", lambda *args, **kwargs: started.append(args))
    assert code_version(tmp_path) is None
    assert started == []


def test_in_a_subfolder_it_names_the_root_the_commit_and_the_branch(repository: Path) -> None:
    found = code_version(repository / "src")
    assert found is not None
    assert found[0] == {"commit": _git(repository, "rev-parse", "HEAD"), "branch": "main", "url": None,
                        "is_dirty": False, "root": str(repository)}
    assert found[1] == ""


def test_a_detached_head_has_no_branch_and_a_change_is_a_diff(repository: Path) -> None:
    _git(repository, "checkout", "-q", "--detach", "HEAD")
    (repository / "src" / "train.py").write_text("print('v2')\n")
    found = code_version(repository)
    assert found is not None
    assert found[0]["branch"] is None and found[0]["is_dirty"] is True
    assert "+print('v2')" in found[1]


def test_a_repository_without_a_commit_is_none(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    assert code_version(tmp_path) is None
