"""A controllable workload for the orchestrator tests.

It records when it started and ended (so tests can check concurrency), can fail its
first N attempts (retries), sleep (timeouts, stops), exit with a code, and log metrics.
"""

import argparse
import json
import os
import time
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--sleep", type=float, default=0.0)
parser.add_argument("--exit-code", type=int, default=0)
parser.add_argument("--fail-attempts", type=int, default=0)
parser.add_argument("--record-dir", default="")
parser.add_argument("--x", type=float, default=0.0)
args = parser.parse_args()

uuid = os.environ["POLYAXON_RUN_UUID"]
record = Path(args.record_dir) if args.record_dir else None
started = time.time()
if record is not None:
    record.mkdir(parents=True, exist_ok=True)
    with open(record / f"{uuid}.starts", "a") as starts:
        starts.write(f"{started}\n")

from polyaxon_core import tracking  # noqa: E402 - after the start is recorded

tracking.init()
print(f"task {uuid} x={args.x}", flush=True)
for step in range(3):
    tracking.log_metrics(step=step, score=args.x * (step + 1), loss=1.0 / (step + 1))
time.sleep(args.sleep)
tracking.log_outputs(result=args.x * 3)

attempts_file = Path(os.environ["POLYAXON_RUN_OUTPUTS_PATH"]) / "attempts"
attempts = int(attempts_file.read_text()) + 1 if attempts_file.exists() else 1
attempts_file.write_text(str(attempts))
if record is not None:
    (record / f"{uuid}.{attempts}.json").write_text(json.dumps({"start": started, "end": time.time()}))
if attempts <= args.fail_attempts:
    print(f"failing attempt {attempts}", flush=True)
    raise SystemExit(1)
raise SystemExit(args.exit_code)
