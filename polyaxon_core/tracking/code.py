"""The version of the code a run runs, and the versions of the data it reads.

At ``tracking.init`` the SDK asks git (the executable, when there is one) about the
repository the script runs in: the commit, the branch, the remote's URL and whether the
tree has changes; a dirty tree's diff against the commit is stored as an artifact, so
the exact code can be put back. Data references carry a content hash (SHA-256 of a
file, or of a folder's files in path order), so runs are compared by the version of
their data, not its name.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

_CHUNK = 1024 * 1024


def _git(folder: Path, *arguments: str) -> str | None:
    executable = shutil.which("git")
    if executable is None:
        return None
    try:
        answer = subprocess.run([executable, *arguments], cwd=folder, capture_output=True,
                                timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return answer.stdout.decode("utf-8", "replace") if answer.returncode == 0 else None


def code_version(folder: Path | None = None) -> tuple[dict[str, Any], str] | None:
    """``({"commit", "branch", "url", "is_dirty", "root"}, diff)`` of the git repository
    holding ``folder`` (default: the working directory); None outside of one.

    Outside of a repository (no ``.git`` in the folder or above it, and no ``GIT_DIR``)
    git is not started at all: most runs start where there is none."""
    folder = (folder or Path.cwd()).absolute()
    if not os.environ.get("GIT_DIR") and not any(
            (candidate / ".git").exists() for candidate in (folder, *folder.parents)):
        return None
    # the root, the commit and the branch in one call (it fails on a repository without
    # a commit)
    found = (_git(folder, "rev-parse", "--show-toplevel", "HEAD", "--abbrev-ref", "HEAD") or "").split("\n")
    if len(found) < 3:
        return None
    root, commit, branch = (line.strip() for line in found[:3])
    url = (_git(folder, "config", "--get", "remote.origin.url") or "").strip()
    status = _git(folder, "status", "--porcelain", "--untracked-files=no") or ""
    diff = _git(folder, "diff", "HEAD", "--binary") if status.strip() else ""
    return ({"commit": commit, "branch": None if branch == "HEAD" else branch,
             "url": url or None, "is_dirty": bool(status.strip()), "root": root},
            diff or "")


def content_hash(path: Path) -> tuple[str, int]:
    """``("sha256:<hex>", bytes)`` of a file, or of a folder's files (their relative
    paths and contents, in path order); symbolic links are followed."""
    digest = hashlib.sha256()
    size = 0
    if path.is_file():
        files = [(path.name, path)]
        single = True
    elif path.is_dir():
        files = sorted((str(p.relative_to(path)).replace(os.sep, "/"), p)
                       for p in path.rglob("*") if p.is_file())
        single = False
    else:
        raise FileNotFoundError(f"{path}: no such file or folder")
    for relative, file in files:
        if not single:
            digest.update(relative.encode() + b"\0")
        with open(file, "rb") as stream:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
    return f"sha256:{digest.hexdigest()}", size
