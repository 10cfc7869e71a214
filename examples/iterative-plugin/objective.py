"""A stand-in for a training script: a known function of the params, logged as `loss`.

Real runs train a model; this one computes in milliseconds what such a run reports, so
the example sweep finishes in seconds. Its minimum is at lr = 10**-2.5, momentum = 0.9,
activation = relu.
"""

import argparse
import math

from polyaxon_core import tracking

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, required=True)
parser.add_argument("--momentum", type=float, required=True)
parser.add_argument("--activation", required=True)
args = parser.parse_args()

loss = (math.log10(args.lr) + 2.5) ** 2 + 4 * (args.momentum - 0.9) ** 2
loss += 0.0 if args.activation == "relu" else 0.1

tracking.init()
tracking.log_metrics(step=0, loss=loss)
tracking.log_outputs(loss=loss)
tracking.end()
print(f"lr={args.lr:.3g} momentum={args.momentum:.3f} activation={args.activation} loss={loss:.4f}")
