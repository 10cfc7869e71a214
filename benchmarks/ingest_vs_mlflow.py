"""Metric ingestion through the API, against an MLflow tracking server, in the same run.

Two tracking servers on 127.0.0.1, each on a fresh database of the same kind (PostgreSQL
by default, this machine's; ``--database sqlite`` for a file each) and with the same
number of worker processes (``--workers``): ours (``polyaxon_core.api.app:create_app``
behind gunicorn, as ``polyaxon server`` prints for production) and ``mlflow server``
(installed in ``benchmarks/.work/mlflow-venv``, made by ``make bench``; its PostgreSQL
driver is installed there on first use).

``--clients`` threads each log into a run of their own, one batch after the other over a
kept-alive connection: ours ``POST /api/v1/{owner}/{project}/runs/{uuid}/metrics``
(``{"batch_id", "metrics": [{"name", "value", "step"}]}``), MLflow's
``POST /api/2.0/mlflow/runs/log-batch`` (``{"run_id", "metrics": [{"key", "value",
"timestamp", "step"}]}``). Two batch sizes, 1,000 points (the most either accepts in one
request) and 10 points; the two tools alternate over ``--rounds`` rounds, and every point
sent is counted back in each database afterwards: stored exactly once, or the benchmark
fails. Points per second (median of the rounds) and the ratio ours / MLflow go to
``benchmarks/results/ingest_vs_mlflow.md``. Goal: at least 5x MLflow at both sizes.

    .venv/bin/python benchmarks/ingest_vs_mlflow.py [--clients 8] [--workers 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid as uuid_module
from collections.abc import Callable
from pathlib import Path
from typing import Any

from machine import described
from servers import free_port, start, stop
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
MLFLOW_VENV = ROOT / "benchmarks" / ".work" / "mlflow-venv"
PG_SERVER = os.environ.get("POLYAXON_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
TARGET_RATIO = 5.0
#: (points per batch, batches per client and round)
SIZES = ((1000, 20), (10, 300))


def create_database(kind: str, folder: Path, name: str) -> tuple[str, Callable[[], None]]:
    """A fresh database URL of ``kind`` and what drops it."""
    if kind == "sqlite":
        return f"sqlite:///{folder / (name + '.db')}", lambda: None
    database = f"bench_{name}_{uuid_module.uuid4().hex[:8]}"
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()

    return PG_SERVER.rsplit("/", 1)[0] + f"/{database}", drop


class Client:
    """One thread's kept-alive connection to a server."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.connection.request("POST", path, json.dumps(body).encode(),
                                {"Content-Type": "application/json"})
        answer = self.connection.getresponse()
        data = answer.read()
        if answer.status >= 300:
            raise SystemExit(f"POST {path}: {answer.status} {data[:500]!r}")
        return dict(json.loads(data or b"{}"))


def ours_batch(run: str, client_index: int, first: int, size: int) -> tuple[str, dict[str, Any]]:
    return (f"/api/v1/default/bench/runs/{run}/metrics",
            {"batch_id": f"c{client_index}-{first}",
             "metrics": [{"name": "loss", "value": 1.0 / (step + 1), "step": step}
                         for step in range(first, first + size)]})


def mlflow_batch(run: str, _client_index: int, first: int, size: int) -> tuple[str, dict[str, Any]]:
    now = int(time.time() * 1000)
    return ("/api/2.0/mlflow/runs/log-batch",
            {"run_id": run, "metrics": [{"key": "loss", "value": 1.0 / (step + 1), "timestamp": now,
                                         "step": step} for step in range(first, first + size)]})


def ingest(port: int, runs: list[str], size: int, batches: int, offset: int,
           make: Callable[[str, int, int, int], tuple[str, dict[str, Any]]]) -> float:
    """Seconds for every client to send ``batches`` batches of ``size`` points, steps from
    ``offset`` on (so that no point repeats another round's)."""
    clients = [Client(port) for _ in runs]
    bodies = [[make(run, index, offset + batch * size, size) for batch in range(batches)]
              for index, run in enumerate(runs)]
    failures: list[BaseException] = []
    ready = threading.Barrier(len(runs) + 1)

    def work(index: int) -> None:
        ready.wait()
        try:
            for path, body in bodies[index]:
                clients[index].post(path, body)
        except BaseException as exc:  # reported after the round
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(len(runs))]
    for thread in threads:
        thread.start()
    ready.wait()
    begin = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - begin
    if failures:
        raise SystemExit(f"a client failed: {failures[0]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks/results/ingest_vs_mlflow.md")
    args = parser.parse_args()
    mlflow_bin = MLFLOW_VENV / "bin" / "mlflow"
    if not mlflow_bin.exists():
        raise SystemExit(f"MLflow is not installed in {MLFLOW_VENV}: run `make bench`, or "
                         f"`python3 -m venv {MLFLOW_VENV} && {MLFLOW_VENV}/bin/pip install mlflow`")
    if args.database == "postgresql":
        subprocess.run([str(MLFLOW_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        "psycopg2-binary"], check=True)
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        ours_url, drop_ours = create_database(args.database, folder, "ours")
        mlflow_url, drop_mlflow = create_database(args.database, folder, "mlflow")
        try:
            results = run_servers(args, folder, ours_url, mlflow_url)
        finally:
            drop_ours()
            drop_mlflow()
    report(args, results)


def run_servers(args: argparse.Namespace, folder: Path, ours_url: str,
                mlflow_url: str) -> dict[int, dict[str, list[float]]]:
    from polyaxon_core.db.models import Metric
    from polyaxon_core.db.session import get_engine, migrate, session_scope
    from polyaxon_core.domain.commands import create_tracked_run
    from polyaxon_core.domain.projects import create_project

    home = folder / "polyaxon-home"
    home.mkdir()
    migrate(ours_url)
    with session_scope(ours_url) as session:
        project = create_project(session, "bench")
        ours_runs = [create_tracked_run(session, project, name=f"client-{index}", description=None,
                                        tags=[]).uuid for index in range(args.clients)]
    ours_port, mlflow_port = free_port(), free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("POLYAXON_")}
    ours = start([GUNICORN, "--workers", str(args.workers), "--threads", str(args.clients),
                  "--worker-class", "polyaxon_core.api.gunicorn_worker.JsonErrorWorker",
                  "--bind", f"127.0.0.1:{ours_port}", "polyaxon_core.api.app:create_app(auth=False)"],
                 {**env, "POLYAXON_HOME": str(home), "POLYAXON_DB_URL": ours_url},
                 f"http://127.0.0.1:{ours_port}/healthz", folder / "ours.log")
    try:
        # psycopg2, installed above: its SQLAlchemy's default driver may be another
        backend = mlflow_url.replace("postgresql://", "postgresql+psycopg2://", 1)
        mlflow = start([str(MLFLOW_VENV / "bin" / "mlflow"), "server", "--host", "127.0.0.1",
                        "--port", str(mlflow_port), "--workers", str(args.workers),
                        "--backend-store-uri", backend,
                        "--default-artifact-root", str(folder / "mlartifacts")],
                       env, f"http://127.0.0.1:{mlflow_port}/health", folder / "mlflow.log")
    except BaseException:
        stop(ours)
        raise
    try:
        setup = Client(mlflow_port)
        experiment = setup.post("/api/2.0/mlflow/experiments/create", {"name": "bench"})["experiment_id"]
        mlflow_runs = [setup.post("/api/2.0/mlflow/runs/create", {
            "experiment_id": experiment, "run_name": f"client-{index}",
            "start_time": int(time.time() * 1000)})["run"]["info"]["run_id"]
            for index in range(args.clients)]
        rates: dict[int, dict[str, list[float]]] = {size: {"ours": [], "mlflow": []} for size, _ in SIZES}
        sent = 0
        offset = 0
        for round_number in range(args.rounds):
            for size, batches in SIZES:
                pair = [("ours", ours_port, ours_runs, ours_batch),
                        ("mlflow", mlflow_port, mlflow_runs, mlflow_batch)]
                if round_number % 2:
                    pair.reverse()
                for tool, port, runs, make in pair:
                    seconds = ingest(port, runs, size, batches, offset, make)
                    rates[size][tool].append(size * batches * len(runs) / seconds)
                sent += size * batches * args.clients
                offset += size * batches
        with session_scope(ours_url) as session:
            stored_ours = session.query(Metric).count()
        engine = get_engine(mlflow_url)
        with engine.connect() as connection:
            stored_mlflow = connection.execute(text("SELECT count(*) FROM metrics")).scalar()
        engine.dispose()
        get_engine(ours_url).dispose()
        if stored_ours != sent or stored_mlflow != sent:
            raise SystemExit(f"points sent {sent}, stored: ours {stored_ours}, MLflow {stored_mlflow}")
        return rates
    finally:
        stop(ours)
        stop(mlflow)


def report(args: argparse.Namespace, rates: dict[int, dict[str, list[float]]]) -> None:
    lines = [
        "# Metric ingestion through the API against an MLflow tracking server",
        "",
        f"Generated by `benchmarks/ingest_vs_mlflow.py`: {args.clients} clients at once, each "
        f"logging into a run of its own over a kept-alive connection; {args.workers} worker "
        f"processes each, on {args.database} (a fresh database each); every point sent was "
        "counted back, stored exactly once, in both databases. Points per second, median of "
        f"{args.rounds} rounds (min-max), the two tools alternating. Goal: ours at least "
        f"{TARGET_RATIO:g}x MLflow at both batch sizes.",
        "",
        "| points per batch | ours (points/s) | MLflow (points/s) | ours / MLflow |",
        "|---|---|---|---|",
    ]
    verdicts = []
    for size, _ in SIZES:
        ours, mlflow = rates[size]["ours"], rates[size]["mlflow"]
        ratio = statistics.median(ours) / statistics.median(mlflow)
        verdicts.append(ratio >= TARGET_RATIO)
        lines.append(f"| {size:,} | {statistics.median(ours):,.0f} ({min(ours):,.0f}-{max(ours):,.0f}) "
                     f"| {statistics.median(mlflow):,.0f} ({min(mlflow):,.0f}-{max(mlflow):,.0f}) "
                     f"| **{ratio:.1f}** |")
    lines += [
        "",
        "- goal " + ("met" if all(verdicts) else "not met") + " (" + ", ".join(
            f"{size:,}-point batches: {'met' if ok else 'not met'}"
            for (size, _), ok in zip(SIZES, verdicts, strict=True)) + ")",
        *described(),
    ]
    args.output.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
