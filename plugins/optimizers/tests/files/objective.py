"""A cheap, deterministic objective for sweeps run through the CLI: logs `loss`."""

import argparse

from polyaxon_core import tracking

parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float, required=True)
parser.add_argument("--width", type=int, required=True)
parser.add_argument("--activation", required=True)
args = parser.parse_args()

loss = (args.x - 0.3) ** 2 + (0.0 if args.width == 32 else 0.05)
loss += 0.0 if args.activation == "tanh" else 0.02
tracking.init()
tracking.log_metrics(step=0, loss=loss)
tracking.end()
