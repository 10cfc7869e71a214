"""Process facts the local scheduler relies on, read the same way by every process."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


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
