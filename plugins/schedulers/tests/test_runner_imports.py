"""The runner imports neither the orchestrator nor the database layer to start a command
(a Celery worker forks one per run), and the supervisor loads the database layer its runs'
tracking needs once, ahead of them when it can."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ["sqlalchemy", "polyaxon_core.orchestrator.loop", "polyaxon_core.db"]


def _modules_after(code: str) -> set[str]:
    script = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))\n"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_a_run_without_initializers_imports_nothing_heavy_before_its_command() -> None:
    loaded = _modules_after(
        "from polyaxon_schedulers import runner\n"
        "import polyaxon_stores.local\n"  # what the scheduler has preloaded for the local store
        "assert runner._initialize({'init': []}, [], None, None, None, lambda: False) is None")
    assert [name for name in HEAVY if name in loaded] == []


def test_the_initializers_need_no_database_either() -> None:
    loaded = _modules_after("import polyaxon_schedulers.initializers")
    assert [name for name in HEAVY if name in loaded] == []


SERVE = """
import json, os, sys, threading
from polyaxon_core.testing.scheduler import wait_until
from polyaxon_schedulers import supervisor

LAYER = "polyaxon_core.tracking.database"
readable, writable = os.pipe()
before = LAYER in sys.modules
if {pending!r}:
    os.write(writable, {pending!r})
    os.close(writable)
else:
    def end_once_loaded():
        try:
            wait_until(lambda: LAYER in sys.modules, timeout=60, what="the database layer loaded")
        finally:
            os.close(writable)  # the server's stdin closes: it leaves
    threading.Thread(target=end_once_loaded, daemon=True).start()
supervisor.serve(os.fdopen(readable, "rb"))
print(json.dumps({{"before": before, "after": LAYER in sys.modules}}))
"""


def _serve(pending: bytes) -> tuple[dict[str, object], str]:
    result = subprocess.run([sys.executable, "-c", SERVE.format(pending=pending)],
                            capture_output=True, text=True, check=True, timeout=120)
    outcome: dict[str, object] = json.loads(result.stdout.splitlines()[-1])
    return outcome, result.stderr


def test_a_supervisor_started_ahead_of_its_runs_loads_the_database_layer_at_once() -> None:
    """Started with no request waiting (the scheduler's ``prepare``), the supervisor loads
    what serves its runs' tracking before any run asks, so no run waits for it."""
    outcome, said = _serve(b"")
    assert outcome == {"before": False, "after": True}
    assert said == ""


def test_a_supervisor_started_for_a_line_that_names_no_attempt_says_so_and_starts_nothing() -> None:
    """A line that is no request (a scheduler killed while writing it) is said on stderr;
    nothing starts for it, and nothing is loaded for a run that is not on its way."""
    outcome, said = _serve(b"not a request\n")
    assert outcome == {"before": False, "after": False}
    assert "not a request (JSONDecodeError" in said and "nothing started" in said
