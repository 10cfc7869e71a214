"""Reading sweeps back the way a user does: ``polyaxon ops get`` and ``ops ls`` with ``-o json``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.orchestrator.conftest import Cli

FILES = Path(__file__).parent / "files"


def submit(cli: Cli, *args: str) -> str:
    return str(json.loads(cli("run", *args, "-o", "json").stdout)["uuid"])


def sweep_status(uuid: str) -> str:
    from polyaxon_core.config import load_settings
    from polyaxon_core.db.session import session_scope
    from polyaxon_core.domain.listing import get_run

    with session_scope(load_settings().db_url) as session:
        return get_run(session, uuid).status


def trial_states(uuid: str) -> list[tuple[dict[str, Any], str]]:
    """``(matrix meta, status)`` of each trial, read from the database (cheap enough to poll)."""
    from sqlalchemy import select

    from polyaxon_core.config import load_settings
    from polyaxon_core.db.models import Run
    from polyaxon_core.db.session import session_scope
    from polyaxon_core.domain.listing import get_run

    with session_scope(load_settings().db_url) as session:
        sweep = get_run(session, uuid)
        return [(dict((child.meta_info or {}).get("matrix", {})), child.status)
                for child in session.scalars(select(Run).where(Run.pipeline_id == sweep.id))]


def wait_final(uuid: str, timeout: float) -> None:
    """Poll the sweep's status (every half second: a sweep's trials need the CPU) until final."""
    from polyaxon_core.lifecycle import is_final

    deadline = time.monotonic() + timeout
    while not is_final(sweep_status(uuid)):
        if time.monotonic() > deadline:
            raise AssertionError(f"sweep {uuid} is still {sweep_status(uuid)} after {timeout:g}s")
        time.sleep(0.5)


def shown(cli: Cli, uuid: str) -> dict[str, Any]:
    """``polyaxon ops get UUID -o json``."""
    return dict(json.loads(cli("ops", "get", uuid, "-o", "json").stdout))


def trials_of(cli: Cli, uuid: str) -> list[dict[str, Any]]:
    """Every trial of the sweep, as ``polyaxon ops ls -q pipeline:UUID -o json`` lists them."""
    listed = json.loads(cli("ops", "ls", "-q", f"pipeline:{uuid}", "-l", "10000", "-o", "json").stdout)
    assert listed["count"] == len(listed["results"])
    return sorted(listed["results"], key=lambda trial: trial["meta_info"]["matrix"]["index"])


def timeline(cli: Cli, uuid: str) -> dict[tuple[str, str | None], str | None]:
    """``(status, reason) -> message`` of ``polyaxon ops statuses UUID -o json``."""
    statuses = json.loads(cli("ops", "statuses", uuid, "-o", "json").stdout)["status_conditions"]
    return {(entry["status"], entry["reason"]): entry["message"] for entry in statuses}
