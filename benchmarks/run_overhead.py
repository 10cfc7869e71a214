"""What orchestration costs per run: trivial trials through our schedulers against the floor.

A sweep of ``--trials`` trials (random search over one parameter), each trial a ``python
-c`` that imports the tracking SDK, starts tracking and logs one metric, ``--concurrency``
at once:

* **local**: a fresh home (SQLite, local processes), ``polyaxon scheduler`` started apart;
  the time from ``polyaxon run`` to the sweep's final status. Its floor: a loop starting
  the same number of ``python -c`` processes (importing the SDK, without a run to log
  to) ``--concurrency`` at once.
* **celery**: PostgreSQL, Redis, ``polyaxon scheduler`` and one ``polyaxon worker
  --concurrency N``; the same sweep. Its floor: the same commands sent as bare Celery
  tasks (``subprocess.run`` in a task) to a bare Celery worker of the same concurrency
  over the same Redis, waiting for every result.

The orchestration overhead per trial is (ours - floor) x concurrency / trials: the time
each run costs beyond its command, on one of the ``concurrency`` slots. Also reported:
the median submit-to-start latency of a trial (its ``queued`` to its ``running`` in the
timeline). Goals: at most 100 ms of overhead per trial locally, at most 1.5x bare
Celery's wall time. Results in ``benchmarks/results/run_overhead.md``.

``--pg-driver psycopg`` runs the Celery half's PostgreSQL through psycopg 3
(``postgresql+psycopg://``) instead of psycopg2 (``postgresql://``, the default); the
results then go to ``benchmarks/results/run_overhead_psycopg.md`` unless ``--output``
says otherwise.

    .venv/bin/python benchmarks/run_overhead.py [--trials 1000] [--concurrency 2] [--pg-driver psycopg]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid as uuid_module
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
from machine import described

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
POLYAXON = str(BIN / "polyaxon")
PG = os.environ.get("POLYAXON_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
REDIS = os.environ.get("POLYAXON_BENCH_REDIS", "redis://127.0.0.1:6379/13")
TRIAL = ("from polyaxon_core import tracking; tracking.init(); "
         "tracking.log_metrics(loss={{ x }}); tracking.end()")
FLOOR = [sys.executable, "-c", "from polyaxon_core import tracking"]
BARE_CELERY = '''
import subprocess
from celery import Celery

app = Celery("bare", broker={broker!r}, backend={broker!r})
app.conf.update(worker_prefetch_multiplier=1, task_acks_late=True)


@app.task
def run(command):
    return subprocess.run(command, check=True).returncode
'''


def sweep_file(work: Path, trials: int, concurrency: int) -> Path:
    path = work / "sweep.json"
    path.write_text(json.dumps({
        "version": 1.1, "kind": "operation", "name": "trivial",
        "matrix": {"kind": "random", "numRuns": trials, "concurrency": concurrency, "seed": 1,
                   "params": {"x": {"kind": "uniform", "value": {"low": 0, "high": 1}}}},
        "component": {"inputs": [{"name": "x", "type": "float"}], "run": {
            "kind": "job", "container": {"command": ["python", "-c", TRIAL]}}},
    }))
    return path


def _environment(home: Path, concurrency: int, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("POLYAXON_")}
    env.update(POLYAXON_HOME=str(home), POLYAXON_ORCHESTRATOR="external",
               POLYAXON_MAX_CONCURRENCY=str(concurrency), POLYAXON_CONCURRENCY=str(concurrency),
               POLYAXON_RESOURCES_INTERVAL="0", POLYAXON_PROJECT="bench", **extra)
    return env


def _wait_final(db_url: str, uuid: str) -> str:
    from sqlalchemy import select

    from polyaxon_core.db.models import Run
    from polyaxon_core.db.session import session_scope
    from polyaxon_core.lifecycle import is_final

    while True:
        with session_scope(db_url) as session:
            status = session.scalar(select(Run.status).where(Run.uuid == uuid))
        if status is not None and is_final(status):
            return str(status)
        time.sleep(0.05)  # reading the outcome, not synchronizing the work


def _latencies(db_url: str, uuid: str) -> list[float]:
    """Seconds from each trial's ``queued`` to its ``running``."""
    from sqlalchemy import select

    from polyaxon_core.db.models import Run, RunStatusCondition
    from polyaxon_core.db.session import session_scope

    with session_scope(db_url) as session:
        sweep = session.scalar(select(Run.id).where(Run.uuid == uuid))
        rows = session.execute(
            select(RunStatusCondition.run_id, RunStatusCondition.status, RunStatusCondition.created_at)
            .join(Run, Run.id == RunStatusCondition.run_id)
            .where(Run.pipeline_id == sweep, RunStatusCondition.status.in_(["queued", "running"]))).all()
    times: dict[int, dict[str, datetime]] = {}
    for run_id, status, created in rows:
        times.setdefault(run_id, {}).setdefault(status, created)
    return [(each["running"] - each["queued"]).total_seconds() for each in times.values()
            if "running" in each and "queued" in each]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and of its children still alive (a worker's pool
    processes, the runners in them and their keepers, the local scheduler's supervisor and
    the runners in it; not the runs' own processes, which have ended)."""
    process = psutil.Process(pid)
    return sum(sum(each.cpu_times()[:2]) for each in [process, *process.children(recursive=True)])


def services_cpu() -> dict[str, float]:
    """CPU seconds (user + system) spent so far by this machine's PostgreSQL and Redis
    server processes, the ones alive now (the benchmark runs alone on the machine)."""
    spent = {"postgres": 0.0, "redis": 0.0}
    for process in psutil.process_iter(["name"]):
        name = process.info["name"] or ""
        service = "postgres" if name.startswith("postgres") else "redis" if name.startswith("redis") else None
        if service is None:
            continue
        try:
            spent[service] += sum(process.cpu_times()[:2])
        except psutil.Error:  # ended meanwhile (a connection's backend)
            continue
    return spent


def _spent(before: dict[str, float]) -> dict[str, float]:
    return {service: seconds - before[service] for service, seconds in services_cpu().items()}


def ours(env: dict[str, str], db_url: str, sweep: Path, trials: int,
         processes: list[list[str]]) -> tuple[float, float, list[float], dict[str, float]]:
    """Seconds from the submit to the sweep's end, the median trial latency, the CPU
    seconds each of ``processes`` spent, and those of the database and the broker."""
    subprocess.run([POLYAXON, "project", "create", "bench"], env=env, check=True, capture_output=True)
    started = []
    home = Path(env["POLYAXON_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    try:
        for index, command in enumerate(processes):
            log = open(home / f"process-{index}.log", "wb")  # noqa: SIM115 - closed with the process
            started.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT))
        for index, command in enumerate(processes):
            if "worker" not in command:
                continue
            worker_log = home / f"process-{index}.log"
            while " ready." not in worker_log.read_text():
                if started[index].poll() is not None:
                    raise SystemExit(f"the worker did not start; see {worker_log}")
                time.sleep(0.1)  # waiting for the worker to connect, before the clock starts
        services = services_cpu()
        begin = time.perf_counter()
        submitted = subprocess.run([POLYAXON, "run", "-f", str(sweep), "-o", "json"], env=env,
                                   check=True, capture_output=True, text=True)
        uuid = json.loads(submitted.stdout)["uuid"]
        status = _wait_final(db_url, uuid)
        elapsed = time.perf_counter() - begin
        spent = _spent(services)
        if status != "succeeded":
            raise SystemExit(f"the sweep ended {status}; see {home}")
        cpu = [_cpu_seconds(process.pid) for process in started]
        latencies = _latencies(db_url, uuid)
        if len(latencies) != trials:
            raise SystemExit(f"{len(latencies)} trials ran instead of {trials}; see {home}")
        return elapsed, statistics.median(latencies), cpu, spent
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def local_floor(trials: int, concurrency: int) -> float:
    begin = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(lambda _: subprocess.run(FLOOR, check=True), range(trials)))
    return time.perf_counter() - begin


def celery_floor(work: Path, trials: int, concurrency: int) -> tuple[float, dict[str, float]]:
    module = work / "bare_tasks.py"
    module.write_text(BARE_CELERY.format(broker=REDIS))
    env = {**os.environ, "PYTHONPATH": str(work)}
    subprocess.run([str(BIN / "celery"), "-A", "bare_tasks", "purge", "-f"], env=env, cwd=work,
                   check=True, capture_output=True)
    log = work / "bare-worker.log"
    with open(log, "wb") as output:
        worker = subprocess.Popen([str(BIN / "celery"), "-A", "bare_tasks", "worker", "--pool=prefork",
                                   f"--concurrency={concurrency}", "--without-gossip",
                                   "--without-mingle", "--without-heartbeat", "--loglevel=INFO", "-n",
                                   f"bare-{uuid_module.uuid4().hex[:6]}@%h"],
                                  env=env, cwd=work, stdout=output, stderr=subprocess.STDOUT)
    try:
        while " ready." not in log.read_text():
            time.sleep(0.1)  # waiting for the worker to connect, before the clock starts
        sys.path.insert(0, str(work))
        import bare_tasks  # type: ignore[import-not-found]
        from celery import group

        services = services_cpu()
        begin = time.perf_counter()
        results = group(bare_tasks.run.s(FLOOR) for _ in range(trials)).apply_async()
        codes = results.get(timeout=3600)
        elapsed = time.perf_counter() - begin
        spent = _spent(services)
        assert codes == [0] * trials
        return elapsed, spent
    finally:
        worker.terminate()
        worker.wait(60)


def fresh_postgres() -> str:
    from sqlalchemy import create_engine, text

    name = f"bench_{uuid_module.uuid4().hex[:8]}"
    engine = create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return f"{PG}/{name}"


def with_driver(url: str, driver: str) -> str:
    """The PostgreSQL ``url`` through ``driver`` (psycopg2: the plain ``postgresql://``)."""
    return url if driver == "psycopg2" else url.replace("postgresql://", f"postgresql+{driver}://", 1)


def drop_postgres(url: str, driver: str) -> None:
    from sqlalchemy import create_engine, text

    from polyaxon_core.db.session import get_engine

    get_engine(with_driver(url, driver)).dispose()
    name = url.rsplit("/", 1)[1]
    engine = create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--pg-driver", choices=["psycopg2", "psycopg"], default="psycopg2")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    suffix = "" if args.pg_driver == "psycopg2" else f"_{args.pg_driver}"
    output = args.output or ROOT / f"benchmarks/results/run_overhead{suffix}.md"
    n, c = args.trials, args.concurrency
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        sweep = sweep_file(work, n, c)

        home = work / "local"
        env = _environment(home, c)
        results["local"] = ours(env, f"sqlite:///{home / 'polyaxon.db'}", sweep, n,
                                [[POLYAXON, "scheduler"]])
        print(f"local: {results['local'][0]:.1f} s", flush=True)
        results["local floor"] = local_floor(n, c)
        print(f"local floor: {results['local floor']:.1f} s", flush=True)

        results["celery floor"], floor_services = celery_floor(work, n, c)
        print(f"celery floor: {results['celery floor']:.1f} s", flush=True)
        created = fresh_postgres()
        db_url = with_driver(created, args.pg_driver)
        try:
            home = work / "celery"
            env = _environment(home, c, POLYAXON_DB_URL=db_url, POLYAXON_SCHEDULER="celery",
                               POLYAXON_BROKER_URL=REDIS)
            subprocess.run([str(BIN / "celery"), "-b", REDIS, "purge", "-f", "-Q", "polyaxon.default"],
                           env=env, capture_output=True, check=False)
            results["celery"] = ours(env, db_url, sweep, n, [
                [POLYAXON, "scheduler"], [POLYAXON, "worker", "--concurrency", str(c)]])
            print(f"celery: {results['celery'][0]:.1f} s", flush=True)
        finally:
            drop_postgres(created, args.pg_driver)

    local, local_latency, (local_orchestrator,), _ = results["local"]
    celery, celery_latency, (celery_orchestrator, celery_worker), services = results["celery"]
    per_trial = (local - results["local floor"]) * c / n * 1000
    celery_ratio = celery / results["celery floor"]
    lines = [
        "# Per-run overhead: trivial trials against the floor",
        "",
        f"Generated by `benchmarks/run_overhead.py --trials {n} --concurrency {c}"
        f"{'' if args.pg_driver == 'psycopg2' else ' --pg-driver ' + args.pg_driver}`: a random "
        f"sweep of {n} trials, each `python -c` importing the tracking SDK and logging one "
        f"metric, {c} at once. Local: SQLite and local processes, against a loop starting "
        f"{n} `python -c` processes that import the SDK, {c} at once. Celery: PostgreSQL "
        f"(through {'psycopg 3' if args.pg_driver == 'psycopg' else 'psycopg2'}), "
        f"Redis, one `polyaxon worker --concurrency {c}`, against the same commands sent as "
        f"bare Celery tasks to a bare worker of concurrency {c} over the same Redis. "
        "One run of each, in this order: local, local floor, Celery floor, Celery.",
        "",
        "| | seconds | per trial (ms) | submit-to-start, median (ms) |",
        "|---|---|---|---|",
        f"| local scheduler | {local:.1f} | {local / n * 1000:.1f} | {local_latency * 1000:.0f} |",
        f"| local floor | {results['local floor']:.1f} | {results['local floor'] / n * 1000:.1f} | — |",
        f"| Celery scheduler | {celery:.1f} | {celery / n * 1000:.1f} | {celery_latency * 1000:.0f} |",
        f"| bare Celery | {results['celery floor']:.1f} | {results['celery floor'] / n * 1000:.1f} | — |",
        "",
        f"- local orchestration overhead: **{per_trial:.0f} ms per trial** ((ours - floor) x "
        f"{c} / {n}); goal at most 100 ms: {'met' if per_trial <= 100 else 'not met'}",
        f"- Celery: **{celery_ratio:.2f}x** bare Celery's wall time; goal at most 1.5x: "
        f"{'met' if celery_ratio <= 1.5 else 'not met'}",
        f"- CPU per trial (user + system): local, `polyaxon scheduler` with its supervisor "
        f"(the runners included) {local_orchestrator / n * 1000:.1f} ms; Celery, "
        f"`polyaxon scheduler` {celery_orchestrator / n * 1000:.1f} ms and `polyaxon worker` "
        f"with its pool processes and their keepers (the runners included, threads of the "
        f"pool processes) {celery_worker / n * 1000:.1f} ms (the runs' own processes not "
        "included)",
        f"- CPU per trial of the services: on Celery, PostgreSQL {services['postgres'] / n * 1000:.1f} ms "
        f"and Redis {services['redis'] / n * 1000:.1f} ms; bare Celery, Redis "
        f"{floor_services['redis'] / n * 1000:.1f} ms (its results are kept in Redis; it uses no "
        "database)",
        *described(),
        "",
    ]
    output.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
