"""Live views: a job's logs as they come, a sweep's progress and best trials, a DAG's
operations as a tree."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from polyaxon_core.cli.common import console, platform, settings, styled_status
from polyaxon_core.lifecycle import is_final

if TYPE_CHECKING:
    from polyaxon_core.client.platform import Platform


def _snapshot(where: Platform, uuid: str, project: str | None) -> dict[str, Any]:
    run = where.get_run(uuid, project)
    return {**run, "optimizer": dict((run.get("meta_info") or {}).get("optimizer", {}))}


def watch_run(uuid: str, project: str | None) -> str:
    """Follow a run until it is final; returns its final status."""
    where = platform()
    snapshot = _snapshot(where, uuid, project)
    notice = None if is_final(snapshot["status"]) else where.waiting_notice()
    if notice:
        click.echo(f"Note: {notice}", err=True)
    if snapshot["kind"] == "matrix":
        return _watch(where, snapshot, project, sweep_table, _progress_line, "Sweep")
    if snapshot["kind"] == "dag":
        return _watch(where, snapshot, project, dag_tree, _dag_line, "DAG")
    return _follow_job(where, snapshot, project)


def _follow_job(where: Platform, snapshot: dict[str, Any], project: str | None) -> str:
    for text in where.follow_logs(snapshot["uuid"], project):
        sys.stdout.write(text)
        sys.stdout.flush()
    final = _snapshot(where, snapshot["uuid"], project)
    status = str(final["status"])
    detail = f": {final['message']}" if final.get("message") and status != "succeeded" else ""
    console().print(f"Run {snapshot['uuid'][:12]} {styled_status(status)}{detail}")
    return status


def sweep_table(snapshot: dict[str, Any], limit: int = 8) -> Any:
    """The sweep's progress and ``limit`` of its trials, unfinished first, then the latest
    finished; a caption says how many more there are and where to see them all."""
    from rich.table import Table

    trials = snapshot["trials"]
    finished = sum(1 for t in trials if is_final(t["status"]))
    total = snapshot["optimizer"].get("planned") or "?"
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial["status"]] = counts.get(trial["status"], 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no trials yet"
    table = Table(
        title=f"{snapshot.get('name') or 'sweep'} [{styled_status(snapshot['status'])}] "
              f"{finished}/{total} trials done ({summary})",
        title_justify="left",
        caption=(f"{limit} of {len(trials)} trials shown (unfinished first, then the latest "
                 f"finished); all of them: polyaxon ops get {snapshot['uuid'][:12]}"
                 if len(trials) > limit else None),
        caption_justify="left",
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


def dag_tree(snapshot: dict[str, Any]) -> Any:
    """The DAG and its operations, nested DAGs below theirs, with statuses."""
    from rich.tree import Tree

    operations = snapshot.get("operations") or []
    tree = Tree(f"{snapshot.get('name') or 'dag'} {snapshot['uuid'][:12]} "
                f"[{styled_status(snapshot['status'])}] {_dag_counts(operations)}")
    _add_operations(tree, operations)
    return tree


def _add_operations(tree: Any, operations: list[dict[str, Any]]) -> None:
    for operation in operations:
        label = (f"{operation['name']}  {operation['uuid'][:12]}  {operation.get('kind')}  "
                 f"{styled_status(str(operation['status']))}")
        if operation.get("reused"):
            label += "  (reused: succeeded in the DAG this one restarts)"
        trials = operation.get("trials")
        if trials is not None:
            label += "  trials: " + (", ".join(f"{n} {s}" for s, n in sorted(trials.items()))
                                     or "none yet")
        branch = tree.add(label)
        _add_operations(branch, operation.get("operations") or [])


def _dag_counts(operations: list[dict[str, Any]]) -> str:
    done = sum(1 for operation in operations if is_final(str(operation["status"])))
    return f"{done}/{len(operations)} operations done"


def _dag_line(snapshot: dict[str, Any]) -> str:
    operations = snapshot.get("operations") or []
    counts: dict[str, int] = {}
    for operation in operations:
        counts[str(operation["status"])] = counts.get(str(operation["status"]), 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    return f"dag {snapshot['uuid'][:12]} {snapshot['status']}: {_dag_counts(operations)} ({summary})"


def _watch(where: Platform, snapshot: dict[str, Any], project: str | None,
           view: Callable[[dict[str, Any]], Any], line: Callable[[dict[str, Any]], str],
           what: str) -> str:
    """Follow a sweep or a DAG: a live ``view`` on a terminal, a ``line`` per change elsewhere."""
    interval = settings().poll_interval
    out = console()

    def refresh() -> dict[str, Any]:
        where.keep_going()
        time.sleep(interval)
        return _snapshot(where, snapshot["uuid"], project)

    if out.is_terminal:
        from rich.live import Live

        with Live(view(snapshot), console=out, refresh_per_second=4) as live:
            while not is_final(snapshot["status"]):
                snapshot = refresh()
                live.update(view(snapshot))
    else:
        # logs and pipes get one line per change instead of a redrawn table
        last = ""
        while True:
            current = line(snapshot)
            if current != last:
                click.echo(current)
                last = current
            if is_final(snapshot["status"]):
                break
            snapshot = refresh()
        out.print(view(snapshot))
    click.echo(f"{what} {snapshot['uuid'][:12]} {snapshot['status']}"
               + (f": {snapshot['message']}" if snapshot.get("message") else ""))
    return str(snapshot["status"])
