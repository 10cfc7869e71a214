"""A training script that logs, then fails with an exception it does not catch."""

from polyaxon_core import tracking

tracking.init()
for step in range(100):
    tracking.log_metrics(step=step, loss=1.0 + step)
raise FloatingPointError("the loss diverged at step 99")
