"""Prepare the digits for training: pixels scaled to [0, 1], split 75/25 stratified by
digit, saved as one .npz in the run's outputs, whose path is the run's output `dataset`."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from polyaxon_core import tracking


def main() -> None:
    tracking.init()
    features, labels = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        features / 16.0, labels, test_size=0.25, stratify=labels, random_state=0)
    outputs = Path(os.environ["POLYAXON_RUN_OUTPUTS_PATH"])
    outputs.mkdir(parents=True, exist_ok=True)
    dataset = outputs / "digits.npz"
    np.savez_compressed(dataset, x_train=x_train, x_val=x_val, y_train=y_train, y_val=y_val)
    tracking.log_outputs(dataset=str(dataset), train_size=len(y_train), val_size=len(y_val))
    tracking.end()
    print(f"{len(y_train)} training and {len(y_val)} validation images in {dataset}")


if __name__ == "__main__":
    main()
