"""A 200-operation DAG of trivial operations, against a bare topological-order loop.

The DAG: one ``root``, a fan-out of ``--width`` operations after it, a ``join`` after all
of them, then a chain of operations one after the other (200 in all), each running
``python -c pass``, with the DAG's ``concurrency`` set to ``--concurrency``.

* ours: a fresh home (SQLite, local processes), ``polyaxon scheduler`` started apart
  (``POLYAXON_ORCHESTRATOR=external``, the machine-wide and default queue concurrency
  set to the same number), waited for until it says it started and has run one
  operation of the same command (what a long-lived orchestrator has done before: its
  supervisor of local runs is ready), then ``polyaxon run -f dag.yaml`` (which hands the
  submission to that orchestrator, :mod:`polyaxon_core.orchestrator.intake`): the time
  from the submit to the DAG's final status (read from the database every 20 ms), and the CPU time the
  orchestrator process, and the whole machine, spent meanwhile, per operation;
* the floor: the same commands started by a loop over :mod:`graphlib`'s ready set, at
  most ``--concurrency`` at once, each operation started as soon as its upstream ones
  ended: what a DAG of these commands costs with no bookkeeping at all.

The two alternate over ``--rounds`` rounds; the ratio of the medians ours / floor goes to
``benchmarks/results/dag_vs_floor.md``. Goal: at most 1.5x. With it, the ratio of each
round's two measurements (a machine whose speed drifts moves both alike), the whole
machine's CPU per operation on each side (the floor's too), and where a link of ours's
chain spends its time, read from the runs' timelines: from the previous operation's end to
this one being queued, claimed (``scheduled``), launched (``starting``) and ended; and
what ours spends before its first operation runs: ``polyaxon run`` itself, then the DAG's
start (from its creation to its first operation's launch).

    .venv/bin/python benchmarks/dag_vs_floor.py [--width 98] [--concurrency 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import closing
from graphlib import TopologicalSorter
from itertools import pairwise
from pathlib import Path
from typing import Any

import psutil
import yaml
from machine import described

ROOT = Path(__file__).resolve().parent.parent
POLYAXON = str(Path(sys.executable).parent / "polyaxon")
OPERATIONS = 200
COMMAND = [sys.executable, "-c", "pass"]
TARGET_RATIO = 1.5


def graph(width: int) -> dict[str, list[str]]:
    """Operation -> the operations it waits for."""
    chain = OPERATIONS - width - 2
    upstream: dict[str, list[str]] = {"root": []}
    fan = [f"fan-{index}" for index in range(width)]
    upstream.update({name: ["root"] for name in fan})
    upstream["join"] = fan
    previous = "join"
    for index in range(chain):
        upstream[f"link-{index}"] = [previous]
        previous = f"link-{index}"
    return upstream


def polyaxonfile(upstream: dict[str, list[str]], concurrency: int) -> str:
    step = {"name": "step", "run": {"kind": "job", "container": {"image": "python:3.11-slim",
                                                                  "command": COMMAND}}}
    return yaml.safe_dump({
        "version": 1.1, "kind": "component", "name": "trivial-dag",
        "run": {"kind": "dag", "concurrency": concurrency, "components": [step],
                "operations": [{"name": name, "dagRef": "step", "dependencies": parents}
                               for name, parents in upstream.items()]},
    }, sort_keys=False)


def floor(upstream: dict[str, list[str]], concurrency: int) -> tuple[float, float]:
    """Seconds to run the commands in topological order, ``concurrency`` at once, and the
    median milliseconds of a link of the chain (from one operation's end to the next's)."""
    order = TopologicalSorter(upstream)
    order.prepare()
    ended: dict[str, float] = {}
    begin = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        running: dict[Future[subprocess.CompletedProcess[bytes]], str] = {}
        while order.is_active():
            for name in order.get_ready():
                running[pool.submit(subprocess.run, COMMAND, check=True)] = name
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()
                name = running.pop(future)
                ended[name] = time.perf_counter()
                order.done(name)
    elapsed = time.perf_counter() - begin
    chain = [name for name in upstream if name.startswith("link-")]
    return elapsed, statistics.median(
        (ended[name] - ended[previous]) * 1000 for previous, name in pairwise(chain))


def warmup_file(work: Path) -> Path:
    """One operation of the DAG's command, run before the DAG is measured."""
    path = work / "warmup.yaml"
    path.write_text(yaml.safe_dump({
        "version": 1.1, "kind": "component", "name": "warm-up",
        "run": {"kind": "job", "container": {"image": "python:3.11-slim", "command": COMMAND}},
    }, sort_keys=False))
    return path


def submitted(env: dict[str, str], polyaxonfile: Path) -> str:
    """``polyaxon run -f polyaxonfile``; the uuid of the run."""
    done = subprocess.run([POLYAXON, "run", "-f", str(polyaxonfile), "-p", "bench", "-o", "json"],
                          env=env, check=True, capture_output=True, text=True)
    return str(yaml.safe_load(done.stdout)["uuid"])


def final_status(home: Path, uuid: str) -> str:
    """The run's final status, once it has one."""
    from polyaxon_core.lifecycle import is_final

    # the status read with sqlite3 alone: a read costs this script tens of microseconds
    with closing(sqlite3.connect(home / "polyaxon.db")) as database:
        while True:
            row = database.execute("SELECT status FROM runs WHERE uuid = ?", (uuid,)).fetchone()
            database.rollback()  # the next read sees what was committed since
            if row is not None and is_final(row[0]):
                return str(row[0])
            time.sleep(0.02)  # reading the outcome, not synchronizing the work


def ours(dag_file: Path, concurrency: int, work: Path) -> tuple[float, float, float, float, str]:
    """Seconds from the submit to the DAG's final status, the seconds ``polyaxon run``
    itself took, the CPU seconds of the orchestrator and of the whole machine meanwhile,
    and the URL of the database the DAG ran in."""
    home = Path(tempfile.mkdtemp(dir=work))
    env = {key: value for key, value in os.environ.items() if not key.startswith("POLYAXON_")}
    env.update(POLYAXON_HOME=str(home), POLYAXON_ORCHESTRATOR="external",
               POLYAXON_MAX_CONCURRENCY=str(concurrency), POLYAXON_CONCURRENCY=str(concurrency),
               POLYAXON_RESOURCES_INTERVAL="0")
    subprocess.run([POLYAXON, "project", "create", "bench"], env=env, check=True,
                   capture_output=True)
    log_path = home / "scheduler.log"
    with open(log_path, "wb") as log:
        scheduler = subprocess.Popen([POLYAXON, "scheduler"], env=env, stdout=log,
                                     stderr=subprocess.STDOUT)
    try:
        # a long-lived orchestrator: its own start (imports, migrations) is not the DAG's
        while b"orchestrator started" not in log_path.read_bytes():
            if scheduler.poll() is not None:
                raise SystemExit(f"the orchestrator did not start; see {log_path}")
            time.sleep(0.02)  # reading its log, not synchronizing the work
        warmed = final_status(home, submitted(env, warmup_file(work)))
        if warmed != "succeeded":
            raise SystemExit(f"the warm-up operation ended {warmed}; see {home}")
        process = psutil.Process(scheduler.pid)
        db_url = f"sqlite:///{home / 'polyaxon.db'}"
        before, machine_before = process.cpu_times(), machine_cpu()
        begin = time.perf_counter()
        uuid = submitted(env, dag_file)
        submit = time.perf_counter() - begin
        status = final_status(home, uuid)
        elapsed = time.perf_counter() - begin
        after, machine_after = process.cpu_times(), machine_cpu()
        if status != "succeeded":
            raise SystemExit(f"the DAG ended {status}; see {home}")
        return (elapsed, submit, (after.user + after.system) - (before.user + before.system),
                machine_after - machine_before, db_url)
    finally:
        scheduler.terminate()
        scheduler.wait(30)


#: the steps of a chain link: from the previous operation's end (``ended``) to this one's
LINK_STEPS = (("queued", "ended", "queued"), ("claimed", "queued", "scheduled"),
              ("launched", "scheduled", "starting"), ("ended", "starting", "succeeded"))


def chain_link(db_url: str, chain: int) -> dict[str, float]:
    """Median milliseconds of each step of the chain's links (``LINK_STEPS``), and of a
    whole link, from the runs' timelines in ``db_url``."""
    from sqlalchemy import select

    from polyaxon_core.db.models import Run, RunStatusCondition
    from polyaxon_core.db.session import session_scope

    with session_scope(db_url) as session:
        rows = session.execute(select(Run.name, RunStatusCondition.status, RunStatusCondition.created_at)
                               .join(RunStatusCondition, RunStatusCondition.run_id == Run.id)).all()
    moments: dict[str, dict[str, float]] = {}
    for name, status, at in rows:
        moments.setdefault(str(name), {})[status] = at.timestamp()
    steps: dict[str, list[float]] = {name: [] for name, _, _ in LINK_STEPS}
    steps["link"] = []
    for previous, this in pairwise(moments[f"link-{index}"] for index in range(chain)):
        this["ended"] = previous["succeeded"]
        for name, start, end in LINK_STEPS:
            steps[name].append((this[end] - this[start]) * 1000)
        steps["link"].append((this["succeeded"] - this["ended"]) * 1000)
    return {name: statistics.median(values) for name, values in steps.items()}


def dag_start(db_url: str) -> float:
    """Seconds from the DAG's creation to the launch of its first operation (``root``),
    from the timeline in ``db_url``."""
    from sqlalchemy import select

    from polyaxon_core.db.models import Run, RunStatusCondition
    from polyaxon_core.db.session import session_scope

    def moment(which: Any, status: str) -> Any:
        return (select(RunStatusCondition.created_at)
                .join(Run, RunStatusCondition.run_id == Run.id)
                .where(which, RunStatusCondition.status == status))

    with session_scope(db_url) as session:
        created = session.scalar(moment(Run.kind == "dag", "created"))
        launched = session.scalar(moment(Run.name == "root", "starting"))
    return float((launched - created).total_seconds())


def machine_cpu() -> float:
    """Seconds of CPU every process of this machine has spent so far (user and system, not
    the time a virtual machine's host took away)."""
    times = psutil.cpu_times()
    return float(times.user + times.nice + times.system + getattr(times, "irq", 0.0)
                 + getattr(times, "softirq", 0.0))


def summary(values: list[float]) -> str:
    quartiles = statistics.quantiles(values, n=4) if len(values) > 1 else values * 3
    return f"{statistics.median(values):.2f} ({quartiles[0]:.2f}-{quartiles[2]:.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=98)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks/results/dag_vs_floor.md")
    args = parser.parse_args()
    upstream = graph(args.width)
    times: dict[str, list[float]] = {"ours": [], "floor": []}
    cpu: list[float] = []
    machine: dict[str, list[float]] = {"ours": [], "floor": []}
    links: list[dict[str, float]] = []
    floor_links: list[float] = []
    submits: list[float] = []
    starts: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        dag_file = work / "dag.yaml"
        dag_file.write_text(polyaxonfile(upstream, args.concurrency))
        for round_number in range(args.rounds):
            for tool in (("ours", "floor") if round_number % 2 == 0 else ("floor", "ours")):
                if tool == "floor":
                    before = machine_cpu()
                    elapsed, floor_link = floor(upstream, args.concurrency)
                    machine["floor"].append(machine_cpu() - before)
                    times["floor"].append(elapsed)
                    floor_links.append(floor_link)
                else:
                    elapsed, submit, seconds, machine_seconds, db_url = ours(dag_file, args.concurrency, work)
                    times["ours"].append(elapsed)
                    submits.append(submit)
                    starts.append(dag_start(db_url))
                    cpu.append(seconds)
                    machine["ours"].append(machine_seconds)
                    links.append(chain_link(db_url, OPERATIONS - args.width - 2))
                print(f"round {round_number + 1}: {tool} {times[tool][-1]:.2f} s", flush=True)
    ratio = statistics.median(times["ours"]) / statistics.median(times["floor"])
    # this machine's speed drifts over minutes: each round's pair, measured side by side
    paired = [ours_time / floor_time
              for ours_time, floor_time in zip(times["ours"], times["floor"], strict=True)]
    after_submit = [total - submit for total, submit in zip(times["ours"], submits, strict=True)]
    per_operation = {tool: statistics.median(values) / OPERATIONS * 1000 for tool, values in times.items()}
    chain = OPERATIONS - args.width - 2
    link = {name: statistics.median(each[name] for each in links) for name in links[0]}
    lines = [
        "# A 200-operation DAG against a bare topological-order loop",
        "",
        f"Generated by `benchmarks/dag_vs_floor.py`: `root`, a fan-out of {args.width} "
        f"operations, `join`, then a chain of {chain}; each operation runs `python -c pass`; "
        f"{args.concurrency} at once. Ours: `polyaxon scheduler` (SQLite, local processes), "
        "already started and having run one operation of the same command, from the submit "
        "to the DAG's final status; the floor: the same commands started by "
        "a loop over graphlib's ready set in one process. Seconds, median and interquartile "
        f"range of {args.rounds} rounds, the two alternating. Goal: ours at most "
        f"{TARGET_RATIO}x the floor.",
        "",
        "| | seconds | per operation (ms) |",
        "|---|---|---|",
        f"| ours | {summary(times['ours'])} | {per_operation['ours']:.1f} |",
        f"| floor | {summary(times['floor'])} | {per_operation['floor']:.1f} |",
        "",
        f"- ours / floor: **{ratio:.2f}** ({'goal met' if ratio <= TARGET_RATIO else 'goal not met'})",
        f"- each round's ours / floor: median {statistics.median(paired):.2f}, from "
        f"{min(paired):.2f} to {max(paired):.2f}",
        f"- of ours, `polyaxon run` itself took {statistics.median(submits):.2f} s (median), and "
        f"the DAG's start {statistics.median(starts) * 1000:.0f} ms (from the DAG's creation to "
        f"its first operation's launch: its {OPERATIONS} operations created, the first queued, "
        f"claimed and handed to the scheduler); ours from the end of its submit: "
        f"{statistics.median(after_submit):.2f} s, "
        f"{statistics.median(after_submit) / statistics.median(times['floor']):.2f}x the floor",
        f"- the whole machine's CPU (user + system of every process, from `/proc/stat`) per "
        f"operation: ours {statistics.median(machine['ours']) / OPERATIONS * 1000:.1f} ms, the "
        f"floor {statistics.median(machine['floor']) / OPERATIONS * 1000:.1f} ms",
        f"- the orchestrator's own CPU: {statistics.median(cpu) / OPERATIONS * 1000:.1f} ms per "
        "operation (user + system of the `polyaxon scheduler` process from the submit to the "
        "DAG's end, its own start and its runs' processes not included)",
        f"- a link of the chain (median of each round's links, then of the rounds): ours "
        f"{link['link']:.1f} ms, the floor {statistics.median(floor_links):.1f} ms. Ours, from "
        f"the previous operation's end, queued after {link['queued']:.1f} ms, claimed "
        f"{link['claimed']:.1f} ms later, launched {link['launched']:.1f} ms later, ended "
        f"{link['ended']:.1f} ms later (the runner and the command, and the pass that sees the end)",
        *described(),
        "",
    ]
    args.output.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
