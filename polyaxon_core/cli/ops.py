from __future__ import annotations

import sys
import time
from typing import Any

import click

from polyaxon_core.cli.common import (
    console,
    database,
    domain_errors,
    humanize_duration,
    humanize_time,
    output_option,
    print_json,
    project_option,
    settings,
    styled_status,
)

uid_argument = click.argument("uid", metavar="UUID")


def _optional_project(session: Any, project_name: str | None) -> Any:
    """The project to scope a command to: explicit, configured, or none (all projects)."""
    from polyaxon_core.cli.common import default_project_name
    from polyaxon_core.cli.errors import CliError
    from polyaxon_core.runs import get_project

    try:
        name = default_project_name(project_name)
    except CliError:
        return None
    return get_project(session, name)


@click.group("ops")
def ops_command() -> None:
    """List, inspect, follow, stop, restart and delete runs (operations)."""


@ops_command.command("ls")
@project_option
@click.option("-q", "--query", help='Filter, e.g. "status:succeeded, metrics.loss:<0.1".')
@click.option("-s", "--sort", help='Sort, e.g. "-metrics.val_accuracy,created_at".')
@click.option("-l", "--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True)
@output_option
@domain_errors
def ls(project_name: str | None, query: str | None, sort: str | None, limit: int,
       offset: int, output: str) -> None:
    """List runs, newest first, filtered with Polyaxon's query language.

    Without -p (and no configured project) runs of every project are listed.
    """
    from sqlalchemy import func, select
    from sqlalchemy.orm import selectinload

    from polyaxon_core.db.models import Run
    from polyaxon_core.query import apply_query, apply_sort, parse_query, parse_sort
    from polyaxon_core.runs import run_as_dict

    parsed_query = parse_query(query) if query else None
    parsed_sort = parse_sort(sort) if sort else None
    with database() as session:
        project = _optional_project(session, project_name)
        statement = select(Run)
        if project is not None:
            statement = statement.where(Run.project_id == project.id)
        if parsed_query is not None:
            statement = apply_query(statement, parsed_query)
        total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
        statement = apply_sort(statement, parsed_sort) if parsed_sort else statement
        statement = statement.order_by(Run.created_at.desc(), Run.id.desc())
        rows = session.scalars(
            statement.options(selectinload(Run.project), selectinload(Run.pipeline),
                              selectinload(Run.original))
            .offset(offset).limit(limit)
        ).all()
        results = [run_as_dict(run) for run in rows]
    if output == "json":
        print_json({"count": total, "results": results, "offset": offset, "limit": limit})
        return
    sorted_metrics = [key.key for key in parsed_sort or () if key.field == "metrics"]
    _print_runs_table(results, total, offset, show_project=project is None,
                      first_metrics=sorted_metrics)


def _metric_columns(results: list[dict[str, Any]], first: list[str], most: int = 3) -> list[str]:
    seen: dict[str, int] = {}
    for row in results:
        for name in row["metrics"]:
            seen[name] = seen.get(name, 0) + 1
    others = sorted((n for n in seen if n not in first), key=lambda name: (-seen[name], name))
    return [*first, *others][:max(most, len(first))]


def _param_columns(results: list[dict[str, Any]]) -> list[str]:
    """The search parameters, when every listed run is a trial of a sweep."""
    params = [row["meta_info"].get("matrix", {}).get("params") for row in results]
    if not results or not all(params):
        return []
    return sorted({name for row_params in params for name in row_params})


def _print_runs_table(results: list[dict[str, Any]], total: int, offset: int,
                      show_project: bool, first_metrics: list[str]) -> None:
    from rich.table import Table

    metrics = _metric_columns(results, first_metrics)
    params = _param_columns(results)
    shown = f"{offset + 1}-{offset + len(results)} of {total}" if results else f"0 of {total}"
    table = Table(title=f"Runs ({shown})", title_justify="left")
    # trials of a sweep: a leaderboard, where the parameters matter more than name and kind
    base = (["uuid", "status", "duration"] if params else
            ["uuid", "name", *(["project"] if show_project else []), "kind", "status", "created",
             "duration"])
    for column in [*base, *params, *metrics]:
        table.add_column(column, justify="right" if column in metrics else "left")
    for row in results:
        cells = {"uuid": row["uuid"][:12], "name": row["name"] or "-", "project": row["project"],
                 "kind": row["kind"], "status": styled_status(row["status"]),
                 "created": humanize_time(row["created_at"]),
                 "duration": humanize_duration(row["duration"])}
        values = [cells[column] for column in base]
        values += [_format_value(row["meta_info"]["matrix"]["params"].get(name)) for name in params]
        values += [_format_value(row["metrics"].get(name)) for name in metrics]
        table.add_row(*values)
    console().print(table)


def _format_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@ops_command.command("get")
@uid_argument
@project_option
@click.option("-w", "--watch", is_flag=True, help="Follow the run until it ends.")
@output_option
@domain_errors
def get(uid: str, project_name: str | None, watch: bool, output: str) -> None:
    """Show a run: status, inputs, outputs, last metrics; a sweep's progress and trials."""
    from sqlalchemy import select

    from polyaxon_core.db.models import Run
    from polyaxon_core.runs import get_run, run_as_dict

    with database() as session:
        run = get_run(session, uid, _optional_project(session, project_name))
        data = run_as_dict(run)
        data["trials"] = [
            {"index": child.matrix_index, "uuid": child.uuid, "status": child.status,
             "params": (child.meta_info or {}).get("matrix", {}).get("params", {}),
             "metrics": dict(child.last_metrics or {})}
            for child in session.scalars(
                select(Run).where(Run.pipeline_id == run.id).order_by(Run.matrix_index))
        ] if run.kind == "matrix" else []
        data["message"] = run.conditions[-1].message if run.conditions else None
    if watch:
        from polyaxon_core.cli.watch import watch_run

        status = watch_run(data["uuid"])
        raise SystemExit(0 if status == "succeeded" else 1)
    if output == "json":
        print_json(data)
        return
    _print_run(data)


def _print_run(data: dict[str, Any]) -> None:
    from rich.table import Table

    out = console()
    table = Table(show_header=False, box=None, title=f"Run {data['uuid']}", title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    rows: list[tuple[str, str]] = [
        ("name", data["name"] or "-"),
        ("project", data["project"]),
        ("kind", f"{data['kind']} ({data['runtime']})" if data["runtime"] != data["kind"] else data["kind"]),
        ("status", styled_status(data["status"]) + (f" — {data['message']}" if data["message"] else "")),
        ("tags", ", ".join(data["tags"]) or "-"),
        ("pipeline", data["pipeline"] or "-"),
        ("original", f"{data['original']} ({data['cloning_kind']})" if data["original"] else "-"),
        ("created", humanize_time(data["created_at"])),
        ("started", humanize_time(data["started_at"])),
        ("finished", humanize_time(data["finished_at"])),
        ("duration", humanize_duration(data["duration"])),
        ("retries", str(data["retries"])),
    ]
    for section in ("inputs", "outputs", "metrics"):
        values = data[section]
        rows.append((section, ", ".join(f"{k}={_format_value(v)}" for k, v in sorted(values.items())) or "-"))
    optimizer = data["meta_info"].get("optimizer")
    if optimizer:
        rows.append(("search", ", ".join(f"{k}={_format_value(v)}" for k, v in optimizer.items()
                                          if not isinstance(v, dict | list))))
    for key, value in rows:
        table.add_row(key, value)
    out.print(table)
    if data["trials"]:
        from polyaxon_core.cli.watch import sweep_table

        out.print(sweep_table({**data, "optimizer": optimizer or {}}, limit=len(data["trials"])))


@ops_command.command("statuses")
@uid_argument
@project_option
@output_option
@domain_errors
def statuses(uid: str, project_name: str | None, output: str) -> None:
    """Show a run's status timeline."""
    from polyaxon_core.runs import get_run

    with database() as session:
        run = get_run(session, uid, _optional_project(session, project_name))
        timeline = [
            {"status": c.status, "reason": c.reason, "message": c.message,
             "last_transition_time": c.created_at}
            for c in run.conditions
        ]
        uuid = run.uuid
    if output == "json":
        print_json({"uuid": uuid, "status": timeline[-1]["status"] if timeline else None,
                    "status_conditions": timeline})
        return
    from rich.table import Table

    table = Table(title=f"Statuses of {uuid}", title_justify="left")
    for column in ("time", "status", "reason", "message"):
        table.add_column(column)
    for row in timeline:
        table.add_row(humanize_time(row["last_transition_time"]), styled_status(row["status"]),
                      row["reason"] or "", row["message"] or "")
    console().print(table)


@ops_command.command("logs")
@uid_argument
@project_option
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until the run ends.")
@domain_errors
def logs(uid: str, project_name: str | None, follow: bool) -> None:
    """Print a run's logs (stdout and stderr of its process)."""
    from polyaxon_core.lifecycle import is_final
    from polyaxon_core.plugins import create
    from polyaxon_core.runs import get_run

    current = settings()
    store = create("store", current.store, current)
    with database() as session:
        run = get_run(session, uid, _optional_project(session, project_name))
        uuid, status = run.uuid, run.status
    offset = 0
    while True:
        chunk = store.read_log(uuid, offset)
        if chunk.data:
            sys.stdout.write(chunk.data.decode(errors="replace"))
            sys.stdout.flush()
            offset = chunk.next_offset
        if not follow or is_final(status):
            if follow:  # the log may have grown between the last read and the final status
                sys.stdout.write(store.read_log(uuid, offset).data.decode(errors="replace"))
            break
        time.sleep(current.poll_interval)
        with database() as session:
            status = get_run(session, uuid).status


@ops_command.command("metrics")
@uid_argument
@project_option
@click.option("-n", "--name", "names", multiple=True, help="Only these metrics (repeatable).")
@output_option
@domain_errors
def metrics(uid: str, project_name: str | None, names: tuple[str, ...], output: str) -> None:
    """Print the metrics a run logged, step by step (available while it runs)."""
    from sqlalchemy import select

    from polyaxon_core.db.models import Metric
    from polyaxon_core.runs import get_run

    with database() as session:
        run = get_run(session, uid, _optional_project(session, project_name))
        statement = select(Metric).where(Metric.run_id == run.id)
        if names:
            statement = statement.where(Metric.name.in_(names))
        rows = session.scalars(statement.order_by(Metric.name, Metric.step, Metric.id)).all()
        series: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            series.setdefault(row.name, []).append(
                {"step": row.step, "value": row.value, "timestamp": row.timestamp})
        uuid = run.uuid
    if output == "json":
        print_json({"uuid": uuid, "metrics": series})
        return
    from rich.table import Table

    steps = sorted({p["step"] for points in series.values() for p in points},
                   key=lambda s: (s is None, s))
    table = Table(title=f"Metrics of {uuid}", title_justify="left")
    table.add_column("step", justify="right")
    for name in sorted(series):
        table.add_column(name, justify="right")
    by_step = {name: {p["step"]: p["value"] for p in points} for name, points in series.items()}
    for step in steps:
        table.add_row("-" if step is None else str(step),
                      *[_format_value(by_step[name].get(step)) for name in sorted(series)])
    console().print(table)


def _confirm(message: str, yes: bool) -> None:
    if not yes:
        click.confirm(message, abort=True)


@ops_command.command("stop")
@uid_argument
@project_option
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@domain_errors
def stop(uid: str, project_name: str | None, yes: bool) -> None:
    """Stop a run (SIGTERM, then SIGKILL after the grace period); a sweep stops its trials."""
    from polyaxon_core.orchestrator import ensure_orchestrator
    from polyaxon_core.runs import get_run, request_stop

    with database() as session:
        run = get_run(session, uid, _optional_project(session, project_name))
        _confirm(f"Stop run {run.uuid[:12]} ({run.name or run.kind})?", yes)
        request_stop(session, run)
        uuid, status = run.uuid, run.status
    ensure_orchestrator(settings())
    click.echo(f"Run {uuid[:12]} is {status}.")


@ops_command.command("restart")
@uid_argument
@project_option
@click.option("--copy", is_flag=True,
              help="Start the new run with a copy of this run's artifacts and outputs.")
@output_option
@domain_errors
def restart(uid: str, project_name: str | None, copy: bool, output: str) -> None:
    """Run again as a new run with the same content and inputs."""
    from polyaxon_core.orchestrator import ensure_orchestrator
    from polyaxon_core.plugins import create
    from polyaxon_core.runs import clone_run, get_run, run_as_dict

    current = settings()
    with database() as session:
        original = get_run(session, uid, _optional_project(session, project_name))
        run = clone_run(session, original, "copy" if copy else "restart")
        data = run_as_dict(run)
        if copy:
            store = create("store", current.store, current)
            for info in store.walk(original.uuid):
                with store.open(original.uuid, info.path) as stream:
                    store.put_stream(run.uuid, stream, info.path)
    ensure_orchestrator(current)
    if output == "json":
        print_json(data)
    else:
        click.echo(f"Run {data['uuid']} queued ({data['cloning_kind']} of {data['original'][:12]}).")


@ops_command.command("resume")
@uid_argument
@project_option
@domain_errors
def resume(uid: str, project_name: str | None) -> None:
    """Run a finished run again in place (same uuid, same artifacts folder)."""
    from polyaxon_core.orchestrator import ensure_orchestrator
    from polyaxon_core.runs import get_run, resume_run

    with database() as session:
        run = resume_run(session, get_run(session, uid, _optional_project(session, project_name)))
        uuid = run.uuid
    ensure_orchestrator(settings())
    click.echo(f"Run {uuid[:12]} resumed and queued.")


@ops_command.command("delete")
@uid_argument
@project_option
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@domain_errors
def delete(uid: str, project_name: str | None, yes: bool) -> None:
    """Delete a finished run (a sweep with its trials), its logs and artifacts."""
    from polyaxon_core.plugins import create
    from polyaxon_core.runs import delete_run, get_run

    current = settings()
    with database() as session:
        run = get_run(session, uid, _optional_project(session, project_name))
        _confirm(f"Delete run {run.uuid[:12]} ({run.name or run.kind}) and its artifacts?", yes)
        uuids = delete_run(session, run)
    store = create("store", current.store, current)
    for uuid in uuids:
        store.delete_run(uuid)
        run_path = current.runs_path / uuid
        if run_path.exists():
            import shutil

            shutil.rmtree(run_path, ignore_errors=True)
    click.echo(f"Deleted {len(uuids)} run(s).")

