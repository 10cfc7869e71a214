from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from polyaxon_core.cli.common import (
    console,
    default_project_name,
    domain_errors,
    humanize_duration,
    humanize_time,
    optional_project_name,
    output_option,
    platform,
    print_json,
    project_option,
    run_project_name,
    run_uid_argument,
    styled_status,
    to_jsonable,
)
from polyaxon_core.cli.errors import CliError
from polyaxon_core.errors import InvalidRequest

uid_argument = run_uid_argument


@click.group("ops")
def ops_command() -> None:
    """List, inspect, follow, stop, restart, archive and delete runs (operations)."""


@ops_command.command("ls")
@project_option
@click.option("-q", "--query", help='Filter, e.g. "status:succeeded, metrics.loss:<0.1".')
@click.option("-s", "--sort", help='Sort, e.g. "-metrics.val_accuracy,created_at".')
@click.option("-l", "--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--offset", "-off", type=click.IntRange(0), default=0, show_default=True)
@click.option("--archived", is_flag=True, help="List archived runs (and only those).")
@output_option
@domain_errors
def ls(project_name: str | None, query: str | None, sort: str | None, limit: int,
       offset: int, archived: bool, output: str) -> None:
    """List runs, newest first, filtered with Polyaxon's query language.

    Without -p (and no configured project) runs of every project are listed. Archived
    runs are listed only with --archived.
    """
    from polyaxon_core.query import parse_query, parse_sort

    # parsed here too: a mistake is shown with its position before any request is sent
    parsed_sort = parse_sort(sort) if sort else None
    if query:
        parse_query(query)
    project = optional_project_name(project_name)
    total, results = platform().list_runs(project, query=query, sort=sort, offset=offset,
                                          limit=limit, archived=archived)
    if output == "json":
        print_json({"count": total, "results": results, "offset": offset, "limit": limit})
        return
    sorted_metrics = [key.key for key in parsed_sort or () if key.field == "metrics" and key.key]
    _print_runs_table(results, total, offset, show_project=project is None,
                      first_metrics=sorted_metrics)


def _metric_columns(results: list[dict[str, Any]], first: list[str], most: int = 3) -> list[str]:
    seen: dict[str, int] = {}
    for row in results:
        for name in row.get("metrics") or {}:
            seen[name] = seen.get(name, 0) + 1
    others = sorted((n for n in seen if n not in first), key=lambda name: (-seen[name], name))
    return [*first, *others][:max(most, len(first))]


def _param_columns(results: list[dict[str, Any]]) -> list[str]:
    """The search parameters, when every listed run is a trial of a sweep."""
    params = [(row.get("meta_info") or {}).get("matrix", {}).get("params") for row in results]
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
        cells = {"uuid": row["uuid"][:12], "name": row.get("name") or "-",
                 "project": row.get("project") or "-", "kind": row["kind"],
                 "status": styled_status(row["status"]) + _pending(row),
                 "created": humanize_time(row.get("created_at")),
                 "duration": humanize_duration(row.get("duration"))}
        values = [cells[column] for column in base]
        values += [_format_value(_trial_param(row, name)) for name in params]
        values += [_format_value((row.get("metrics") or {}).get(name)) for name in metrics]
        table.add_row(*values)
    console().print(table)


def _trial_param(row: dict[str, Any], name: str) -> Any:
    """The value a trial ran with for the parameter ``name``: the one the optimizer
    suggested, else its input (a value the sweep fixed rather than searched)."""
    suggested = row["meta_info"]["matrix"]["params"]
    return suggested[name] if name in suggested else (row.get("inputs") or {}).get(name)


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
    """Show a run: status, inputs, outputs, last metrics; a sweep's progress and trials; a
    DAG's operations as a tree."""
    project = run_project_name(project_name)
    data = platform().get_run(uid, project)
    if watch:
        from polyaxon_core.cli.watch import watch_run

        status = watch_run(data["uuid"], project)
        raise SystemExit(0 if status == "succeeded" else 1)
    if output == "json":
        print_json(data)
        return
    _print_run(data)


def _reference(value: Any) -> str | None:
    """A related run as the API may give it: its uuid, or an object with one."""
    if isinstance(value, dict):
        return str(value.get("uuid")) if value.get("uuid") else None
    return str(value) if value else None


def _print_run(data: dict[str, Any]) -> None:
    from rich.table import Table

    out = console()
    table = Table(show_header=False, box=None, title=f"Run {data['uuid']}", title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    rows: list[tuple[str, str]] = [
        ("name", data.get("name") or "-"),
        ("project", data.get("project") or "-"),
        ("kind", f"{data['kind']} ({data['runtime']})"
         if data.get("runtime") not in (None, data["kind"]) else data["kind"]),
        ("status", styled_status(data["status"]) + _pending(data)
         + (f" — {data['message']}" if data.get("message") else "")),
        ("tags", ", ".join(data.get("tags") or []) or "-"),
        ("pipeline", _reference(data.get("pipeline")) or "-"),
        ("original", f"{_reference(data['original'])} ({data.get('cloning_kind')})"
         if data.get("original") else "-"),
        ("created", humanize_time(data.get("created_at"))),
        ("started", humanize_time(data.get("started_at"))),
        ("finished", humanize_time(data.get("finished_at"))),
        ("duration", humanize_duration(data.get("duration"))),
        ("retries", str(data.get("retries", 0))),
    ]
    for section in ("inputs", "outputs", "metrics"):
        values = data.get(section) or {}
        rows.append((section, ", ".join(f"{k}={_format_value(v)}" for k, v in sorted(values.items())) or "-"))
    optimizer = (data.get("meta_info") or {}).get("optimizer")
    if optimizer:
        rows.append(("search", ", ".join(f"{k}={_format_value(v)}" for k, v in optimizer.items()
                                          if not isinstance(v, dict | list))))
    for key, value in rows:
        table.add_row(key, value)
    out.print(table)
    if data.get("trials"):
        from polyaxon_core.cli.watch import sweep_table

        out.print(sweep_table({**data, "optimizer": optimizer or {}}, limit=len(data["trials"])))
    if data.get("kind") == "dag":
        from polyaxon_core.cli.watch import dag_tree

        out.print(dag_tree(data))
    if data.get("lineage"):
        out.print(_lineage_table(data["lineage"]))
    if data.get("notifications"):
        out.print(_notifications_table(data["notifications"]))


def _lineage_summary(row: dict[str, Any]) -> str:
    """The few words that tell a lineage row from another of its kind."""
    summary = row.get("summary") or {}
    if row["kind"] == "code":
        commit = str(summary.get("commit") or "")[:12]
        return f"{commit} {summary.get('branch') or ''}{' (dirty)' if summary.get('is_dirty') else ''}"
    if row["kind"] == "data":
        return str(summary.get("hash") or "")[:19]
    parts = [f"{summary['steps']} steps"] if summary.get("steps") else []
    for key in ("auc", "average_precision"):
        if isinstance(summary.get(key), float):
            parts.append(f"{key}={summary[key]:.4g}")
    return ", ".join(parts)


def _lineage_table(rows: list[dict[str, Any]]) -> Any:
    """What the run logged: each artifact's kind, path and size."""
    from rich.table import Table

    from polyaxon_core.cli.common import humanize_bytes

    table = Table(title="Lineage", title_justify="left")
    for column in ("name", "kind", "path", "size", "details"):
        table.add_column(column, overflow="fold")
    for row in rows:
        size = (row.get("summary") or {}).get("size")
        table.add_row(row["name"], row["kind"], row["path"],
                      humanize_bytes(size) if isinstance(size, int) else "-", _lineage_summary(row))
    return table


def _notifications_table(deliveries: list[dict[str, Any]]) -> Any:
    """What the run's hooks owe and how each delivery went."""
    from rich.table import Table

    table = Table(title="Notifications", title_justify="left")
    for column in ("source", "connection", "trigger", "status", "attempts", "last error"):
        table.add_column(column)
    for delivery in deliveries:
        table.add_row(delivery["source"], delivery["connection"], delivery["trigger"],
                      delivery["status"], str(delivery["attempts"]), delivery.get("last_error") or "-")
    return table


@ops_command.command("statuses")
@uid_argument
@project_option
@click.option("-w", "--watch", is_flag=True,
              help="Print each new status as it comes, until the run ends; exit 1 unless it "
                   "succeeds (with -o json: one JSON object a line).")
@output_option
@domain_errors
def statuses(uid: str, project_name: str | None, watch: bool, output: str) -> None:
    """Show a run's status timeline."""
    if watch:
        status = _watch_statuses(uid, run_project_name(project_name), output)
        raise SystemExit(0 if status == "succeeded" else 1)
    answer = platform().statuses(uid, run_project_name(project_name))
    uuid, timeline = answer["uuid"], answer["status_conditions"]
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


def _watch_statuses(uid: str, project: str | None, output: str) -> str:
    """Print the timeline, then each new condition, until the run's status is final."""
    import time

    from polyaxon_core.cli.common import settings
    from polyaxon_core.lifecycle import is_final

    where = platform()
    interval = settings().poll_interval
    shown = 0
    while True:
        timeline = where.statuses(uid, project)["status_conditions"]
        for row in timeline[shown:]:
            if output == "json":
                click.echo(json.dumps(to_jsonable(row), sort_keys=True))
            else:
                click.echo("  ".join(part for part in (
                    humanize_time(row["last_transition_time"]), row["status"],
                    row["reason"] or "", row["message"] or "") if part))
        shown = len(timeline)
        status = str(timeline[-1]["status"]) if timeline else ""
        if status and is_final(status):
            return status
        where.keep_going()
        time.sleep(interval)  # the next look at the timeline


@ops_command.command("artifacts")
@uid_argument
@project_option
@click.option("--path", "path", default="", help="A folder (or, with --download, a file) of the "
              "run's artifacts; the whole run by default.")
@click.option("--download", "download", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Download into this folder, keeping the paths, instead of listing.")
@output_option
@domain_errors
def artifacts(uid: str, project_name: str | None, path: str, download: Path | None,
              output: str) -> None:
    """List a run's artifacts (one folder level), or download them (--download DIR)."""
    project = run_project_name(project_name)
    where = platform()
    uuid = where.get_run(uid, project)["uuid"]
    try:
        entries, is_file = where.list_artifacts(uuid, project, path), False
    except (NotADirectoryError, InvalidRequest) as exc:
        if isinstance(exc, InvalidRequest) and "is a file" not in str(exc):
            raise
        entries, is_file = [], True
    if download is None and is_file:
        raise CliError(f"{path!r} is a file of run {uuid[:12]}: --download DIR downloads it")
    if download is None:
        if output == "json":
            print_json(entries)
            return
        if not entries:
            click.echo(f"run {uuid[:12]} has no artifact under {path!r}" if path
                       else f"run {uuid[:12]} has no artifacts")
            return
        for entry in entries:
            click.echo(f"{entry['path']}/" if entry["is_dir"] else f"{entry['path']}  {entry['size']}")
        return
    files = [path] if is_file else list(_walk(where, uuid, project, entries))
    if not files:
        raise CliError(f"run {uuid[:12]} has no artifact under {path!r}: nothing to download"
                       if path else f"run {uuid[:12]} has no artifacts: nothing to download")
    for file in files:
        target = download / file
        where.download_artifact(uuid, project, file, target)
        click.echo(str(target))


def _walk(where: Any, uuid: str, project: str | None, entries: list[dict[str, Any]]) -> Iterator[str]:
    for entry in entries:
        if entry["is_dir"]:
            yield from _walk(where, uuid, project, where.list_artifacts(uuid, project, entry["path"]))
        else:
            yield str(entry["path"])


@ops_command.command("upload")
@uid_argument
@project_option
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--to", "to", default=None, help="Where in the run's artifacts (default: the name "
              "of SOURCE); a folder's files go under it, keeping their paths.")
@domain_errors
def upload(uid: str, project_name: str | None, source: Path, to: str | None) -> None:
    """Upload a file, or a folder's files, into a run's artifacts (replacing files there):
    for instance what a run kept on disk when its store could not be reached."""
    project = run_project_name(project_name)
    where = platform()
    uuid = where.get_run(uid, project)["uuid"]
    base = (to if to is not None else source.resolve().name).strip("/")
    if source.is_dir():
        files = sorted(file for file in source.rglob("*") if file.is_file())
        pairs = [(file, "/".join(part for part in (base, file.relative_to(source).as_posix()) if part))
                 for file in files]
    else:
        pairs = [(source, base)]
    if not pairs:
        raise CliError(f"{source} has no files to upload")
    for file, target in pairs:
        where.upload_artifact(uuid, project, file, target)
        click.echo(f"{file} -> {target}")


@ops_command.command("push")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@project_option
@click.option("--force", is_flag=True, help="Push a run its process has not ended (it died, "
              "or is still going); it ends failed.")
@output_option
@domain_errors
def push(folder: Path, project_name: str | None, force: bool, output: str) -> None:
    """Store an offline run (a folder written by tracking.init(is_offline=True)) in a
    project: its metrics, files, lineage and status. Pushing it again stores nothing twice."""
    from polyaxon_core.tracking import TrackingError
    from polyaxon_core.tracking.offline import PushError
    from polyaxon_core.tracking.offline import push as push_run

    project = default_project_name(project_name)
    try:
        pushed = push_run(folder, project, force=force)
    except (PushError, TrackingError) as exc:
        raise CliError(str(exc)) from None
    if output == "json":
        print_json(pushed)
        return
    click.echo(f"run {pushed['uuid'][:12]} ({pushed['status']}) pushed to {project}: "
               f"{pushed['points']} metric points, {pushed['files']} files, "
               f"{pushed['lineage']} lineage records")


@ops_command.command("logs")
@uid_argument
@project_option
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until the run ends.")
@click.option("-nf", "--no-follow", "no_follow", is_flag=True,
              help="Print the logs so far and return (the default; the official client's flag).")
@click.option("--hide-time", is_flag=True,
              help="Accepted for the official client's scripts: lines carry no timestamps here.")
@domain_errors
def logs(uid: str, project_name: str | None, follow: bool, no_follow: bool,
         hide_time: bool) -> None:
    """Print a run's logs (stdout and stderr of its process)."""
    if follow and no_follow:
        raise CliError("--follow and --no-follow contradict each other; give one")
    project = run_project_name(project_name)
    where = platform()
    uuid = where.get_run(uid, project)["uuid"]
    if follow:
        for text in where.follow_logs(uuid, project):
            sys.stdout.write(text)
            sys.stdout.flush()
        return
    offset = 0
    while True:
        chunk = where.read_logs(uuid, project, offset)
        if not chunk.data:
            return
        sys.stdout.write(chunk.data)
        offset = chunk.next_offset


def _attempt_choice(context: click.Context, parameter: click.Parameter,
                    value: str | None) -> int | str | None:
    if value is None or value == "all":
        return value
    if value.isdigit() and int(value) >= 1:
        return int(value)
    raise click.BadParameter(f"{value!r} is neither an attempt number (1, 2, ...) nor 'all'")


@ops_command.command("metrics")
@uid_argument
@project_option
@click.option("-n", "--name", "names", multiple=True, help="Only these metrics (repeatable).")
@click.option("--attempt", metavar="N|all", callback=_attempt_choice,
              help="The attempt to show (default: the latest that logged metrics), or all.")
@click.option("--limit", type=click.IntRange(1), help="Only the first N points of each metric.")
@click.option("--tail", type=click.IntRange(1), help="Only the last N points of each metric.")
@output_option
@domain_errors
def metrics(uid: str, project_name: str | None, names: tuple[str, ...],
            attempt: int | str | None, limit: int | None, tail: int | None, output: str) -> None:
    """Print the metrics a run logged, step by step (available while it runs).

    A run retried or resumed logs each attempt apart; the latest attempt is shown unless
    --attempt says otherwise.
    """
    answer = platform().metrics(uid, run_project_name(project_name), names,
                                attempt=attempt, limit=limit, tail=tail)
    if output == "json":
        print_json({key: answer[key] for key in ("uuid", "attempt", "attempts", "metrics")})
        return
    _print_metrics(answer)


def _print_metrics(answer: dict[str, Any]) -> None:
    """The series as one aligned table, a row per step (per attempt and step for every
    attempt), written at once: a run may well have logged 100,000 steps."""
    series: dict[str, list[dict[str, Any]]] = answer["metrics"]
    attempt, attempts = answer.get("attempt"), answer.get("attempts") or []
    title = f"Metrics of {answer['uuid']}"
    if attempt is None and attempts:
        title += ", every attempt"
    elif attempt is not None and len(attempts) > 1:
        title += (f", attempt {attempt} (attempts with metrics: "
                  f"{', '.join(map(str, attempts))}; choose with --attempt)")
    if not series:
        click.echo(f"{title}: none logged" + (f" by attempt {attempt}" if attempt else ""))
        return
    every_attempt = attempt is None
    names = sorted(series)
    by_row: dict[tuple[int, bool, int], list[str]] = {}
    for column, name in enumerate(names):
        for point in series[name]:
            step = point["step"]
            key = (point.get("attempt") or 0 if every_attempt else 0, step is None, step or 0)
            cells = by_row.setdefault(key, [""] * len(names))
            cells[column] = _format_value(point["value"])
    header = [*(["attempt"] if every_attempt else []), "step", *names]
    rows = [[*([str(key[0])] if every_attempt else []), "-" if key[1] else str(key[2]),
             *(cell or "-" for cell in cells)]
            for key, cells in sorted(by_row.items())]
    widths = [max(len(header[index]), *(len(row[index]) for row in rows))
              for index in range(len(header))]
    lines = [title, "  ".join(name.rjust(width) for name, width in zip(header, widths, strict=True)),
             "  ".join("-" * width for width in widths)]
    lines += ["  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    sys.stdout.write("\n".join(lines) + "\n")


def _confirm(message: str, yes: bool) -> None:
    from polyaxon_core.cli.common import confirm_or_refuse

    confirm_or_refuse(message, yes)


@ops_command.command("stop")
@uid_argument
@project_option
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@domain_errors
def stop(uid: str, project_name: str | None, yes: bool) -> None:
    """Stop a run (SIGTERM, then SIGKILL after the grace period); a sweep stops its trials."""
    project = run_project_name(project_name)
    where = platform()
    run = where.get_run(uid, project)
    _confirm(f"Stop run {run['uuid'][:12]} ({run.get('name') or run['kind']})?", yes)
    stopped = where.stop_run(run["uuid"], project)
    click.echo(f"Run {stopped['uuid'][:12]} is {stopped['status']}.")


@ops_command.command("service")
@uid_argument
@project_option
@click.option("--port", type=int, help="The declared port to reach (default: the first).")
@click.option("--open", "open_browser", is_flag=True, help="Open the URL in the browser.")
@domain_errors
def service(uid: str, project_name: str | None, port: int | None, open_browser: bool) -> None:
    """Print the URL of a service run (a notebook, a TensorBoard); waits until it runs.

    With a server, the URL goes through its proxy, which lets in only users who may read
    the run. On the embedded default (no server), it is the service's own address on this
    machine's loopback.
    """
    project = run_project_name(project_name)
    where = platform()
    show_service_url(where, where.get_run(uid, project), project, port, open_browser)


def show_service_url(where: Any, run: dict[str, Any], project: str | None, port: int | None,
                     open_browser: bool) -> None:
    """Print the URL of service ``run`` (and open it in the browser when asked)."""
    url = service_url(where, run, project, port)
    click.echo(url)
    if open_browser:
        click.launch(url)


def service_url(where: Any, run: dict[str, Any], project: str | None, port: int | None) -> str:
    """The URL of service ``run`` on ``port`` (a declared one; default: the first), once
    it runs: through the server's proxy when there is a server, else its own address."""
    from polyaxon_core.client.credentials import resolve
    from polyaxon_core.lifecycle import is_final

    if run.get("kind") != "service":
        raise CliError(f"run {run['uuid'][:12]} is a {run.get('kind')}, not a service: only a "
                       "`run.kind: service` has a URL")
    announced = False
    while run["status"] != "running":
        if is_final(run["status"]):
            why = f" ({run['message']})" if run.get("message") else ""
            raise CliError(f"run {run['uuid'][:12]} is {run['status']}{why}: its service does not "
                           f"answer; read `polyaxon ops logs {run['uuid'][:12]}`, and start it again "
                           f"with `polyaxon ops restart {run['uuid'][:12]}`")
        if not announced:
            click.echo(f"Waiting for run {run['uuid'][:12]} to be running ({run['status']})...",
                       err=True)
            announced = True
        _pause()
        run = where.get_run(run["uuid"], project)
    described = (run.get("meta_info") or {}).get("service") or {}
    declared = [int(item) for item in described.get("ports") or []]
    urls = list(described.get("base_urls") or [])
    if port is None:
        port = declared[0]
    if port not in declared:
        raise CliError(f"run {run['uuid'][:12]} declares the ports {', '.join(map(str, declared))}, "
                       f"not {port}; pass one of them to --port")
    path = urls[declared.index(port)] + "/"
    credentials = resolve()
    if credentials is not None:
        return credentials.host.rstrip("/") + path
    return _local_service_url(run["uuid"], port, path)


def _pause() -> None:
    import time

    time.sleep(0.1)


def _local_service_url(uuid: str, port: int, path: str) -> str:
    """The address of a service of the embedded default on this machine (no proxy)."""
    from sqlalchemy import select

    from polyaxon_core.cli.common import database
    from polyaxon_core.db.models import Run

    with database() as session:
        handle = session.scalar(select(Run.scheduler_handle).where(Run.uuid == uuid)) or {}
    service = handle.get("service") or {}
    target = (service.get("ports") or {}).get(str(port))
    if target is None:
        raise CliError(f"run {uuid[:12]} was not started by this machine's scheduler: reach it "
                       "through the server that started it (set POLYAXON_HOST)")
    rewrite = path.startswith("/rewrite-services/")
    return f"http://{service['host']}:{target}" + ("/" if rewrite else path)


@ops_command.command("restart")
@uid_argument
@project_option
@click.option("-c", "--copy", is_flag=True,
              help="Start the new run with a copy of this run's artifacts and outputs.")
@click.option("--from-failed", is_flag=True,
              help="Of a finished DAG: run again only the operations that did not succeed "
                   "(the new DAG reads the succeeded ones, outputs included, from this one).")
@output_option
@domain_errors
def restart(uid: str, project_name: str | None, copy: bool, from_failed: bool, output: str) -> None:
    """Run again as a new run with the same content and inputs."""
    project = run_project_name(project_name)
    where = platform()
    original = where.get_run(uid, project)["uuid"]
    data = where.restart_run(original, project, copy, from_failed=from_failed)
    if output == "json":
        print_json(data)
    else:
        kind = "copy" if copy else "restart"
        click.echo(f"Run {data['uuid']} queued ({kind} of {original[:12]}).")


@ops_command.command("resume")
@uid_argument
@project_option
@domain_errors
def resume(uid: str, project_name: str | None) -> None:
    """Run a finished run again in place (same uuid, same artifacts folder)."""
    project = run_project_name(project_name)
    where = platform()
    run = where.resume_run(where.get_run(uid, project)["uuid"], project)
    click.echo(f"Run {run['uuid'][:12]} resumed and {run['status']}.")


@ops_command.command("archive")
@uid_argument
@project_option
@domain_errors
def archive(uid: str, project_name: str | None) -> None:
    """Archive a finished run: it leaves `ops ls` (`ops ls --archived` lists it) until restored."""
    project = run_project_name(project_name)
    where = platform()
    uuid = where.get_run(uid, project)["uuid"]
    where.archive_run(uuid, project)
    click.echo(f"Run {uuid[:12]} archived; `polyaxon ops restore {uuid[:12]}` brings it back.")


@ops_command.command("restore")
@uid_argument
@project_option
@domain_errors
def restore(uid: str, project_name: str | None) -> None:
    """Bring an archived run back into `ops ls`."""
    project = run_project_name(project_name)
    where = platform()
    run = where.get_run(uid, project)
    if run.get("archived_at") is None:
        click.echo(f"Run {run['uuid'][:12]} is not archived; nothing to restore.")
        return
    where.restore_run(run["uuid"], project)
    click.echo(f"Run {run['uuid'][:12]} restored.")


@ops_command.command("delete")
@uid_argument
@project_option
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@domain_errors
def delete(uid: str, project_name: str | None, yes: bool) -> None:
    """Delete a finished run (a sweep with its trials), its logs and artifacts."""
    project = run_project_name(project_name)
    where = platform()
    run = where.get_run(uid, project)
    _confirm(f"Delete run {run['uuid'][:12]} ({run.get('name') or run['kind']}) and its artifacts?",
             yes)
    uuids = where.delete_run(run["uuid"], project)
    trials = len(uuids) - 1
    click.echo(f"Deleted run {run['uuid'][:12]}" + (f" and {trials} trial(s)." if trials else "."))


@ops_command.command("update")
@uid_argument
@project_option
@click.option("-n", "--name", help="A new name.")
@click.option("--description", help="A new description.")
@click.option("--tags", help="Comma-separated tags, replacing the run's.")
@output_option
@domain_errors
def update(uid: str, project_name: str | None, name: str | None, description: str | None,
           tags: str | None, output: str) -> None:
    """Change a run's name, description or tags."""
    if name is None and description is None and tags is None:
        raise CliError("nothing to update: give --name, --description or --tags")
    project = run_project_name(project_name)
    where = platform()
    data = where.update_run(
        where.get_run(uid, project)["uuid"], project, name=name, description=description,
        tags=None if tags is None else [tag.strip() for tag in tags.split(",") if tag.strip()])
    if output == "json":
        print_json(data)
    else:
        click.echo(f"Run {data['uuid'][:12]} updated.")


def _pending(run: dict[str, Any]) -> str:
    """`` (pending: build)`` while a scheduled run waits for its image."""
    return f" (pending: {run['pending']})" if run.get("pending") else ""
