"""How good are the configurations our optimizers find, beside Optuna's and hyperopt's?

Two standard test functions, minimized: Branin (2 params, minimum 0.397887) and
Hartmann6 (6 params in [0, 1], minimum -3.32237). Every algorithm gets the same budget of
evaluations and the same number of seeds; reported is the best value found after 100
and after 200 evaluations: the median over seeds and the interquartile range.

* ours: ``random``, ``bayes``, ``tpe``, ``hyperopt`` with ``algorithm: rand`` and
  ``anneal``, each driven through its real ``suggest`` / ``is_done`` interface in an
  in-process loop (one trial at a time: suggest, evaluate, record the trial as
  succeeded with its metric, repeat until ``is_done``). No database is involved: the
  quality of the suggestions does not depend on where the history is stored.
* Optuna: ``TPESampler`` and ``CmaEsSampler`` (seeded), ``study.optimize``.
* hyperopt: its own ``fmin`` with ``tpe.suggest`` (``rstate`` seeded).

No algorithm looks at the total budget, so the best value after 100 evaluations is read
from the same runs as after 200: it is what a 100-evaluation run would have found.

    .venv/bin/python benchmarks/optimizers_quality.py [--seeds 20] [--budget 200] [--workers 2]

Needs the ``benchmarks`` extra of polyaxon-optimizers (optuna, cmaes, hyperopt, numpy,
scipy). Writes ``benchmarks/results/optimizers_quality.md``.
"""

from __future__ import annotations

import os

# One BLAS thread per process: the runs are spread over processes instead.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402 - after the thread settings, which numpy reads on import
import importlib.metadata  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from polyaxon_core.entities import MatrixConfig, ParamDistribution, Trial  # noqa: E402
from polyaxon_core.interfaces import Optimizer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
METRIC = "value"
#: Random trials before bayes fits its model (Optuna's TPE starts with 10 too).
BAYES_INITIAL_RUNS = 10

# ------------------------------------------------------------------------- problems


def branin(params: dict[str, float]) -> float:
    x1, x2 = params["x1"], params["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
               [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                      [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(params: dict[str, float]) -> float:
    x = np.array([params[f"x{i}"] for i in range(1, 7)])
    return float(-np.sum(_ALPHA * np.exp(-np.sum(_A * (x - _P) ** 2, axis=1))))


@dataclass(frozen=True)
class Problem:
    name: str
    function: Callable[[dict[str, float]], float]
    bounds: dict[str, tuple[float, float]]
    minimum: float


PROBLEMS = {
    "Branin": Problem("Branin", branin, {"x1": (-5.0, 10.0), "x2": (0.0, 15.0)}, 0.397887),
    "Hartmann6": Problem("Hartmann6", hartmann6, {f"x{i}": (0.0, 1.0) for i in range(1, 7)}, -3.32237),
}

# ----------------------------------------------------------------------- algorithms


def ours(problem: Problem, kind: str, seed: int, budget: int, **options: Any) -> list[float]:
    """Drive one of our optimizers through suggest / is_done, one trial at a time."""
    from polyaxon_core.plugins import get_plugin_manager

    params = {name: ParamDistribution("uniform", {"low": low, "high": high})
              for name, (low, high) in problem.bounds.items()}
    num_runs = options.pop("num_runs", None)
    matrix = MatrixConfig(kind=kind, params=params, seed=seed, num_runs=num_runs, concurrency=1,
                          options={"metric": {"name": METRIC, "optimization": "minimize"}, **options})
    optimizer: Optimizer = get_plugin_manager().get("optimizer", kind)(matrix)
    trials: list[Trial] = []
    values: list[float] = []
    while not optimizer.is_done(trials):
        (suggestion,) = optimizer.suggest(trials, 1)
        value = problem.function(dict(suggestion.params))
        values.append(value)
        trials.append(Trial(suggestion.meta["index"], dict(suggestion.params), "succeeded",
                            {METRIC: value}, dict(suggestion.meta)))
    assert len(values) == budget, (kind, len(values))
    return values


def optuna_sampler(problem: Problem, sampler_name: str, seed: int, budget: int) -> list[float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = {"tpe": optuna.samplers.TPESampler, "cmaes": optuna.samplers.CmaEsSampler}[sampler_name](
        seed=seed
    )
    study = optuna.create_study(direction="minimize", sampler=sampler)

    def objective(trial: Any) -> float:
        return problem.function({name: trial.suggest_float(name, low, high)
                                 for name, (low, high) in problem.bounds.items()})

    study.optimize(objective, n_trials=budget)
    return [trial.value for trial in study.trials if trial.value is not None]


def hyperopt_fmin(problem: Problem, seed: int, budget: int) -> list[float]:
    import hyperopt

    logging.getLogger("hyperopt").setLevel(logging.WARNING)
    space = {name: hyperopt.hp.uniform(name, low, high) for name, (low, high) in problem.bounds.items()}
    trials = hyperopt.Trials()
    hyperopt.fmin(problem.function, space, algo=hyperopt.tpe.suggest, max_evals=budget, trials=trials,
                  rstate=np.random.default_rng(seed), show_progressbar=False)
    return [float(loss) for loss in trials.losses()]


def algorithms(budget: int) -> dict[str, Callable[[Problem, int], list[float]]]:
    """Label -> run(problem, seed) giving the value of every evaluation, in order."""
    return {
        "ours: random": lambda p, s: ours(p, "random", s, budget, num_runs=budget),
        "ours: bayes": lambda p, s: ours(p, "bayes", s, budget, num_initial_runs=BAYES_INITIAL_RUNS,
                                         max_iterations=budget - BAYES_INITIAL_RUNS),
        "ours: tpe": lambda p, s: ours(p, "tpe", s, budget, num_runs=budget),
        "ours: hyperopt rand": lambda p, s: ours(p, "hyperopt", s, budget, num_runs=budget, algorithm="rand"),
        "ours: hyperopt anneal": lambda p, s: ours(p, "hyperopt", s, budget, num_runs=budget,
                                                   algorithm="anneal"),
        "Optuna TPESampler": lambda p, s: optuna_sampler(p, "tpe", s, budget),
        "Optuna CmaEsSampler": lambda p, s: optuna_sampler(p, "cmaes", s, budget),
        "hyperopt fmin (tpe)": lambda p, s: hyperopt_fmin(p, s, budget),
    }


def run_one(job: tuple[str, str, int, int]) -> tuple[str, str, int, list[float], float]:
    label, problem_name, seed, budget = job
    started = time.process_time()
    values = algorithms(budget)[label](PROBLEMS[problem_name], seed)
    return label, problem_name, seed, values, time.process_time() - started


# -------------------------------------------------------------------------- report


def quartiles(values: list[float]) -> tuple[float, float, float]:
    low, median, high = np.percentile(values, [25, 50, 75])
    return float(median), float(low), float(high)


def best_after(values: list[float], count: int) -> float:
    return min(values[:count])


def render(results: list[tuple[str, str, int, list[float], float]], args: argparse.Namespace,
           wall: float, labels: list[str]) -> str:
    from scipy import stats

    checkpoints = sorted({100, args.budget} & set(range(1, args.budget + 1)))
    by_key: dict[tuple[str, str], list[list[float]]] = {}
    seconds: dict[str, list[float]] = {}
    for label, problem_name, _, values, cpu in results:
        by_key.setdefault((label, problem_name), []).append(values)
        seconds.setdefault(label, []).append(cpu)
    lines = [
        "# Optimizer quality: best value found, ours beside Optuna and hyperopt",
        "",
        f"Generated by `benchmarks/optimizers_quality.py` in one run: {args.seeds} seeds "
        f"(0-{args.seeds - 1}) per algorithm and problem, {args.budget} evaluations each, "
        "minimizing. Each cell: median of the best value found (interquartile range p25-p75); "
        "lower is better. The gap column is the median distance to the known minimum.",
        "",
    ]
    for problem in PROBLEMS.values():
        header = "| algorithm | " + " | ".join(
            f"best after {n} | gap after {n}" for n in checkpoints) + " |"
        lines += [f"## {problem.name} (minimum {problem.minimum})", "", header,
                  "|---|" + "---|---|" * len(checkpoints)]
        for label in labels:
            cells = []
            for count in checkpoints:
                bests = [best_after(values, count) for values in by_key[(label, problem.name)]]
                median, low, high = quartiles(bests)
                gaps = [best - problem.minimum for best in bests]
                cells.append(f"{median:.6f} ({low:.6f} – {high:.6f})")
                cells.append(f"{statistics.median(gaps):.2e}")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")

    def medians(label: str, problem: str, count: int) -> list[float]:
        return [best_after(values, count) for values in by_key[(label, problem)]]

    lines += ["## The two checks", ""]
    bayes = statistics.median(medians("ours: bayes", "Branin", 100))
    others = {label: statistics.median(medians(label, "Branin", 100))
              for label in labels if label != "ours: bayes"}
    rival = min(others, key=lambda label: others[label])
    verdict = "met" if bayes <= others[rival] else "NOT met"
    lines.append(
        f"- bayes at least as good as every other algorithm on Branin after 100 evaluations: "
        f"**{verdict}** (median {bayes:.6f}; best of the others: {rival}, {others[rival]:.6f})."
    )
    for name in PROBLEMS:
        for count in checkpoints:
            ours_tpe = medians("ours: tpe", name, count)
            fmin = medians("hyperopt fmin (tpe)", name, count)
            p_value = stats.mannwhitneyu(ours_tpe, fmin, alternative="two-sided").pvalue
            lines.append(
                f"- ours `tpe` vs hyperopt's own `fmin`, {name} after {count}: medians "
                f"{statistics.median(ours_tpe):.6f} vs {statistics.median(fmin):.6f}, "
                f"Mann-Whitney U two-sided p = {p_value:.2f}"
            )
    lines += [
        "",
        "## Cost",
        "",
        "CPU seconds per run of " f"{args.budget} evaluations (mean over both problems and all seeds; "
        "the test functions themselves cost microseconds):",
        "",
        "| algorithm | CPU s per run |",
        "|---|---|",
        *(f"| {label} | {statistics.mean(seconds[label]):.2f} |" for label in labels),
        "",
        "## Setup",
        "",
        f"- ours: each optimizer is built once per run from a `MatrixConfig` of uniform params and "
        f"driven with `suggest(trials, 1)` until `is_done(trials)`; `bayes` has "
        f"`numInitialRuns: {BAYES_INITIAL_RUNS}` and its defaults otherwise (expected improvement, "
        f"Matérn kernel with nu 1.5); `tpe` and `hyperopt` use hyperopt's defaults "
        f"(20 random start-up trials for TPE).",
        "- Optuna: samplers with their defaults and `seed`; hyperopt: `fmin` with "
        "`rstate=numpy.random.default_rng(seed)`.",
        f"- versions: polyaxon-optimizers {importlib.metadata.version('polyaxon-optimizers')}, "
        f"optuna {importlib.metadata.version('optuna')}, cmaes {importlib.metadata.version('cmaes')}, "
        f"hyperopt {importlib.metadata.version('hyperopt')}, numpy {np.__version__}, "
        f"scipy {importlib.metadata.version('scipy')}, Python {platform.python_version()}",
        f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
        f"{platform.system()} {platform.release()}; {args.workers} worker processes; "
        f"wall time of the whole script {wall / 60:.1f} min",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
    ]
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--output", type=Path,
                        default=ROOT / "benchmarks" / "results" / "optimizers_quality.md")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    started = time.monotonic()
    labels = list(algorithms(args.budget))
    # The slowest algorithm first, so both workers stay busy until the end.
    jobs = [(label, problem, seed, args.budget)
            for label in sorted(labels, key=lambda label: label != "ours: bayes")
            for problem in PROBLEMS for seed in range(args.seeds)]
    results = []
    with ProcessPoolExecutor(args.workers) as pool:
        for done, result in enumerate(pool.map(run_one, jobs), 1):
            results.append(result)
            if done % 20 == 0 or done == len(jobs):
                print(f"{done}/{len(jobs)} runs, {time.monotonic() - started:.0f} s", flush=True)
    report = render(results, args, time.monotonic() - started, labels)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
