"""Process facts the local scheduler relies on, read the same way by every process."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from polyaxon_core.run_user import RunAsUser

#: the folder of a run's control files (launch record, pid, exit code): never handed over
CONTROL_FOLDER = ".polyaxon"


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (Linux), to tell a live process from a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may contain spaces and parentheses: split after the last ')'
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[19]


def is_alive(pid: int, start_time: str | None) -> bool:
    """Whether ``pid`` is running and is the same process that had ``start_time``."""
    proc_stat = Path(f"/proc/{pid}/stat")
    if proc_stat.parent.parent.exists() and Path("/proc/self").exists():
        try:
            stat = proc_stat.read_text()
        except OSError:
            return False
        state = stat[stat.rindex(")") + 2 :].split()[0]
        if state in {"Z", "X"}:
            return False
        return start_time is None or process_start_time(pid) == start_time
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_json_atomically(path: Path, data: Any) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data))
    os.replace(temporary, path)


def read_json(path: Path) -> Any | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except json.JSONDecodeError:
        return None


def _chown_tree(top: Path, uid: int, gid: int, skip: str | None = None) -> None:
    """``lchown`` ``top`` and everything under it, never following a symbolic link."""
    os.lchown(top, uid, gid)
    if not stat.S_ISDIR(top.lstat().st_mode):
        return
    for folder, folders, files in os.walk(top, followlinks=False):
        if skip is not None and Path(folder) == top and skip in folders:
            folders.remove(skip)
        for name in [*folders, *files]:
            os.lchown(os.path.join(folder, name), uid, gid)


def give(top: Path, uid: int, gid: int) -> None:
    """Make ``top`` (a file, or a folder and everything in it) the user ``uid``'s."""
    if top.exists() or top.is_symlink():
        _chown_tree(top, uid, gid)


def _chmod_folder(folder: Path, mode: int) -> None:
    if stat.S_ISDIR(folder.lstat().st_mode):  # never through a link
        os.chmod(folder, mode)


def hand_over(user: RunAsUser, run_path: Path, artifacts: Path) -> list[Path]:
    """Give ``user`` its run's folders for the time it runs; returns them, for
    :func:`take_back`.

    The working folder stays this process's, with ``user``'s group allowed to create
    files in it and the sticky bit set, so the run cannot rename or replace the control
    folder inside it; what the run left there in an earlier attempt becomes its own
    again. The artifacts folder becomes ``user``'s.
    """
    own_uid = os.geteuid()
    control = run_path / CONTROL_FOLDER
    _chown_tree(run_path, user.uid, user.gid, skip=CONTROL_FOLDER)
    os.lchown(run_path, own_uid, user.gid)
    _chmod_folder(run_path, 0o1770)
    if control.exists():
        _chmod_folder(control, 0o700)
    _chown_tree(artifacts, user.uid, user.gid)
    _chmod_folder(artifacts, 0o700)
    return [run_path, artifacts]


def take_back(folders: list[Path]) -> None:
    """Make the folders of a run that ended this process's again, unreadable to others."""
    uid, gid = os.geteuid(), os.getegid()
    for folder in folders:
        if folder.exists() or folder.is_symlink():
            _chown_tree(folder, uid, gid)
            _chmod_folder(folder, 0o700)
