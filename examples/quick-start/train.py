"""Train a small neural network on scikit-learn's digits, one epoch at a time.

Each epoch is one pass of ``MLPClassifier.partial_fit`` over a fixed training split; the
epoch's losses and accuracies go to the tracking SDK. With ``--checkpoint-dir`` the model
is saved after every epoch and training resumes from that checkpoint, so a later run with
a larger ``--epochs`` (the resource a hyperband sweep varies) continues where it stopped.
It is meant to run under polyaxon, which gives the tracking SDK its run:

    polyaxon run -f polyaxonfile.yaml -P learning_rate=0.01 -P epochs=30
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import confusion_matrix, log_loss
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from polyaxon_core import tracking

CLASSES = np.arange(10)
#: the validation split never changes, so every trial of a sweep is scored on the same images
SPLIT_SEED = 0
CHECKPOINT_NAME = "checkpoint.pkl"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learning-rate", type=float, default=0.003)
    parser.add_argument("--l2", type=float, default=1e-4, help="L2 penalty (alpha)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--hidden-units", type=int, default=64)
    parser.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1, help="weights and shuffling")
    parser.add_argument("--checkpoint-dir", type=Path, help="save each epoch, resume from it")
    parser.add_argument("--dataset", type=Path,
                        help="an .npz of x_train, x_val, y_train, y_val (default: the digits split)")
    return parser.parse_args()


def load_data(dataset: Path | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The split saved in ``dataset``, or else the digits' pixels scaled to [0, 1], 75% to
    train and 25% to validate, stratified by digit."""
    if dataset is not None:
        with np.load(dataset) as saved:
            return saved["x_train"], saved["x_val"], saved["y_train"], saved["y_val"]
    features, labels = load_digits(return_X_y=True)
    return train_test_split(
        features / 16.0, labels, test_size=0.25, stratify=labels, random_state=SPLIT_SEED
    )


def load_checkpoint(directory: Path | None, params: dict[str, Any]) -> dict[str, Any] | None:
    """The saved state if ``directory`` holds one made with the same hyperparameters."""
    if directory is None or not (directory / CHECKPOINT_NAME).exists():
        return None
    with open(directory / CHECKPOINT_NAME, "rb") as stream:
        state: dict[str, Any] = pickle.load(stream)
    if state["params"] != params:
        raise SystemExit(
            f"{directory / CHECKPOINT_NAME} was trained with {state['params']}, not {params}; "
            "use another --checkpoint-dir or the same hyperparameters."
        )
    return state


def save_checkpoint(directory: Path, state: dict[str, Any]) -> None:
    """Write to a temporary file first, so a run killed mid-write leaves the last good one."""
    directory.mkdir(parents=True, exist_ok=True)
    partial = directory / (CHECKPOINT_NAME + ".partial")
    with open(partial, "wb") as stream:
        pickle.dump(state, stream)
    os.replace(partial, directory / CHECKPOINT_NAME)


def main() -> None:
    args = parse_args()
    # Everything that shapes the model; ``epochs`` is left out because it is how long to train.
    params = {
        "learning_rate": args.learning_rate,
        "l2": args.l2,
        "batch_size": args.batch_size,
        "hidden_units": args.hidden_units,
        "optimizer": args.optimizer,
        "seed": args.seed,
    }
    tracking.init()
    tracking.log_inputs(epochs=args.epochs, **params)
    x_train, x_val, y_train, y_val = load_data(args.dataset)

    state = load_checkpoint(args.checkpoint_dir, params)
    if state is None:
        model = MLPClassifier(
            hidden_layer_sizes=(args.hidden_units,),
            solver=args.optimizer,
            learning_rate_init=args.learning_rate,
            alpha=args.l2,
            batch_size=args.batch_size,
            random_state=args.seed,
        )
        state = {"params": params, "model": model, "epoch": 0, "history": []}
    else:
        print(f"Resuming from epoch {state['epoch']} in {args.checkpoint_dir}")
    model = state["model"]

    for epoch in range(state["epoch"] + 1, args.epochs + 1):
        model.partial_fit(x_train, y_train, classes=CLASSES)
        metrics = {
            "loss": float(model.loss_),
            "val_loss": float(log_loss(y_val, model.predict_proba(x_val), labels=CLASSES)),
            "train_accuracy": float(model.score(x_train, y_train)),
            "val_accuracy": float(model.score(x_val, y_val)),
        }
        tracking.log_metrics(step=epoch, **metrics)
        print(f"epoch {epoch:3d}  " + "  ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
        state["history"].append({"epoch": epoch, **metrics})
        state["epoch"] = epoch
        if args.checkpoint_dir is not None:
            save_checkpoint(args.checkpoint_dir, state)

    history = state["history"]
    if not history:
        raise SystemExit(f"--epochs={args.epochs}: nothing was trained.")
    best = max(history, key=lambda row: row["val_accuracy"])
    tracking.log_outputs(val_accuracy=best["val_accuracy"], best_epoch=best["epoch"])
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "learning_curve.json"
        report.write_text(json.dumps({
            "params": params,
            "history": history,
            "confusion_matrix": confusion_matrix(y_val, model.predict(x_val)).tolist(),
        }, indent=2))
        tracking.log_artifact(str(report))
    tracking.end()
    print(f"best val_accuracy={best['val_accuracy']:.4f} at epoch {best['epoch']}")


if __name__ == "__main__":
    main()
