"""A workload that keeps a core busy until the SDK has taken three resource samples."""

import sys
import time

from polyaxon_core import tracking

run = tracking.init()
if run.resources is None:
    sys.exit("resource sampling is off")
deadline = time.monotonic() + 60
total = 0
while run.resources.samples < 3:
    total += sum(number * number for number in range(10_000))
    if time.monotonic() > deadline:
        sys.exit(f"only {run.resources.samples} resource samples in 60 s")
tracking.log_metrics(step=0, loss=0.5)
tracking.end()
