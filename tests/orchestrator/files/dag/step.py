"""One trivial DAG operation: records that it started, optionally waits, fails (always, or
while a file is missing) or sleeps, then logs ``out = v + 1`` as its output."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from polyaxon_core import tracking

parser = argparse.ArgumentParser()
parser.add_argument("--v", type=int, default=0)
parser.add_argument("--fail", default="false")
parser.add_argument("--record", default="")
parser.add_argument("--sleep", type=float, default=0.0)
parser.add_argument("--wait-for", default="")
parser.add_argument("--fail-unless", default="")
args = parser.parse_args()

tracking.init()
uuid = os.environ["POLYAXON_RUN_UUID"]
if args.record:
    Path(args.record).mkdir(parents=True, exist_ok=True)
    with open(Path(args.record) / f"{uuid}.starts", "a") as starts:
        starts.write(f"{time.time()}\n")
if args.wait_for:
    deadline = time.monotonic() + 120
    while not Path(args.wait_for).exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # polling a file the test creates, bounded by the deadline
time.sleep(args.sleep)  # the operation's "work": how long it holds its slot
if args.fail == "true" or (args.fail_unless and not Path(args.fail_unless).exists()):
    print("failing as asked", file=sys.stderr)
    sys.exit(3)
tracking.log_outputs(out=args.v + 1)
if args.record:
    with open(Path(args.record) / f"{uuid}.ends", "a") as ends:
        ends.write(f"{time.time()}\n")
