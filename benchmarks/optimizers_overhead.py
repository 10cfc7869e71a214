"""What a suggestion costs per trial, history read included: ours beside Optuna on SQLite.

For each history size N (100 and 1,000 finished trials), both tools start from a SQLite
database that already holds a sweep / study of N finished trials over 6 float params,
and are timed producing one new trial:

* ours: one pass of ``SweepController.control`` over the sweep, exactly as the
  orchestrator runs it: read the sweep's trial rows, build the optimizer plugin from the
  stored spec, ``suggest``, create the trial row, commit. Measured for ``random``,
  ``tpe`` and ``bayes``.
* Optuna: ``study.ask(fixed_distributions)`` on an ``RDBStorage`` SQLite study (which
  samples every param and stores the new trial), for ``RandomSampler`` and
  ``TPESampler`` (Optuna's default). Optuna keeps a cache of the study in the process;
  the ``load_study`` column measures ``optuna.load_study`` + ``ask``, what a fresh
  process pays, which is the situation of our stateless orchestrator every time.

After every timed step the new trial is finished untimed (our row marked succeeded
with its metric; ``study.tell`` for Optuna), so the next step again sees only finished
trials. The steps of all configurations are interleaved round by round. Reported:
median and interquartile range per step, and the ratio of the medians ours / Optuna.

    .venv/bin/python benchmarks/optimizers_overhead.py [--repetitions 10] [--sizes 100 1000]

Needs the ``benchmarks`` extra of polyaxon-optimizers. Writes
``benchmarks/results/optimizers_overhead.md``.
"""

from __future__ import annotations

import os

# One BLAS thread, as a fair single-core comparison on a shared machine.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402 - after the thread settings, which numpy reads on import
import importlib.metadata  # noqa: E402
import logging  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from sqlalchemy import select  # noqa: E402

from polyaxon_core.config import Settings  # noqa: E402
from polyaxon_core.db.models import Run, with_project  # noqa: E402
from polyaxon_core.db.session import migrate, session_scope  # noqa: E402
from polyaxon_core.domain.commands import create_trial, submit_operation  # noqa: E402
from polyaxon_core.domain.projects import create_project  # noqa: E402
from polyaxon_core.orchestrator.sweeps import SweepController  # noqa: E402
from polyaxon_core.spec import parse_operation  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NAMES = [f"x{i}" for i in range(1, 7)]
METRIC = "loss"


def objective(params: dict[str, float]) -> float:
    """A cheap stand-in for a trial's result (the benchmark times suggestions, not this)."""
    return sum((params[name] - 0.1 * position) ** 2 for position, name in enumerate(NAMES, 1))


def matrix_section(kind: str, budget: int) -> dict[str, Any]:
    params = {name: {"kind": "uniform", "value": [0, 1]} for name in NAMES}
    metric = {"name": METRIC, "optimization": "minimize"}
    if kind == "random":
        return {"kind": "random", "numRuns": budget, "seed": 1, "params": params}
    if kind == "tpe":
        return {"kind": "tpe", "numRuns": budget, "seed": 1, "metric": metric, "params": params}
    return {"kind": "bayes", "numInitialRuns": 10, "maxIterations": budget, "seed": 1, "metric": metric,
            "params": params}


@dataclass
class Timed:
    """One configuration: how to take a step, and the seconds each step took."""

    label: str
    size: int
    step: Callable[[], float]
    seconds: list[float] = field(default_factory=list)


def ours(kind: str, size: int, folder: Path, budget: int) -> Timed:
    """A database holding a sweep of ``kind`` with ``size`` finished trials."""
    db_url = f"sqlite:///{folder / f'ours-{kind}-{size}.db'}"
    migrate(db_url)
    settings = Settings(home=folder, db_url=db_url, scheduler="local", store="local")
    operation = {
        "version": 1.1, "kind": "operation", "name": f"bench-{kind}",
        "matrix": {**matrix_section(kind, budget), "concurrency": 1},
        "component": {
            "inputs": [{"name": name, "type": "float"} for name in NAMES],
            "run": {"kind": "job", "container": {"image": "python:3.11-slim", "command": ["true"]}},
        },
    }
    spec = parse_operation(operation)
    draw = random.Random(size)
    with session_scope(db_url) as session:
        project = create_project(session, "bench")
        sweep = submit_operation(session, project, spec, default_concurrency=1)
        for index in range(size):
            params = {name: draw.random() for name in NAMES}
            trial = create_trial(session, sweep, spec, params, {"index": index})
            trial.status, trial.last_metrics = "succeeded", {METRIC: objective(params)}
        sweep_id = sweep.id
    controller = SweepController(settings)

    def step() -> float:
        started = time.perf_counter()
        with session_scope(db_url) as session:
            # read as the orchestrator's pass reads it: with its project, in one query
            sweep = session.get(Run, sweep_id, options=[with_project()])
            assert sweep is not None
            controller.control(session, sweep)
        elapsed = time.perf_counter() - started
        with session_scope(db_url) as session:
            (new,) = session.scalars(
                select(Run).where(Run.pipeline_id == sweep_id, Run.status != "succeeded")
            ).all()
            params = dict(new.meta_info["matrix"]["params"])
            new.status, new.last_metrics = "succeeded", {METRIC: objective(params)}
        return elapsed

    return Timed(f"ours `{kind}`", size, step)


def optuna_study(sampler_name: str, size: int, folder: Path, fresh: bool) -> Timed:
    """An Optuna study on SQLite with ``size`` completed trials."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{folder / f'optuna-{sampler_name}-{size}-{fresh}.db'}"
    samplers = {"RandomSampler": optuna.samplers.RandomSampler, "TPESampler": optuna.samplers.TPESampler}
    distributions: dict[str, optuna.distributions.BaseDistribution] = {
        name: optuna.distributions.FloatDistribution(0, 1) for name in NAMES
    }
    study = optuna.create_study(storage=storage, study_name="bench", direction="minimize",
                                sampler=samplers[sampler_name](seed=1))
    draw = random.Random(size)
    finished = []
    for _ in range(size):
        params = {name: draw.random() for name in NAMES}
        finished.append(optuna.trial.create_trial(params=params, distributions=distributions,
                                                  value=objective(params)))
    study.add_trials(finished)

    def step() -> float:
        started = time.perf_counter()
        current = study
        if fresh:
            current = optuna.load_study(study_name="bench", storage=storage,
                                        sampler=samplers[sampler_name](seed=1))
        trial = current.ask(fixed_distributions=distributions)
        elapsed = time.perf_counter() - started
        current.tell(trial, objective(trial.params))
        return elapsed

    label = f"Optuna {sampler_name}" + (" (load_study + ask)" if fresh else "")
    return Timed(label, size, step)


def quartiles(values: list[float]) -> tuple[float, float, float]:
    low, median, high = np.percentile(values, [25, 50, 75])
    return float(median), float(low), float(high)


def milliseconds(values: list[float]) -> str:
    median, low, high = quartiles(values)
    return f"{median * 1000:.1f} ({low * 1000:.1f} – {high * 1000:.1f})"


#: Each of ours beside the Optuna sampler it is compared with.
PAIRS = [("random", "RandomSampler"), ("tpe", "TPESampler"), ("bayes", "TPESampler")]


def render(timed: list[Timed], args: argparse.Namespace, wall: float) -> str:
    by_label = {(t.label, t.size): t.seconds for t in timed}
    lines = [
        "# Suggestion overhead per trial: ours (history read from our database) vs Optuna on SQLite",
        "",
        "Generated by `benchmarks/optimizers_overhead.py` in one run. Milliseconds to produce one "
        f"new trial with N finished trials in the database: median (p25 – p75) of {args.repetitions} "
        "steps, after one warm-up step. Ours: one `SweepController.control` pass (read the trials, "
        "build the optimizer from the stored spec, `suggest`, create and commit the trial row). "
        "Optuna: `study.ask(fixed_distributions)` on its SQLite storage, with the study object "
        "kept in the process, and `load_study` + `ask`, what a fresh process pays.",
        "",
        "| N | ours | ours (ms) | Optuna sampler | Optuna `ask` (ms) | ours / Optuna | "
        "Optuna `load_study` + `ask` (ms) | ours / that |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for size in args.sizes:
        for kind, sampler in PAIRS:
            ours_seconds = by_label[(f"ours `{kind}`", size)]
            kept = by_label[(f"Optuna {sampler}", size)]
            fresh = by_label[(f"Optuna {sampler} (load_study + ask)", size)]
            lines.append(
                f"| {size} | `{kind}` | {milliseconds(ours_seconds)} | {sampler} | {milliseconds(kept)} | "
                f"{quartiles(ours_seconds)[0] / quartiles(kept)[0]:.2f} | {milliseconds(fresh)} | "
                f"{quartiles(ours_seconds)[0] / quartiles(fresh)[0]:.2f} |"
            )
    lines += [
        "",
        "- The search space: 6 float params in [0, 1]; `bayes` and `tpe` minimize a metric; "
        "`bayes` is compared with Optuna's default sampler (TPE), as Optuna's Gaussian-process "
        "sampler needs PyTorch.",
        f"- versions: polyaxon-core {importlib.metadata.version('polyaxon-core')}, "
        f"polyaxon-optimizers {importlib.metadata.version('polyaxon-optimizers')}, "
        f"optuna {importlib.metadata.version('optuna')}, hyperopt {importlib.metadata.version('hyperopt')}, "
        f"SQLAlchemy {importlib.metadata.version('SQLAlchemy')}, numpy {np.__version__}, "
        f"Python {platform.python_version()}",
        f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
        f"{platform.system()} {platform.release()}; one process, one BLAS thread; 1-minute load "
        f"average {args.load[0]:.2f} before, {os.getloadavg()[0]:.2f} after; wall time of the whole "
        f"script {wall / 60:.1f} min",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
    ]
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repetitions", type=int, default=10)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--output", type=Path,
                        default=ROOT / "benchmarks" / "results" / "optimizers_overhead.md")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    args.load = os.getloadavg()
    started = time.monotonic()
    logging.getLogger("hyperopt").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="optimizers-overhead-") as temporary:
        folder = Path(temporary)
        os.environ["POLYAXON_HOME"] = str(folder)
        timed: list[Timed] = []
        for size in args.sizes:
            budget = size + args.repetitions + 100  # room for every step's new trial
            for kind in ("random", "tpe", "bayes"):
                timed.append(ours(kind, size, folder, budget))
            for sampler in ("RandomSampler", "TPESampler"):
                timed.append(optuna_study(sampler, size, folder, fresh=False))
                timed.append(optuna_study(sampler, size, folder, fresh=True))
        for configuration in timed:  # warm-up: imports, caches, the first model fit
            configuration.step()
        for round_number in range(args.repetitions):
            for configuration in random.Random(round_number).sample(timed, len(timed)):
                configuration.seconds.append(configuration.step())
            elapsed = time.monotonic() - started
            print(f"round {round_number + 1}/{args.repetitions}, {elapsed:.0f} s", flush=True)
    report = render(timed, args, time.monotonic() - started)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
