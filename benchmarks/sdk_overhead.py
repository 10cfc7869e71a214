"""What logging metrics costs a training loop: our SDK, embedded and through a server,
beside MLflow's client with asynchronous logging.

A training script logs metrics at every step: the loop pays for each call, and the end
of the run pays for whatever the SDK did not store yet. Each case runs in a fresh Python
process (the child), which starts tracking untimed, then times

* the loop: ``--calls`` calls (100,000 by default) of
  ``tracking.log_metrics(step=i, loss=..., accuracy=...)`` (two metrics a call), and in
  a second run ``tracking.log_metric("loss", ..., step=i)`` (one metric a call), the
  values computed before the loop; reported in microseconds per call;
* ``tracking.end()``, which waits until every point is stored (the flush);
* the total, loop + end: what the run spent on metrics.

The cases, all in the same benchmark run:

1. **embedded**: no server. A temporary ``POLYAXON_HOME`` on the default SQLite database,
   a project and a run row made with our models (as a ``polyaxon run`` would leave it,
   running); the child has ``POLYAXON_HOME`` and ``POLYAXON_RUN_UUID``, and
   ``tracking.init(track_resources=False)`` writes to the database directly.
2. **through our server**: the API served as in production, by gunicorn with one worker
   (``polyaxon_core.api.gunicorn_worker.JsonErrorWorker``, 8 threads, authentication
   on) on 127.0.0.1, on a SQLite home of its own; a user, a project, a run, and the token
   issued to that run (as the orchestrator gives one to each run it starts). The child has
   ``POLYAXON_HOST``, ``POLYAXON_AUTH_TOKEN``, ``POLYAXON_PROJECT`` and
   ``POLYAXON_RUN_UUID``, so the SDK sends the points to the API in batches.
3. **MLflow**: ``mlflow server`` with one worker on a SQLite database, on 127.0.0.1
   (installed in a virtual environment of its own, ``benchmarks/.work/mlflow-venv``,
   made by ``make bench``); the child calls ``mlflow.config.enable_async_logging(True)``,
   ``mlflow.start_run()``, the same loop with ``mlflow.log_metrics({"loss": ...,
   "accuracy": ...}, step=i)`` (and ``mlflow.log_metric("loss", ..., step=i)``), and
   ``mlflow.end_run()``, which waits until the queued points are logged. Twice:

   * buffered, with ``MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS=1``: MLflow's logging thread
     waits a second, then sends what was queued in batches of up to 1,000 values, as ours
     does; MLflow at its best, and the case the goal is measured against;
   * with MLflow's defaults (no buffering): every call's values are sent in a request of
     their own, 100,000 requests for 100,000 calls, about half an hour on a 2-CPU
     machine; so only ``--mlflow-defaults-repetitions`` runs (default 1) of the first
     variant (two metrics a call).

After every measured run the script checks that every point arrived, each step of each
metric once: in the database for the embedded case, through our API for the server, and
through MLflow's ``metrics/get-history`` for MLflow. A run that lost points stops the
benchmark. The measurements of a repetition run one after another, in an order rotated
from one repetition to the next; the medians over ``--repetitions`` go to
``benchmarks/results/sdk_overhead.md`` with the goals: the embedded loop at most 20 µs a
call, and the total through our server at most half of MLflow's (buffered).

    .venv/bin/python benchmarks/sdk_overhead.py [--calls N] [--repetitions N]
        [--variants two one] [--mlflow-defaults-repetitions N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from servers import free_port, start, stop
from sqlalchemy import func, select

from polyaxon_core import accounts
from polyaxon_core.db.models import Metric, Run
from polyaxon_core.db.session import migrate, session_scope
from polyaxon_core.domain.projects import create_project

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
MLFLOW_VENV = ROOT / "benchmarks" / ".work" / "mlflow-venv"
PROJECT = "bench"
#: the goals: the embedded loop's cost per call, and ours through a server against MLflow
TARGET_LOOP_MICROSECONDS = 20.0
TARGET_RATIO = 0.5
#: MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS of the buffered MLflow case (ours sends at least
#: once a second too); without it, MLflow sends every call's points in a request of its own
MLFLOW_BUFFERING = 1
#: the two ways a loop logs: two metrics a call, or one
VARIANTS = {
    "two": ("log_metrics(step=i, loss=..., accuracy=...)", ("loss", "accuracy")),
    "one": ('log_metric("loss", ..., step=i)', ("loss",)),
}
CASES = ("embedded", "server", "mlflow", "mlflow-defaults")
CASE_TITLES = {"embedded": "ours, embedded (SQLite)", "server": "ours, through the server",
               "mlflow": f"MLflow, async logging, buffered {MLFLOW_BUFFERING} s",
               "mlflow-defaults": "MLflow, async logging, defaults (not buffered)"}

#: run by the project's Python: the same loop, embedded or through a server (by the env)
OURS_CHILD = r'''
import json, sys, time
from polyaxon_core import tracking

calls, variant = int(sys.argv[1]), sys.argv[2]
loss = [1.0 / (i + 1) for i in range(calls)]
accuracy = [1.0 - value for value in loss]
begin = time.perf_counter()
tracking.init(track_resources=False)
started = time.perf_counter()
if variant == "two":
    log_metrics = tracking.log_metrics
    for i in range(calls):
        log_metrics(step=i, loss=loss[i], accuracy=accuracy[i])
else:
    log_metric = tracking.log_metric
    for i in range(calls):
        log_metric("loss", loss[i], step=i)
looped = time.perf_counter()
tracking.end()
ended = time.perf_counter()
print(json.dumps({"init": started - begin, "loop": looped - started, "end": ended - looped}))
'''

#: run by the MLflow virtual environment's Python
MLFLOW_CHILD = r'''
import json, sys, time
import mlflow

calls, variant, uri = int(sys.argv[1]), sys.argv[2], sys.argv[3]
loss = [1.0 / (i + 1) for i in range(calls)]
accuracy = [1.0 - value for value in loss]
begin = time.perf_counter()
mlflow.set_tracking_uri(uri)
mlflow.config.enable_async_logging(True)
mlflow.set_experiment("bench")
run = mlflow.start_run()
started = time.perf_counter()
if variant == "two":
    log_metrics = mlflow.log_metrics
    for i in range(calls):
        log_metrics({"loss": loss[i], "accuracy": accuracy[i]}, step=i)
else:
    log_metric = mlflow.log_metric
    for i in range(calls):
        log_metric("loss", loss[i], step=i)
looped = time.perf_counter()
mlflow.end_run()
ended = time.perf_counter()
print(json.dumps({"init": started - begin, "loop": looped - started, "end": ended - looped,
                  "run_id": run.info.run_id}))
'''


def clean_env() -> dict[str, str]:
    """The caller's environment without its POLYAXON_* and MLFLOW_* settings."""
    return {key: value for key, value in os.environ.items()
            if not key.startswith(("POLYAXON_", "MLFLOW_"))}


def prepare_home(home: Path, runs: int, with_tokens: bool) -> dict[str, Any]:
    """A SQLite home with the project ``bench`` and ``runs`` running runs; with tokens, a
    user owning them, the token issued to each run, and one of the user's own."""
    home.mkdir()
    url = f"sqlite:///{home / 'polyaxon.db'}"
    migrate(url)
    setup: dict[str, Any] = {"url": url, "runs": [], "tokens": [], "user_token": None}
    with session_scope(url) as session:
        project = create_project(session, PROJECT)
        user = None
        if with_tokens:
            user = accounts.create_user(session, "trainer", secrets.token_urlsafe(24),
                                        organization_role="owner")
            _, setup["user_token"] = accounts.issue_token(session, user, name="benchmark")
        for index in range(runs):
            run = Run(project=project, name=f"loop-{index}", kind="job", runtime="job",
                      status="running", started_at=datetime.now(UTC), user=user)
            session.add(run)
            session.flush()
            setup["runs"].append(run.uuid)
            if user is not None:
                _, key = accounts.issue_token(session, user, name=f"run {run.uuid}", run_id=run.id)
                setup["tokens"].append(key)
    return setup


def child(argv: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    result = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True,
                            timeout=6 * 3600)
    if result.returncode != 0:
        raise SystemExit(f"the logging process exited {result.returncode}:\n{result.stderr[-3000:]}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def check_counts(where: str, counts: dict[str, tuple[int, int]], names: tuple[str, ...],
                 calls: int) -> None:
    """Every metric has ``calls`` points, one per step, and there is nothing else."""
    expected = {name: (calls, calls) for name in names}
    if counts != expected:
        raise SystemExit(f"{where}: stored (points, distinct steps) {counts}, expected {expected}")


def stored_embedded(url: str, uuid: str) -> dict[str, tuple[int, int]]:
    with session_scope(url) as session:
        run_id = session.scalar(select(Run.id).where(Run.uuid == uuid))
        rows = session.execute(
            select(Metric.name, func.count(), func.count(func.distinct(Metric.step)))
            .where(Metric.run_id == run_id).group_by(Metric.name)).all()
    return {name: (int(points), int(steps)) for name, points, steps in rows}


def read_json(request: urllib.request.Request) -> Any:
    with urllib.request.urlopen(request, timeout=600) as answer:
        return json.loads(answer.read())


def stored_ours(base: str, token: str, uuid: str) -> dict[str, tuple[int, int]]:
    answer = read_json(urllib.request.Request(
        f"{base}/api/v1/default/{PROJECT}/runs/{uuid}/metrics",
        headers={"Authorization": f"Token {token}", "Accept": "application/json"}))
    return {name: (len(points), len({point["step"] for point in points}))
            for name, points in answer["metrics"].items()}


def stored_mlflow(base: str, run_id: str, names: tuple[str, ...],
                  calls: int) -> dict[str, tuple[int, int]]:
    counts = {}
    for name in names:
        points: list[dict[str, Any]] = []
        token = None
        while True:  # MLflow pages the history when it is longer than max_results
            query = {"run_id": run_id, "metric_key": name, "max_results": calls}
            if token:
                query["page_token"] = token
            answer = read_json(urllib.request.Request(
                f"{base}/api/2.0/mlflow/metrics/get-history?" + urllib.parse.urlencode(query),
                headers={"Accept": "application/json"}))
            points += answer.get("metrics", [])
            token = answer.get("next_page_token")
            if not token:
                break
        counts[name] = (len(points), len({int(point.get("step", 0)) for point in points}))
    return counts


def summary(values: list[float], scale: float = 1.0, digits: int = 2) -> str:
    median = statistics.median(values) * scale
    if len(values) == 1:
        return f"{median:.{digits}f}"
    return f"{median:.{digits}f} ({min(values) * scale:.{digits}f}-{max(values) * scale:.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100_000, help="logging calls in the loop")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS),
                        help="two metrics a call (log_metrics), one (log_metric), or both")
    parser.add_argument("--mlflow-defaults-repetitions", type=int, default=1,
                        help="runs of MLflow with its default settings (not buffered: a request "
                             "per call, about half an hour for 100,000 calls), with the first "
                             "of --variants only; 0: none")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks/results/sdk_overhead.md")
    args = parser.parse_args()
    if not (MLFLOW_VENV / "bin" / "mlflow").exists():
        raise SystemExit(f"MLflow is not installed in {MLFLOW_VENV}: run `make bench`, or "
                         f"`python3 -m venv {MLFLOW_VENV} && {MLFLOW_VENV}/bin/pip install mlflow`")
    args.load_before = os.getloadavg()[0]
    runs = args.repetitions * len(args.variants)
    times: dict[tuple[str, str], dict[str, list[float]]] = {
        (case, variant): {"loop": [], "end": [], "total": [], "init": []}
        for case in CASES for variant in args.variants}
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        embedded = prepare_home(folder / "embedded-home", runs, with_tokens=False)
        served = prepare_home(folder / "server-home", runs, with_tokens=True)
        client_home = folder / "client-home"  # the SDK's own home when it talks to the server
        client_home.mkdir()

        env = clean_env()
        ours_port, mlflow_port = free_port(), free_port()
        ours_url, mlflow_url = f"http://127.0.0.1:{ours_port}", f"http://127.0.0.1:{mlflow_port}"
        servers: list[subprocess.Popen[bytes]] = []
        ours = start([GUNICORN, "--workers", "1", "--threads", "8", "--worker-class",
                      "polyaxon_core.api.gunicorn_worker.JsonErrorWorker",
                      "--bind", f"127.0.0.1:{ours_port}", "polyaxon_core.api.app:create_app()"],
                     # the runs are made by the script: no orchestrator to start or reconcile them
                     {**env, "POLYAXON_HOME": str(folder / "server-home"),
                      "POLYAXON_ORCHESTRATOR": "external"},
                     f"{ours_url}/healthz", folder / "ours.log")
        servers.append(ours)
        try:
            servers.append(start([str(MLFLOW_VENV / "bin" / "mlflow"), "server", "--host", "127.0.0.1",
                        "--port", str(mlflow_port), "--workers", "1",
                        "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
                        "--default-artifact-root", str(folder / "mlartifacts")],
                       env, f"{mlflow_url}/health", folder / "mlflow.log"))
            measurements = [(case, variant) for variant in args.variants
                            for case in CASES if case != "mlflow-defaults"]
            next_run = 0
            for repetition in range(args.repetitions):
                shift = repetition % len(measurements)
                order = measurements[shift:] + measurements[:shift]
                if repetition < args.mlflow_defaults_repetitions:
                    order.append(("mlflow-defaults", args.variants[0]))
                uuids = {}
                for variant in args.variants:
                    uuids[variant] = next_run
                    next_run += 1
                for case, variant in order:
                    names = VARIANTS[variant][1]
                    index = uuids[variant]
                    if case == "embedded":
                        uuid = embedded["runs"][index]
                        result = child([sys.executable, "-c", OURS_CHILD, str(args.calls), variant],
                                       {**env, "POLYAXON_HOME": str(folder / "embedded-home"),
                                        "POLYAXON_RUN_UUID": uuid}, folder)
                        check_counts(f"embedded run {uuid}", stored_embedded(embedded["url"], uuid),
                                     names, args.calls)
                    elif case == "server":
                        uuid = served["runs"][index]
                        result = child([sys.executable, "-c", OURS_CHILD, str(args.calls), variant],
                                       {**env, "POLYAXON_HOME": str(client_home),
                                        "POLYAXON_HOST": ours_url,
                                        "POLYAXON_AUTH_TOKEN": served["tokens"][index],
                                        "POLYAXON_PROJECT": PROJECT, "POLYAXON_RUN_UUID": uuid},
                                       folder)
                        check_counts(f"run {uuid} on our server",
                                     stored_ours(ours_url, served["user_token"], uuid),
                                     names, args.calls)
                    else:
                        buffering = ({"MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS": str(MLFLOW_BUFFERING)}
                                     if case == "mlflow" else {})
                        result = child([str(MLFLOW_VENV / "bin" / "python"), "-c", MLFLOW_CHILD,
                                        str(args.calls), variant, mlflow_url],
                                       {**env, **buffering}, folder)
                        check_counts(f"MLflow run {result['run_id']}",
                                     stored_mlflow(mlflow_url, result["run_id"], names, args.calls),
                                     names, args.calls)
                    measured = times[(case, variant)]
                    for key in ("loop", "end", "init"):
                        measured[key].append(result[key])
                    measured["total"].append(result["loop"] + result["end"])
                    print(f"repetition {repetition + 1}: {case:15} {variant}: loop "
                          f"{result['loop'] / args.calls * 1e6:.2f} us/call, end {result['end']:.2f} s, "
                          f"total {result['loop'] + result['end']:.2f} s", flush=True)
        finally:
            for process in servers:
                stop(process)
    report(args, times)


def versions() -> tuple[str, str]:
    from importlib.metadata import version

    mlflow_version = subprocess.run([str(MLFLOW_VENV / "bin" / "python"), "-c",
                                     "import mlflow; print(mlflow.__version__)"],
                                    capture_output=True, text=True, check=True).stdout.strip()
    return version("polyaxon-core"), mlflow_version


def report(args: argparse.Namespace, times: dict[tuple[str, str], dict[str, list[float]]]) -> None:
    ours_version, mlflow_version = versions()
    per_call = 1e6 / args.calls
    lines = [
        "# What logging metrics costs a training loop",
        "",
        f"Generated by `benchmarks/sdk_overhead.py`: a loop of {args.calls:,} logging calls in a "
        "fresh Python process, timed on its own (microseconds per call), then the call that "
        "ends the run and waits until every point is stored (`tracking.end()`, "
        "`mlflow.end_run()`), and the total of the two. Ours embedded writes to a SQLite "
        "database directly; through the server, it sends batches to our API behind gunicorn "
        "(one worker, 8 threads, authentication on, the run's own token); MLflow "
        f"{mlflow_version} logs asynchronously to `mlflow server` (one worker, SQLite), "
        f"buffered (`MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS={MLFLOW_BUFFERING}`: batches of up "
        "to 1,000 values) and with its defaults (a request per call). Servers on 127.0.0.1. "
        "Every run's points were checked to be all stored, one per step and metric. Median "
        f"(and range) of {args.repetitions} repetitions; MLflow with its defaults: "
        f"{args.mlflow_defaults_repetitions} run(s), two metrics a call only.",
        "",
    ]
    for variant in args.variants:
        call, names = VARIANTS[variant]
        lines += [
            f"## `{call}`: {args.calls:,} calls, {args.calls * len(names):,} points",
            "",
            "| case | in the loop (µs per call) | end (s) | total (s) |",
            "|---|---|---|---|",
        ]
        for case in CASES:
            measured = times[(case, variant)]
            if not measured["loop"]:
                continue
            lines.append(f"| {CASE_TITLES[case]} | {summary(measured['loop'], per_call)} | "
                         f"{summary(measured['end'])} | {summary(measured['total'])} |")
        lines.append("")
    lines += ["## Goals", "", "| goal | measured | met |", "|---|---|---|"]
    for variant in args.variants:
        call = VARIANTS[variant][0].split("(")[0]
        loop = statistics.median(times[("embedded", variant)]["loop"]) * per_call
        lines.append(f"| embedded, `{call}` in the loop: at most {TARGET_LOOP_MICROSECONDS:g} µs "
                     f"a call | {loop:.2f} µs | {'yes' if loop <= TARGET_LOOP_MICROSECONDS else 'no'} |")
    for variant in args.variants:
        call = VARIANTS[variant][0].split("(")[0]
        ratio = (statistics.median(times[("server", variant)]["total"])
                 / statistics.median(times[("mlflow", variant)]["total"]))
        lines.append(f"| through the server, `{call}`, total: at most {TARGET_RATIO:g}x MLflow's "
                     f"(buffered) | {ratio:.3f}x | {'yes' if ratio <= TARGET_RATIO else 'no'} |")
        if times[("mlflow-defaults", variant)]["total"]:
            ratio = (statistics.median(times[("server", variant)]["total"])
                     / statistics.median(times[("mlflow-defaults", variant)]["total"]))
            lines.append(f"| through the server, `{call}`, total: at most {TARGET_RATIO:g}x "
                         f"MLflow's (defaults) | {ratio:.4f}x | "
                         f"{'yes' if ratio <= TARGET_RATIO else 'no'} |")
    init = {case: statistics.median([value for variant in args.variants
                                     for value in times[(case, variant)]["init"]])
            for case in CASES if case != "mlflow-defaults"}
    lines += [
        "",
        "Not timed above: starting to track (`tracking.init(track_resources=False)`; "
        "`set_tracking_uri`, `enable_async_logging`, `set_experiment` and `start_run`), "
        f"median {init['embedded']:.2f} s embedded, {init['server']:.2f} s through the server, "
        f"{init['mlflow']:.2f} s for MLflow; nor the imports.",
        "",
        f"- polyaxon-core {ours_version}, MLflow {mlflow_version}, Python "
        f"{platform.python_version()}; machine: {platform.machine()}, {os.cpu_count()} logical "
        f"CPUs, {platform.system()} {platform.release()}; 1-minute load average "
        f"{args.load_before:.2f} before, {os.getloadavg()[0]:.2f} after",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
    ]
    args.output.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
