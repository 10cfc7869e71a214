"""Time the `polyaxon` command line of polyaxon-core beside the official Polyaxon client.

Each command is timed as a whole process, start to exit, the way a user meets it:

* ``polyaxon --help``
* ``polyaxon ops ls -p PROJECT``: ours reads a SQLite database in a temporary
  POLYAXON_HOME holding the project and a few runs; the official client needs an API
  server, so it is pointed (POLYAXON_HOST) at a stand-in on 127.0.0.1 started by this
  script, which answers the list-runs request with as many runs as ours lists.
* importing the tracking SDK, as a run's script does first: ``from polyaxon_core import
  tracking`` beside ``from polyaxon import tracking``, each with its tool's interpreter.

After warm-up rounds the six commands are run in a shuffled order in every round, so
both tools see the same machine state; the medians, interquartile ranges and the ratio
ours/official are printed and written to ``benchmarks/results/cli_startup.md``.

    .venv/bin/python benchmarks/cli_startup.py [--repetitions 15] [--warmup 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import select

from polyaxon_core.db.models import Project, Run
from polyaxon_core.db.session import session_scope

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "bench"
RUN_COUNT = 5
#: ours must take at most this fraction of the official client's time
TARGET_RATIO = 0.5


@dataclass(frozen=True)
class Command:
    """One command line of one tool, with the environment it runs in."""

    tool: str
    label: str
    argv: list[str]
    env: dict[str, str]


class StandInApi(BaseHTTPRequestHandler):
    """Answers ``GET /api/v1/<owner>/<project>/runs``, the one request of `ops ls`."""

    runs: list[dict[str, Any]] = []
    answered: list[str] = []
    unexpected: list[str] = []

    def do_GET(self) -> None:
        if re.fullmatch(r"/api/v1/[^/]+/[^/]+/runs(\?.*)?", self.path):
            self.answered.append(self.path)
            self._reply(200, {"count": len(self.runs), "results": self.runs,
                              "previous": None, "next": None})
        else:
            self.unexpected.append(f"GET {self.path}")
            self._reply(404, {"detail": "not part of the stand-in"})

    def do_POST(self) -> None:
        self.unexpected.append(f"POST {self.path}")
        self._reply(404, {"detail": "not part of the stand-in"})

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the benchmark's output to the results."""


def sample_runs() -> list[dict[str, Any]]:
    """Finished trials of a small sweep, as plain values both tools can list."""
    started = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    return [
        {
            "name": f"digits-mlp-{index}",
            "status": "succeeded",
            "inputs": {"learning_rate": 0.001 * (index + 1), "hidden_units": 64},
            "outputs": {"val_accuracy": 0.9 + index / 100},
            "created_at": started + timedelta(minutes=index),
            "duration": 2.0 + index / 10,
        }
        for index in range(RUN_COUNT)
    ]


def prepare_ours(polyaxon: Path, home: Path, env: dict[str, str]) -> None:
    """A database with the project, through our CLI, and its runs, through our models."""
    for argv in (["init"], ["project", "create", PROJECT]):
        check_call(Command("ours", " ".join(argv), [str(polyaxon), *argv], env), home)
    with session_scope(env["POLYAXON_DB_URL"]) as session:
        project = session.scalars(select(Project).where(Project.name == PROJECT)).one()
        for sample in sample_runs():
            session.add(Run(
                project=project, kind="job", runtime="job", name=sample["name"],
                status=sample["status"], inputs=sample["inputs"], outputs=sample["outputs"],
                last_metrics=sample["outputs"], created_at=sample["created_at"],
                started_at=sample["created_at"],
                finished_at=sample["created_at"] + timedelta(seconds=sample["duration"]),
                duration=sample["duration"],
            ))


def official_runs() -> list[dict[str, Any]]:
    """The same runs in the shape of the official API's V1Run."""
    return [
        {
            "uuid": f"{index + 1:032x}", "name": sample["name"], "owner": "default",
            "project": PROJECT, "kind": "job", "runtime": "job", "status": sample["status"],
            "inputs": sample["inputs"], "outputs": sample["outputs"], "tags": [],
            "created_at": sample["created_at"].isoformat(),
            "started_at": sample["created_at"].isoformat(),
            "finished_at": (sample["created_at"]
                            + timedelta(seconds=sample["duration"])).isoformat(),
            "duration": sample["duration"],
        }
        for index, sample in enumerate(sample_runs())
    ]


def check_call(command: Command, cwd: Path) -> None:
    """Run ``command`` once; stop the benchmark with its output if it fails."""
    result = subprocess.run(command.argv, cwd=cwd, env=command.env, capture_output=True,
                            text=True)
    if result.returncode != 0:
        sys.exit(f"{command.tool} `{command.label}` exited with {result.returncode}:\n"
                 f"{result.stdout}{result.stderr}")


def time_once(command: Command, cwd: Path) -> float:
    """Seconds from starting the process to its exit; a failure stops the benchmark."""
    begin = time.perf_counter()
    result = subprocess.run(command.argv, cwd=cwd, env=command.env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - begin
    if result.returncode != 0:
        sys.exit(f"{command.tool} `{command.label}` exited with {result.returncode}:\n"
                 f"{result.stderr}")
    return elapsed


def summary(samples: list[float]) -> tuple[float, float, float]:
    """Median, first and third quartile, in milliseconds."""
    first, median, third = statistics.quantiles(samples, n=4, method="inclusive")
    return median * 1000, first * 1000, third * 1000


def base_environment(home: Path) -> dict[str, str]:
    """The caller's environment without POLYAXON_* settings, HOME moved to ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYAXON_")}
    env.update(HOME=str(home), COLUMNS="120", PYTHONDONTWRITEBYTECODE="1")
    return env


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def tool_version(python: Path, distribution: str) -> str:
    """``distribution``'s version and the Python version of the interpreter ``python``."""
    script = ("import importlib.metadata as m, platform; "
              f"print(m.version({distribution!r}), platform.python_version())")
    version, python_version = subprocess.run(
        [str(python), "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    return f"{distribution} {version} on Python {python_version}"


def render(rows: list[tuple[str, list[float], list[float]]], args: argparse.Namespace,
           stand_in_requests: int, load: tuple[float, float]) -> str:
    ours_version = tool_version(args.ours.parent / "python", "polyaxon-core")
    official_version = tool_version(args.official.parent / "python", "polyaxon")
    lines = [
        "# CLI start-up: polyaxon-core vs the official Polyaxon client",
        "",
        "Generated by `benchmarks/cli_startup.py`; each figure is the wall time of a whole",
        "process, from start to exit. Median and interquartile range (p25-p75) of "
        f"{args.repetitions} runs",
        f"per command after {args.warmup} warm-up round(s), the six commands shuffled in "
        "every round.",
        "",
        "| command | ours (ms) | official (ms) | ours / official | target ≤ "
        f"{TARGET_RATIO:g} |",
        "|---|---|---|---|---|",
    ]
    for label, ours, official in rows:
        ours_median, ours_low, ours_high = summary(ours)
        official_median, official_low, official_high = summary(official)
        ratio = ours_median / official_median
        lines.append(
            f"| `{label}` | {ours_median:.0f} ({ours_low:.0f}-{ours_high:.0f}) "
            f"| {official_median:.0f} ({official_low:.0f}-{official_high:.0f}) "
            f"| {ratio:.2f} | {'met' if ratio <= TARGET_RATIO else 'not met'} |"
        )
    lines += [
        "",
        f"- ours: {ours_version}, `ops ls` on SQLite in a temporary "
        f"POLYAXON_HOME with 1 project and {RUN_COUNT} runs",
        f"- official: {official_version}, `ops ls` against a stand-in API server on "
        f"127.0.0.1 (started by the script) returning the same {RUN_COUNT} runs; "
        f"it received {stand_in_requests} list-runs requests",
        f"- machine: {cpu_model()}, {os.cpu_count()} logical CPUs, {platform.system()} "
        f"{platform.release()}; 1-minute load average {load[0]:.2f} before, {load[1]:.2f} after",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
    ]
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repetitions", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--ours", type=Path, default=Path(sys.executable).parent / "polyaxon")
    parser.add_argument("--official", type=Path,
                        default=ROOT / ".venv-official" / "bin" / "polyaxon")
    parser.add_argument("--output", type=Path,
                        default=ROOT / "benchmarks" / "results" / "cli_startup.md")
    parser.add_argument("--seed", type=int, default=0, help="of the shuffled order")
    args = parser.parse_args()
    if args.repetitions < 2:
        parser.error("--repetitions must be at least 2 to give quartiles")
    for name in ("ours", "official"):
        if not getattr(args, name).exists():
            parser.error(f"--{name}: {getattr(args, name)} does not exist "
                         "(`make install official-client` installs both)")
    return args


def main() -> None:
    args = parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="polyaxon-bench-") as folder:
        work = Path(folder)
        ours_env = base_environment(work / "ours-user")
        ours_env.update(POLYAXON_HOME=str(work / "ours"),
                        POLYAXON_DB_URL=f"sqlite:///{work / 'ours' / 'polyaxon.db'}")
        official_env = base_environment(work / "official-user")
        for path in (work / "ours-user", work / "official-user"):
            path.mkdir()
        prepare_ours(args.ours, work, ours_env)

        StandInApi.runs = official_runs()
        server = ThreadingHTTPServer(("127.0.0.1", 0), StandInApi)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        official_env.update(POLYAXON_HOME=str(work / "official"),
                            POLYAXON_HOST=f"http://127.0.0.1:{server.server_port}")
        try:
            commands = {
                f"polyaxon {label}": (
                    Command("ours", f"polyaxon {label}", [str(args.ours), *argv], ours_env),
                    Command("official", f"polyaxon {label}", [str(args.official), *argv], official_env))
                for label, argv in (("--help", ["--help"]),
                                    (f"ops ls -p {PROJECT}", ["ops", "ls", "-p", PROJECT]))
            }
            # what every run pays before its first line of training code
            importing = "import the tracking SDK"
            commands[importing] = (
                Command("ours", importing, [str(args.ours.parent / "python"), "-c",
                                            "from polyaxon_core import tracking"], ours_env),
                Command("official", importing, [str(args.official.parent / "python"), "-c",
                                                "from polyaxon import tracking"], official_env))
            pairs = [command for pair in commands.values() for command in pair]
            samples: dict[tuple[str, str], list[float]] = {
                (c.tool, c.label): [] for c in pairs
            }
            order = random.Random(args.seed)
            for round_number in range(args.warmup + args.repetitions):
                order.shuffle(pairs)
                for command in pairs:
                    elapsed = time_once(command, work)
                    if round_number >= args.warmup:
                        samples[(command.tool, command.label)].append(elapsed)
        finally:
            server.shutdown()
    # Every official `ops ls` must have fetched its runs from the stand-in, and nothing else.
    if StandInApi.unexpected:
        sys.exit("the official client made requests the stand-in does not answer: "
                 + ", ".join(sorted(set(StandInApi.unexpected))))
    requests = len(StandInApi.answered)
    if requests != args.warmup + args.repetitions:
        sys.exit(f"the stand-in answered {requests} list-runs requests for "
                 f"{args.warmup + args.repetitions} official `ops ls` runs")

    rows = [(label, samples[("ours", label)], samples[("official", label)])
            for label in commands]
    report = render(rows, args, requests, (load_before, os.getloadavg()[0]))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    print(report)
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
