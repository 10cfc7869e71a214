"""What the Kubernetes scheduler costs per run: rendering the manifests of a sweep's trials,
side by side with the official Polyaxon's converter, and the API calls of a run's life.

1. Rendering. For each of ``--trials`` trials of a sweep (the same operation, its ``lr``
   param set to the trial's value), from the operation's text (JSON, as the orchestrator
   stores a run's content) to the manifests to create:

   * ours: parse and validate the operation, render the container and the run section
     with the trial's inputs (what the orchestrator does for every trial), build the launch
     and render its objects (``polyaxon_schedulers.kubernetes.scheduler.manifests``): the
     Secret with the run's token and the Job;
   * the official client (``.venv-official``): ``Executor.make_and_convert`` of its
     Kubernetes agent (read, compile, resolve, convert to its ``Operation`` custom
     resource), then ``sanitize_for_serialization``: the JSON its agent sends.

   Both in their own process, after a warm-up; reported: the time per run (median of
   ``--repetitions`` rounds) and the ratio ours / official.

2. API calls per run. ``--runs`` runs go through the scheduler against the Kubernetes API
   stand-in (a mock on 127.0.0.1 whose kubelet runs each pod's command here): submit,
   poll all active runs every 50 ms as the orchestrator does, clean up when final. Every
   request the stand-in received is counted by kind. The official agent's calls cannot be
   counted here (its operator runs in the cluster), so this part is reported alone.

Run: ``.venv/bin/python benchmarks/kubernetes_manifests.py`` (``make bench`` does).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
OFFICIAL = ROOT / ".venv-official" / "bin" / "python"

OPERATION = """
version: 1.1
kind: operation
termination: {maxRetries: 2, ttl: 600}
params:
  lr: {value: LR}
component:
  name: train
  inputs: [{name: lr, type: float}, {name: epochs, type: int, value: 10, isOptional: true}]
  run:
    kind: job
    environment:
      labels: {team: vision}
      nodeSelector: {pool: gpu}
      tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
    container:
      image: python:3.11-slim
      command: [python, train.py]
      args: ["--lr={{ lr }}", "--epochs={{ epochs }}"]
      resources: {requests: {cpu: 1, memory: 2Gi}, limits: {cpu: 2, memory: 4Gi}}
"""

OURS = r"""
import json, sys, time, uuid
from polyaxon_core.entities import LaunchRequest, RunEntity
from polyaxon_core.spec import parse_operation
from polyaxon_schedulers.kubernetes.scheduler import manifests

operation, trials, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def one(value):
    run_uuid = uuid.uuid4().hex
    spec = parse_operation(json.loads(operation.replace('"LR"', repr(value))))
    inputs = spec.resolve_inputs({})
    context = {"uuid": run_uuid, "project_name": "bench", "owner_name": "default",
               "run_artifacts_path": "/plx-context/artifacts"}
    run = RunEntity(uuid=run_uuid, project="bench", owner="default", name="train", kind="job",
                    runtime="job", status="scheduled", meta_info={"attempts": 1})
    launch = LaunchRequest(run=run, container=spec.render_container(inputs, context),
                           env={"POLYAXON_RUN_UUID": run_uuid, "POLYAXON_AUTH_TOKEN": "t" + run_uuid},
                           run_path="/srv/runs/" + run_uuid,
                           run_section=spec.render_run(inputs, context),
                           termination={"max_retries": 2, "ttl": 600})
    return manifests(launch, "ml", "polyaxon-core/polyaxon-init:latest")


def kinds(objects):
    return [o["kind"] for o in objects]
"""

OFFICIAL_SCRIPT = r"""
import json, sys, time, uuid
from kubernetes import client as k8s
from polyaxon import settings
from polyaxon._connections import V1Connection, V1ConnectionKind, V1HostPathConnection
from polyaxon._k8s.executor.executor import Executor
from polyaxon._schemas.agent import AgentConfig

operation, trials, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
store = V1Connection(name="store", kind=V1ConnectionKind.HOST_PATH,
                     schema_=V1HostPathConnection(host_path="/data/store", mount_path="/store"))
settings.AGENT_CONFIG = AgentConfig(namespace="ml", artifacts_store=store, connections=[])
api = k8s.ApiClient()

def one(value):
    return api.sanitize_for_serialization(Executor.make_and_convert(
        owner_name="default", project_name="bench", run_uuid=uuid.uuid4().hex, run_name="train",
        content=operation.replace('"LR"', repr(value)), default_auth=False))


def kinds(resource):
    return [f"{resource.get('kind')} ({resource.get('apiVersion')})"]
"""

#: appended to both scripts: 20 trials of warm-up, then the timed rounds
TIMING = r"""
for value in range(20):
    one(0.001 * (value + 1))
times = []
for _ in range(rounds):
    start = time.perf_counter()
    for index in range(trials):
        last = one(0.001 * (index + 1))
    times.append((time.perf_counter() - start) / trials)
print(json.dumps({"times": times, "kinds": kinds(last)}))
"""


def rendering(python: Path, script: str, trials: int, rounds: int) -> dict[str, Any]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("POLYAXON_")}
    with tempfile.TemporaryDirectory() as home:
        env.update(HOME=home, POLYAXON_HOME=home)
        # as JSON, as the orchestrator keeps a run's content (both read JSON)
        text = json.dumps(yaml.safe_load(OPERATION))
        done = subprocess.run([str(python), "-c", script + TIMING, text, str(trials), str(rounds)],
                              capture_output=True, text=True, check=True, env=env, cwd=home)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def api_calls(runs: int) -> tuple[Counter[str], float]:
    from polyaxon_schedulers.kubernetes import standin
    from polyaxon_schedulers.kubernetes.scheduler import KubernetesScheduler

    from polyaxon_core.config import load_settings
    from polyaxon_core.entities import ContainerSpec, LaunchRequest, RunEntity
    from polyaxon_core.interfaces.scheduler import ActiveRun
    from polyaxon_core.lifecycle import is_final

    cluster = standin.start(standin.Cluster(kubelet=True, validate_version=None))
    home = tempfile.mkdtemp(prefix="kubernetes-bench-")
    os.environ.update(POLYAXON_HOME=home, POLYAXON_K8S_API=cluster.url, POLYAXON_K8S_NAMESPACE="ml")
    scheduler = KubernetesScheduler(load_settings())
    launches = []
    for index in range(runs):
        run_uuid = uuid.uuid4().hex
        run = RunEntity(uuid=run_uuid, project="bench", owner="default", name="train", kind="job",
                        runtime="job", status="starting", meta_info={"attempts": 1})
        script = f"print('trial {index}')"
        launches.append(LaunchRequest(
            run=run, container=ContainerSpec(image="python:3.11-slim", command=("python", "-c", script)),
            env={"POLYAXON_RUN_UUID": run_uuid, "POLYAXON_AUTH_TOKEN": "t-" + run_uuid},
            run_path="/srv/runs/" + run_uuid, run_section={"kind": "job"}))
    start = time.perf_counter()
    active = {launch.run.uuid: ActiveRun(launch.run, scheduler.submit(launch)) for launch in launches}
    while active:
        for update in scheduler.sync(list(active.values())):
            if is_final(update.status):
                item = active.pop(update.run_uuid)
                scheduler.cleanup(item.run, item.handle)
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    scheduler.close()
    cluster.close()
    counted: Counter[str] = Counter()
    for method, path in cluster.cluster.requests:
        if method == "GET" and "watch=true" in path:
            counted["watch (GET ?watch)"] += 1
        elif method == "GET" and path.split("?")[0].endswith("/log"):
            counted["pod log (GET .../log)"] += 1
        elif method == "GET" and "labelSelector" in path:
            counted["list (GET ?labelSelector)"] += 1
        else:
            parts = path.split("?")[0].split("/")
            counted[f"{method} {parts[-1] if method == 'POST' else parts[-2]}"] += 1
    return counted, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--output", type=Path,
                        default=ROOT / "benchmarks" / "results" / "kubernetes_manifests.md")
    args = parser.parse_args()

    ours = rendering(Path(sys.executable), OURS, args.trials, args.repetitions)
    official = rendering(OFFICIAL, OFFICIAL_SCRIPT, args.trials, args.repetitions)
    calls, elapsed = api_calls(args.runs)

    ours_ms = statistics.median(ours["times"]) * 1000
    official_ms = statistics.median(official["times"]) * 1000
    ours_rounds = ", ".join(f"{t * 1000:.3f}" for t in ours["times"])
    official_rounds = ", ".join(f"{t * 1000:.3f}" for t in official["times"])
    lines = [
        "# Kubernetes manifests and API calls per run",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `benchmarks/kubernetes_manifests.py "
        f"--trials {args.trials} --repetitions {args.repetitions} --runs {args.runs}`.",
        "",
        f"- Python {platform.python_version()}; {platform.machine()}, {os.cpu_count()} logical "
        f"CPUs, {platform.system()} {platform.release()}; 1-minute load average "
        f"{os.getloadavg()[0]:.2f} at the end",
        "",
        f"## Rendering the manifests of {args.trials} trials of a sweep",
        "",
        "| | per run (median of rounds) | rounds (ms per run) | what comes out |",
        "|---|---|---|---|",
        f"| polyaxon-core | {ours_ms:.3f} ms | {ours_rounds} | {', '.join(ours['kinds'])} |",
        f"| official Polyaxon (`Executor.make_and_convert`) | {official_ms:.3f} ms | "
        f"{official_rounds} | {', '.join(official['kinds'])}: a custom resource its operator "
        "turns into the Job |",
        "",
        f"Ratio ours / official: **{ours_ms / official_ms:.2f}x** (lower is faster).",
        "",
        f"## API calls for {args.runs} runs, submit to cleanup",
        "",
        f"All {args.runs} runs submitted at once and polled every 50 ms until final "
        f"({elapsed:.1f} s in all), against the Kubernetes API stand-in.",
        "",
        "| request | calls | per run |",
        "|---|---|---|",
    ]
    for kind, count in sorted(calls.items()):
        lines.append(f"| {kind} | {count} | {count / args.runs:.2f} |")
    total = sum(calls.values())
    lines += [f"| **all** | {total} | **{total / args.runs:.2f}** |", "",
              "The lists and watches (one of each for Jobs and for pods) serve every run at once; "
              "polling reads what they keep and makes no request. The official agent's calls are "
              "not counted: its operator, which creates the Job, runs in the cluster.", ""]
    args.output.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
