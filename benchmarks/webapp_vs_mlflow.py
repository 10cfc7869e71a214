"""The dashboard's data requests beside MLflow's, on the same runs, in the same run.

Two tracking servers on 127.0.0.1, each on a SQLite database of its own holding the same
data, each served the way it is deployed: ours (API and dashboard in one application)
behind gunicorn with the command ``polyaxon server`` prints for production, one worker,
and ``mlflow server`` with one worker (installed in a virtual environment of its own,
``benchmarks/.work/mlflow-venv``, made by ``make bench``):

* a project (an MLflow experiment) of ``--runs`` runs, each with 5 inputs (params) and
  5 last metric values, the same numbers on both sides;
* a run with ``--points`` logged points of one metric, ``loss``.

Requests, each timed from the request to the last byte of the answer, the two tools
alternating within every round after warm-up rounds:

1. the runs page's first page (50 runs, newest first) against MLflow's search-runs;
2. the same filtered by a metric threshold and sorted by another metric
   (``metrics.m1:>0.5`` / ``-metrics.m2``, MLflow: ``metrics.m1 > 0.5`` ordered by
   ``metrics.m2 DESC``);
3. the run page's chart request (the series downsampled on the server to 2,000 points,
   first and last kept) against MLflow's metric-history request for the whole series.

Then the run page is opened in Debian's chromium (Playwright) and the time from the
navigation to the chart drawn with its points is taken, on first visits (nothing cached)
and on return visits (scripts in the browser's cache). Medians, interquartile ranges and
the ratios ours/MLflow go to ``benchmarks/results/webapp_vs_mlflow.md``.

    .venv/bin/python benchmarks/webapp_vs_mlflow.py [--runs N] [--points N] [--rounds N] [--loads N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from machine import described
from servers import free_port, start, stop
from sqlalchemy import insert

from polyaxon_core.db.models import Metric, Run
from polyaxon_core.db.session import migrate, session_scope
from polyaxon_core.domain.projects import create_project

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
MLFLOW_VENV = ROOT / "benchmarks" / ".work" / "mlflow-venv"
CHROMIUM = "/usr/bin/chromium"
PAGE = 50
CHART_POINTS = 2000
#: the issue's goals: ours at most this fraction of MLflow's time; the chart within a second
TARGET_RATIO = 0.2
TARGET_CHART_SECONDS = 1.0


def dataset(runs: int, seed: int = 0) -> list[tuple[dict[str, float], dict[str, float]]]:
    """Each run's inputs and last metric values."""
    rng = random.Random(seed)
    return [({f"p{i}": round(rng.random(), 6) for i in range(1, 6)},
             {f"m{i}": round(rng.random(), 6) for i in range(1, 6)}) for _ in range(runs)]


def series(points: int) -> list[float]:
    return [1.0 / (step + 1) + 0.01 * ((step * 7919) % 13) for step in range(points)]


def load_ours(home: Path, rows: list[tuple[dict[str, float], dict[str, float]]],
              points: int) -> str:
    """Our database; returns the uuid of the long run."""
    url = f"sqlite:///{home / 'polyaxon.db'}"
    migrate(url)
    start = datetime.now(UTC) - timedelta(days=1)
    with session_scope(url) as session:
        project = create_project(session, "bench")
        session.flush()
        session.execute(insert(Run), [
            {"uuid": f"{index:032x}", "project_id": project.id, "name": f"run-{index}",
             "kind": "job", "runtime": "job", "status": "succeeded", "inputs": inputs,
             "outputs": {}, "tags": [], "meta_info": {}, "last_metrics": metrics,
             "scheduler_handle": {}, "created_at": start + timedelta(seconds=index),
             "updated_at": start + timedelta(seconds=index)}
            for index, (inputs, metrics) in enumerate(rows)])
        long_run = Run(project=project, name="long", kind="job", runtime="job", status="succeeded")
        session.add(long_run)
        session.flush()
        values = series(points)
        for first in range(0, points, 20_000):
            session.execute(insert(Metric), [
                {"run_id": long_run.id, "name": "loss", "step": step, "value": values[step]}
                for step in range(first, min(points, first + 20_000))])
        long_run.last_metrics = {"loss": values[-1]}
        return long_run.uuid


MLFLOW_LOADER = r'''
import json, sys, time
from mlflow.entities import Metric, Param
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

url, data_path, points = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = json.load(open(data_path))
store = SqlAlchemyStore(url, sys.argv[4])
experiment = store.create_experiment("bench")
start = int(time.time() * 1000) - 86_400_000
for index, (inputs, metrics) in enumerate(rows):
    run = store.create_run(experiment, "bench", start + index * 1000, [], f"run-{index}")
    store.log_batch(run.info.run_id,
                    [Metric(key, value, start + index * 1000, 0) for key, value in metrics.items()],
                    [Param(key, str(value)) for key, value in inputs.items()], [])
long_run = store.create_run(experiment, "bench", start + len(rows) * 1000, [], "long")
values = [1.0 / (step + 1) + 0.01 * ((step * 7919) % 13) for step in range(points)]
for first in range(0, points, 1000):
    steps = range(first, min(points, first + 1000))
    store.log_batch(long_run.info.run_id, [Metric("loss", values[s], start, s) for s in steps], [], [])
print(json.dumps({"experiment_id": experiment, "run_id": long_run.info.run_id}))
'''


def load_mlflow(folder: Path, rows: list[Any], points: int) -> dict[str, str]:
    data = folder / "rows.json"
    data.write_text(json.dumps(rows))
    loader = folder / "load_mlflow.py"
    loader.write_text(MLFLOW_LOADER)
    artifacts = folder / "mlartifacts"
    result = subprocess.run(
        [str(MLFLOW_VENV / "bin" / "python"), str(loader), f"sqlite:///{folder / 'mlflow.db'}",
         str(data), str(points), str(artifacts)],
        capture_output=True, text=True, check=True)
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def timed(request: urllib.request.Request) -> tuple[float, bytes]:
    begin = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as answer:
        body = answer.read()
    return time.perf_counter() - begin, body


def get(url: str) -> urllib.request.Request:
    return urllib.request.Request(url, headers={"Accept": "application/json"})


def post(url: str, body: dict[str, Any]) -> urllib.request.Request:
    return urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                  headers={"Content-Type": "application/json"})


def summary(values: list[float]) -> str:
    quartiles = statistics.quantiles(values, n=4) if len(values) > 1 else values * 3
    return f"{statistics.median(values) * 1000:.1f} ({quartiles[0] * 1000:.1f}-{quartiles[2] * 1000:.1f})"


def chart_time(url: str, repetitions: int) -> dict[str, list[float]]:
    """Seconds from navigation to the chart drawn with its points, in chromium: on a first
    visit (a new browser profile each time, nothing cached) and on a return visit (one
    profile, its cache filled by a load before the timed ones)."""
    from playwright.sync_api import sync_playwright

    drawn = f"#charts [data-metric=loss][data-points='{CHART_POINTS}'] canvas"

    def load(context: Any) -> float:
        page = context.new_page()
        begin = time.perf_counter()
        page.goto(url)
        page.locator(drawn).first.wait_for(timeout=60_000)
        elapsed = time.perf_counter() - begin
        page.close()
        return elapsed

    times: dict[str, list[float]] = {"first visit": [], "return visit": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-background-networking"])
        for _ in range(repetitions):
            context = browser.new_context()
            times["first visit"].append(load(context))
            context.close()
        context = browser.new_context()
        load(context)
        times["return visit"] = [load(context) for _ in range(repetitions)]
        browser.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--loads", type=int, default=11, help="page loads of each kind")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks/results/webapp_vs_mlflow.md")
    args = parser.parse_args()
    if not (MLFLOW_VENV / "bin" / "mlflow").exists():
        raise SystemExit(f"MLflow is not installed in {MLFLOW_VENV}: run `make bench`, or "
                         f"`python3 -m venv {MLFLOW_VENV} && {MLFLOW_VENV}/bin/pip install mlflow`")
    rows = dataset(args.runs)
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        home = folder / "polyaxon-home"
        home.mkdir()
        long_uuid = load_ours(home, rows, args.points)
        mlflow_ids = load_mlflow(folder, rows, args.points)

        ours_port, mlflow_port = free_port(), free_port()
        env = {key: value for key, value in os.environ.items() if not key.startswith("POLYAXON_")}
        ours = start([GUNICORN, "--workers", "1", "--threads", "8", "--worker-class",
                      "polyaxon_core.api.gunicorn_worker.JsonErrorWorker",
                      "--bind", f"127.0.0.1:{ours_port}",
                      "polyaxon_core.api.app:create_app(auth=False)"],
                     {**env, "POLYAXON_HOME": str(home)}, f"http://127.0.0.1:{ours_port}/healthz",
                     folder / "ours.log")
        mlflow = start([str(MLFLOW_VENV / "bin" / "mlflow"), "server", "--host", "127.0.0.1",
                        "--port", str(mlflow_port), "--workers", "1",
                        "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
                        "--default-artifact-root", str(folder / "mlartifacts")],
                       env, f"http://127.0.0.1:{mlflow_port}/health", folder / "mlflow.log")
        try:
            api = f"http://127.0.0.1:{ours_port}/api/v1/default/bench"
            ml = f"http://127.0.0.1:{mlflow_port}/api/2.0/mlflow"
            experiment = mlflow_ids["experiment_id"]
            cases = {
                "first page of runs": (
                    lambda: get(f"{api}/runs?limit={PAGE}&sort=-created_at"),
                    lambda: post(f"{ml}/runs/search", {"experiment_ids": [experiment],
                                                       "max_results": PAGE})),
                "filtered by a metric, sorted by another": (
                    lambda: get(f"{api}/runs?limit={PAGE}&" + urllib.parse.urlencode(
                        {"query": "metrics.m1:>0.5", "sort": "-metrics.m2"})),
                    lambda: post(f"{ml}/runs/search", {
                        "experiment_ids": [experiment], "max_results": PAGE,
                        "filter": "metrics.m1 > 0.5", "order_by": ["metrics.m2 DESC"]})),
                f"a metric of {args.points:,} points": (
                    lambda: get(f"{api}/runs/{long_uuid}/metrics?names=loss&max_points={CHART_POINTS}"),
                    lambda: get(f"{ml}/metrics/get-history?" + urllib.parse.urlencode(
                        {"run_id": mlflow_ids["run_id"], "metric_key": "loss",
                         "max_results": args.points}))),
            }
            checks(cases, rows, args.points)
            times: dict[str, dict[str, list[float]]] = {name: {"ours": [], "mlflow": []} for name in cases}
            for round_number in range(args.warmup + args.rounds):
                for name, (ours_request, mlflow_request) in cases.items():
                    pair = [("ours", ours_request), ("mlflow", mlflow_request)]
                    if round_number % 2:
                        pair.reverse()
                    for tool, request in pair:
                        seconds, _ = timed(request())
                        if round_number >= args.warmup:
                            times[name][tool].append(seconds)
            chart = chart_time(f"http://127.0.0.1:{ours_port}/projects/default/bench/runs/{long_uuid}",
                               args.loads)
        finally:
            for process in (ours, mlflow):
                stop(process)
    report(args, times, chart)


def checks(cases: dict[str, Any], rows: list[Any], points: int) -> None:
    """Both servers answer the same runs before anything is timed."""
    expected = sorted(metrics["m2"] for _, metrics in rows if metrics["m1"] > 0.5)[::-1][:PAGE]
    ours_request, mlflow_request = cases["filtered by a metric, sorted by another"]
    ours = json.loads(timed(ours_request())[1])
    mlflow = json.loads(timed(mlflow_request())[1])
    assert [run["metrics"]["m2"] for run in ours["results"]] == expected, "ours answered other runs"
    mlflow_values = [next(m["value"] for m in run["data"]["metrics"] if m["key"] == "m2")
                     for run in mlflow["runs"]]
    assert mlflow_values == expected, "MLflow answered other runs"
    ours_request, mlflow_request = cases[f"a metric of {points:,} points"]
    series_ours = json.loads(timed(ours_request())[1])["metrics"]["loss"]
    assert len(series_ours) == CHART_POINTS and series_ours[-1]["step"] == points - 1
    assert len(json.loads(timed(mlflow_request())[1])["metrics"]) == points


def report(args: argparse.Namespace, times: dict[str, dict[str, list[float]]],
           chart: dict[str, list[float]]) -> None:
    mlflow_version = subprocess.run([str(MLFLOW_VENV / "bin" / "python"), "-c",
                                     "import mlflow; print(mlflow.__version__)"],
                                    capture_output=True, text=True, check=True).stdout.strip()
    lines = [
        "# The dashboard's data requests beside MLflow's",
        "",
        f"Generated by `benchmarks/webapp_vs_mlflow.py`: {args.runs:,} runs with 5 inputs and 5 "
        f"metrics, and one run with {args.points:,} points of `loss`, in a SQLite database per "
        f"server; ours behind gunicorn (one worker, 8 threads, authentication off) against "
        f"`mlflow server` {mlflow_version} (one worker), both on 127.0.0.1. Milliseconds from "
        "the request to the last byte, median "
        f"and interquartile range (p25-p75) of {args.rounds} rounds after {args.warmup} "
        "warm-up rounds, the two alternating. Goal: ours at most "
        f"{TARGET_RATIO}x MLflow's.",
        "",
        "| request | ours (ms) | MLflow (ms) | ours / MLflow | goal met |",
        "|---|---|---|---|---|",
    ]
    for name, measured in times.items():
        ratio = statistics.median(measured["ours"]) / statistics.median(measured["mlflow"])
        lines.append(f"| {name} | {summary(measured['ours'])} | {summary(measured['mlflow'])} | "
                     f"{ratio:.3f} | {'yes' if ratio <= TARGET_RATIO else 'no'} |")
    lines += [
        "",
        f"The run page in chromium, from the navigation to the chart of `loss` drawn with its "
        f"{CHART_POINTS:,} points (downsampled from {args.points:,} on the server), "
        f"{len(chart['first visit'])} loads each; goal: under {TARGET_CHART_SECONDS:.0f} s.",
        "",
        "| visit | drawn after (ms) | goal met |",
        "|---|---|---|",
    ]
    for visit, seconds in chart.items():
        met = statistics.median(seconds) <= TARGET_CHART_SECONDS
        lines.append(f"| {visit} | {summary(seconds)} | {'yes' if met else 'no'} |")
    lines += [
        "",
        *described(),
        "",
    ]
    args.output.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
