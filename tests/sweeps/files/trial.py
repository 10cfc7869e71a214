"""A fast, deterministic trial for the sweep tests.

Its metric ``score`` at step ``s`` is ``x * (s + 1) * epochs / (epochs + 1)``: better
with a larger ``x``, and with more ``epochs`` (the resource Hyperband and ASHA inject).
It logs one value per step, sleeping ``--sleep`` seconds between steps, records each
start in ``--record-dir`` (so tests can count how often a trial started), reads the
checkpoint a resumed trial was given and writes its own, then exits with ``--exit-code``.
"""

import argparse
import json
import os
import time
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float, default=1.0)
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--steps", type=int, default=1)
parser.add_argument("--sleep", type=float, default=0.0)
parser.add_argument("--exit-code", type=int, default=0)
parser.add_argument("--record-dir", default="")
args = parser.parse_args()

if args.record_dir:
    record = Path(args.record_dir)
    record.mkdir(parents=True, exist_ok=True)
    with open(record / f"{os.environ['POLYAXON_RUN_UUID']}.starts", "a") as starts:
        starts.write(f"{time.time()}\n")

from polyaxon_core import tracking  # noqa: E402 - after the start is recorded

tracking.init()
checkpoint = tracking.get_outputs_path() / "checkpoint" / "state.json"
if checkpoint.exists():
    tracking.log_metrics(resumed_epochs=json.loads(checkpoint.read_text())["epochs"])
for step in range(args.steps):
    if step:
        time.sleep(args.sleep)
    tracking.log_metrics(step=step, score=args.x * (step + 1) * args.epochs / (args.epochs + 1))
checkpoint.parent.mkdir(parents=True, exist_ok=True)
checkpoint.write_text(json.dumps({"epochs": args.epochs}))
raise SystemExit(args.exit_code)
