"""Live views: a job's logs as they come, a sweep's progress and best trials."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from polyaxon_core.cli.common import console, database, settings, styled_status
from polyaxon_core.lifecycle import is_final


def _snapshot(uuid: str) -> dict[str, Any]:
    from sqlalchemy import select

    from polyaxon_core.db.models import Run
    from polyaxon_core.runs import get_run

    with database() as session:
        run = get_run(session, uuid)
        children = list(session.scalars(
            select(Run).where(Run.pipeline_id == run.id).order_by(Run.matrix_index)
        ))
        return {
            "uuid": run.uuid,
            "name": run.name,
            "kind": run.kind,
            "status": run.status,
            "optimizer": dict((run.meta_info or {}).get("optimizer", {})),
            "message": run.conditions[-1].message if run.conditions else None,
            "trials": [
                {"index": c.matrix_index, "uuid": c.uuid, "status": c.status,
                 "params": (c.meta_info or {}).get("matrix", {}).get("params", {}),
                 "metrics": dict(c.last_metrics or {})}
                for c in children
            ],
        }


def _keep_orchestrator_alive() -> None:
    from polyaxon_core.orchestrator import ensure_orchestrator

    ensure_orchestrator(settings())


def watch_run(uuid: str) -> str:
    """Follow a run until it is final; returns its final status."""
    snapshot = _snapshot(uuid)
    if snapshot["kind"] == "matrix":
        return _watch_sweep(snapshot)
    return _follow_job(snapshot)


def _follow_job(snapshot: dict[str, Any]) -> str:
    from polyaxon_core.plugins import create

    current = settings()
    store = create("store", current.store, current)
    offset = 0
    status = snapshot["status"]
    while True:
        chunk = store.read_log(snapshot["uuid"], offset)
        if chunk.data:
            sys.stdout.write(chunk.data.decode(errors="replace"))
            sys.stdout.flush()
            offset = chunk.next_offset
        if is_final(status):
            # one last read after the final status: the runner writes the log first
            chunk = store.read_log(snapshot["uuid"], offset)
            sys.stdout.write(chunk.data.decode(errors="replace"))
            break
        _keep_orchestrator_alive()
        time.sleep(current.poll_interval)
        status = _snapshot(snapshot["uuid"])["status"]
    final = _snapshot(snapshot["uuid"])
    detail = f": {final['message']}" if final["message"] and status != "succeeded" else ""
    console().print(f"Run {snapshot['uuid'][:12]} {styled_status(status)}{detail}")
    return str(status)


def sweep_table(snapshot: dict[str, Any], limit: int = 8) -> Any:
    from rich.table import Table

    trials = snapshot["trials"]
    finished = sum(1 for t in trials if is_final(t["status"]))
    total = snapshot["optimizer"].get("planned") or "?"
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial["status"]] = counts.get(trial["status"], 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no trials yet"
    table = Table(
        title=f"{snapshot['name'] or 'sweep'} [{styled_status(snapshot['status'])}] "
              f"{finished}/{total} trials done ({summary})",
        title_justify="left",
    )
    table.add_column("#", justify="right")
    table.add_column("status")
    table.add_column("params")
    table.add_column("metrics")
    recent = [t for t in trials if not is_final(t["status"])] + [
        t for t in reversed(trials) if is_final(t["status"])
    ]
    for trial in recent[:limit]:
        params = ", ".join(f"{k}={_short(v)}" for k, v in sorted(trial["params"].items()))
        metrics = ", ".join(f"{k}={_short(v)}" for k, v in sorted(trial["metrics"].items()))
        table.add_row(str(trial["index"]), styled_status(trial["status"]), params, metrics)
    return table


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _progress_line(snapshot: dict[str, Any]) -> str:
    trials = snapshot["trials"]
    finished = sum(1 for t in trials if is_final(t["status"]))
    succeeded = sum(1 for t in trials if t["status"] == "succeeded")
    running = sum(1 for t in trials if not is_final(t["status"]))
    total = snapshot["optimizer"].get("planned") or "?"
    return (f"sweep {snapshot['uuid'][:12]} {snapshot['status']}: {finished}/{total} trials done "
            f"({succeeded} succeeded), {running} in flight")


def _watch_sweep(snapshot: dict[str, Any]) -> str:
    current = settings()
    out = console()
    if out.is_terminal:
        from rich.live import Live

        with Live(sweep_table(snapshot), console=out, refresh_per_second=4) as live:
            while not is_final(snapshot["status"]):
                _keep_orchestrator_alive()
                time.sleep(current.poll_interval)
                snapshot = _snapshot(snapshot["uuid"])
                live.update(sweep_table(snapshot))
    else:
        # logs and pipes get one line per change instead of a redrawn table
        last = ""
        while True:
            line = _progress_line(snapshot)
            if line != last:
                click.echo(line)
                last = line
            if is_final(snapshot["status"]):
                break
            _keep_orchestrator_alive()
            time.sleep(current.poll_interval)
            snapshot = _snapshot(snapshot["uuid"])
        out.print(sweep_table(snapshot))
    click.echo(f"Sweep {snapshot['uuid'][:12]} {snapshot['status']}"
               + (f": {snapshot['message']}" if snapshot["message"] else ""))
    return str(snapshot["status"])
