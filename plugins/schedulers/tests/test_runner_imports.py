"""A runner starts its command without importing the orchestrator or the database layer:
it is forked for every run, and each import would be paid again by every run."""

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
        "from polyaxon_schedulers import forkserver, runner\n"
        "import polyaxon_stores.local\n"  # what the fork server preloads for the local store
        "assert runner._initialize({'init': []}, [], None, None, None, lambda: False) is None")
    assert [name for name in HEAVY if name in loaded] == []


def test_the_initializers_need_no_database_either() -> None:
    loaded = _modules_after("import polyaxon_schedulers.initializers")
    assert [name for name in HEAVY if name in loaded] == []
