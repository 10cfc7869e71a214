"""Hyperband against random search on the quick-start model: accuracy per epoch spent.

For each seed, runs two sweeps of ``examples/quick-start/`` one after the other through the
``polyaxon`` CLI, in a temporary POLYAXON_HOME, on the embedded default (2 trials at a time):

* ``sweep-random.yaml``: 24 random configurations, each trained for R epochs, where R is
  the hyperband sweep's ``maxIterations`` (so both give a configuration at most R epochs);
* ``sweep-hyperband.yaml``: the same search space, epochs as the resource, ``maxIterations``
  R = 81 and ``eta`` 3 (the Hyperband paper's Table 1), promoted configurations resuming
  from their checkpoint.

Only ``matrix.seed`` (and the random sweep's ``epochs``) differ from the example files.
For every sweep it reports:

* the best validation accuracy any trial reached;
* the epochs really trained, counted from the ``val_accuracy`` points each trial logged
  (one per epoch), so the epochs a resumed trial took over are not counted twice;
* for Hyperband, the epochs it had spent when a finished trial first matched the random
  sweep's best accuracy (trials in the order they finished).

The target: Hyperband reaches the random sweep's best accuracy having spent at most a
third of the random sweep's epochs. It is reported per seed, and as the Hyperband paper
does, on the best accuracy so far averaged over the seeds.

Writes ``benchmarks/results/hyperband_vs_random.md``.

    .venv/bin/python benchmarks/hyperband_vs_random.py [--seeds 10] [--max-iterations 81]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "quick-start"
RESULTS = ROOT / "benchmarks" / "results" / "hyperband_vs_random.md"
POLYAXON = str(Path(sys.executable).parent / "polyaxon")
PROJECT = "bench"
METRIC = "val_accuracy"


@dataclass
class Sweep:
    """One finished sweep: its trials in the order they finished, and its wall time."""

    name: str
    seed: int
    seconds: float
    #: (epochs trained, best val_accuracy of those epochs or None), in finishing order
    trials: list[tuple[int, float | None]]
    succeeded: int

    @property
    def epochs(self) -> int:
        return sum(epochs for epochs, _ in self.trials)

    @property
    def best(self) -> float:
        return max(best for _, best in self.trials if best is not None)

    def epochs_to_reach(self, target: float) -> int | None:
        """Epochs spent when a finished trial first reached ``target``."""
        spent = 0
        for epochs, best in self.trials:
            spent += epochs
            if best is not None and best >= target:
                return spent
        return None

    def best_so_far(self, epochs: int) -> float:
        """The best accuracy of the trials finished within ``epochs`` spent (0 if none)."""
        spent, best_yet = 0, 0.0
        for trained, best in self.trials:
            spent += trained
            if spent > epochs:
                break
            best_yet = max(best_yet, best if best is not None else 0.0)
        return best_yet


def polyaxon(env: dict[str, str], cwd: Path, *args: str) -> str:
    result = subprocess.run([POLYAXON, *args], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=3600)
    if result.returncode != 0:
        raise SystemExit(f"`polyaxon {' '.join(args)}` failed ({result.returncode}):\n"
                         f"{result.stdout}\n{result.stderr}")
    return result.stdout


def variant(workdir: Path, file: str, seed: int, epochs: int) -> Path:
    """``file`` of the example with ``matrix.seed`` replaced, and R set to ``epochs``: the
    random sweep's ``epochs`` param, or the hyperband sweep's ``maxIterations``."""
    content = yaml.safe_load((EXAMPLE / file).read_text())
    content["matrix"]["seed"] = seed
    if content["matrix"]["kind"] == "hyperband":
        content["matrix"]["maxIterations"] = epochs
    else:
        content["params"]["epochs"] = {"value": epochs}
    path = workdir / f"seed{seed}-{file}"
    path.write_text(yaml.safe_dump(content, sort_keys=False))
    return path


def trials_of(db_url: str, sweep_uuid: str) -> tuple[list[tuple[int, float | None]], int]:
    """Epochs trained and best accuracy of each trial of the sweep, in finishing order."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import aliased

    from polyaxon_core.db.models import Metric, Run
    from polyaxon_core.db.session import session_scope

    sweep = aliased(Run)
    with session_scope(db_url) as session:
        children = session.execute(
            select(Run.id, Run.status, Run.finished_at)
            .join(sweep, Run.pipeline_id == sweep.id)
            .where(sweep.uuid == sweep_uuid)
        ).all()
        points = {
            run_id: (count, best)
            for run_id, count, best in session.execute(
                select(Metric.run_id, func.count(), func.max(Metric.value))
                .where(Metric.run_id.in_([child.id for child in children]), Metric.name == METRIC)
                .group_by(Metric.run_id)
            )
        }
    finished = sorted(children, key=lambda child: (child.finished_at is None, child.finished_at))
    rows = [points.get(child.id, (0, None)) for child in finished]
    return rows, sum(child.status == "succeeded" for child in children)


def run_sweep(env: dict[str, str], workdir: Path, file: Path, name: str, seed: int) -> Sweep:
    started = time.monotonic()
    uuid = json.loads(polyaxon(env, workdir, "run", "-p", PROJECT, "-f", str(file),
                               "-o", "json"))["uuid"]
    polyaxon(env, workdir, "ops", "get", uuid, "-p", PROJECT, "--watch")
    seconds = time.monotonic() - started
    rows, succeeded = trials_of(env["POLYAXON_DB_URL"], str(uuid))
    print(f"seed {seed} {name}: {len(rows)} trials, {sum(e for e, _ in rows)} epochs, "
          f"{seconds:.0f} s", flush=True)
    return Sweep(name, seed, seconds, rows, succeeded)


def report(pairs: list[tuple[Sweep, Sweep]], max_iterations: int) -> list[str]:
    lines = [
        "# Hyperband vs random search on the quick-start model",
        "",
        f"Generated by `benchmarks/hyperband_vs_random.py --seeds {len(pairs)} --max-iterations "
        f"{max_iterations}`: for each seed (0 to N-1), the quick-start's",
        f"random sweep (24 configurations x {max_iterations} epochs) and its hyperband sweep",
        f"(maxIterations {max_iterations}, eta 3, resume), run one after the other through the",
        "`polyaxon` CLI on the embedded default (2 trials at a time). Epochs are counted from",
        "the `val_accuracy` points each trial logged, so the epochs a resumed trial took over",
        "are not counted twice. *Reached* is the epochs Hyperband had spent when a finished",
        "trial first matched the random sweep's best accuracy; the target is at most a third",
        "of the random sweep's epochs.",
        "",
        "| seed | random: epochs | random: best | hyperband: epochs | hyperband: best "
        "| reached (of random's epochs) | target met | wall time random / hyperband (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    fractions = []
    for random, hyperband in pairs:
        reached = hyperband.epochs_to_reach(random.best)
        fraction = reached / random.epochs if reached is not None else None
        fractions.append(fraction)
        reached_text = f"{reached} ({fraction:.2f})" if reached is not None else "never"
        met = "yes" if fraction is not None and fraction <= 1 / 3 else "no"
        lines.append(
            f"| {random.seed} | {random.epochs} | {random.best:.4f} | {hyperband.epochs} "
            f"({hyperband.epochs / random.epochs:.2f}) | {hyperband.best:.4f} | {reached_text} "
            f"| {met} | {random.seconds:.0f} / {hyperband.seconds:.0f} |"
        )
    met_count = sum(1 for f in fractions if f is not None and f <= 1 / 3)
    random_budget = statistics.median(random.epochs for random, _ in pairs)
    third = int(random_budget // 3)
    mean_random_best = statistics.fmean(random.best for random, _ in pairs)
    mean_hyperband_at_third = statistics.fmean(h.best_so_far(third) for _, h in pairs)
    mean_random_at_third = statistics.fmean(r.best_so_far(third) for r, _ in pairs)
    failed = sum(len(s.trials) - s.succeeded for pair in pairs for s in pair)
    lines += [
        "",
        f"- Target met in **{met_count} of {len(pairs)}** seeds.",
        f"- Averaged over the seeds (the Hyperband paper's view): after {third} epochs (a third "
        f"of random's {random_budget:g}), Hyperband's best accuracy so far is "
        f"**{mean_hyperband_at_third:.4f}**, random's {mean_random_at_third:.4f}; random's best "
        f"after all its epochs is {mean_random_best:.4f}.",
        f"- Hyperband's full pass (every bracket) spends "
        f"{statistics.median(h.epochs for _, h in pairs) / random_budget:.2f} of random's epochs "
        "(median); the brackets that explore most run first.",
        f"- Trials that did not succeed: {failed}.",
        f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="sweeps of each kind, seeds 0..N-1")
    parser.add_argument("--max-iterations", type=int, metavar="R",
                        help="R, the most epochs a configuration gets (default: the example's "
                        "maxIterations); results of another R go to hyperband_vs_random_rR.md")
    args = parser.parse_args()
    hyperband_file = yaml.safe_load((EXAMPLE / "sweep-hyperband.yaml").read_text())
    default_r = int(hyperband_file["matrix"]["maxIterations"])
    max_iterations = args.max_iterations or default_r
    results = RESULTS if max_iterations == default_r else RESULTS.with_name(
        f"{RESULTS.stem}_r{max_iterations}.md")
    pairs = []
    with tempfile.TemporaryDirectory(prefix="polyaxon-bench-") as home:
        workdir = Path(home) / "quick-start"
        workdir.mkdir()
        for name in ("train.py", "polyaxonfile.yaml"):
            shutil.copy(EXAMPLE / name, workdir / name)
        env = {key: value for key, value in os.environ.items() if not key.startswith("POLYAXON_")}
        env.update({"POLYAXON_HOME": home, "POLYAXON_IDLE_EXIT": "5",
                    "POLYAXON_DB_URL": f"sqlite:///{home}/polyaxon.db",
                    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"})
        polyaxon(env, workdir, "init")
        polyaxon(env, workdir, "project", "create", PROJECT)
        for seed in range(args.seeds):
            random = run_sweep(env, workdir, variant(workdir, "sweep-random.yaml", seed,
                                                     max_iterations), "random", seed)
            hyperband = run_sweep(env, workdir, variant(workdir, "sweep-hyperband.yaml", seed,
                                                        max_iterations), "hyperband", seed)
            pairs.append((random, hyperband))
    lines = report(pairs, max_iterations)
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
