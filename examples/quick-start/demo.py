"""From nothing to a hyperparameter leaderboard, with the `polyaxon` command line only.

Creates the database and a project, starts the random search of sweep-random.yaml
(24 trainings of train.py, two at a time), follows it until it ends, then prints the ten
best trials by validation accuracy. Exits non-zero, naming the step, if any step fails.

    python examples/quick-start/demo.py

It uses the POLYAXON_HOME of the environment (default ~/.polyaxon), so the runs stay there
to explore afterwards with `polyaxon ops ls -p quick-start` and `polyaxon ops get UUID`.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

PROJECT = "quick-start"
HERE = Path(__file__).resolve().parent
# The `polyaxon` installed beside the interpreter running this script (.venv/bin).
POLYAXON = str(Path(sys.executable).parent / "polyaxon")
SWEEP_TIMEOUT_SECONDS = 30 * 60


class StepFailed(Exception):
    """A step of the demo did not do what it should; the message says which and why."""


def polyaxon(step: str, *args: str, json_output: bool = False, tolerate: str | None = None,
             timeout: float | None = None) -> str:
    """Run ``polyaxon ARGS``, its output shown as it comes; return its standard output.

    With ``json_output`` the standard output is kept for the caller instead of shown. A
    non-zero exit fails ``step`` unless the output contains ``tolerate``.
    """
    print(f"\n$ polyaxon {shlex.join(args)}", flush=True)
    keep = subprocess.PIPE if json_output or tolerate else None
    try:
        result = subprocess.run(
            [POLYAXON, *args], cwd=HERE, text=True, timeout=timeout,
            stdout=keep, stderr=subprocess.PIPE if tolerate else None,
        )
    except FileNotFoundError:
        raise StepFailed(f"{step}: {POLYAXON} not found; run `make install` first") from None
    except subprocess.TimeoutExpired:
        raise StepFailed(f"{step}: not finished after {timeout:.0f} s") from None
    if tolerate is not None:
        if result.returncode != 0 and tolerate in result.stdout + result.stderr:
            print(f"{tolerate}: carrying on")
            return result.stdout
        print(result.stdout, end="")
        print(result.stderr, end="", file=sys.stderr)
    if result.returncode != 0:
        raise StepFailed(f"{step}: `polyaxon {shlex.join(args)}` exited with {result.returncode}")
    return result.stdout or ""


def parse_json(step: str, text: str) -> dict[str, Any]:
    """The JSON object a ``-o json`` command printed."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StepFailed(f"{step}: expected a JSON object, got {text!r} ({exc})") from None
    if not isinstance(value, dict):
        raise StepFailed(f"{step}: expected a JSON object, got {text!r}")
    return value


def main() -> None:
    polyaxon("initialise the database", "init")
    polyaxon("create the project", "project", "create", PROJECT, tolerate="already exists")

    started = parse_json("start the sweep", polyaxon(
        "start the sweep", "run", "-p", PROJECT, "-f", "sweep-random.yaml", "-o", "json",
        json_output=True,
    ))
    sweep = started.get("uuid")
    if not sweep:
        raise StepFailed(f"start the sweep: no uuid in {started}")
    print(f"sweep {sweep} queued")

    # `--watch` exits 0 only when the sweep ends succeeded.
    polyaxon("follow the sweep", "ops", "get", sweep, "-p", PROJECT, "--watch",
             timeout=SWEEP_TIMEOUT_SECONDS)
    polyaxon("show the leaderboard", "ops", "ls", "-p", PROJECT,
             "-q", f"pipeline:{sweep}, status:succeeded", "-s", "-metrics.val_accuracy",
             "-l", "10")
    print("\nSee the sweep in the dashboard (on this machine only, without logins):\n"
          "  .venv/bin/polyaxon server --no-auth --port 8000\n"
          f"  then open http://127.0.0.1:8000/projects/default/{PROJECT}/runs/{sweep}")


if __name__ == "__main__":
    try:
        main()
    except StepFailed as failure:
        print(f"\ndemo failed at step: {failure}", file=sys.stderr)
        sys.exit(1)
