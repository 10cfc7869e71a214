"""What a submitting command loads of the installed plugins: handing its submission to
the running orchestrator, none; submitting itself to a running orchestrator (one that
declined the submission), its scheduler's plugin alone, unless a plugin listens to the
run's events (what the orchestrator published of its plugins vouches for the rest)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from polyaxon_core.testing import install_distribution
from polyaxon_core.testing.scheduler import wait_until
from tests.orchestrator.conftest import FILES, Cli, wait_final, wait_for

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
#: modules of plugins a plain job's submission has no use for
UNNEEDED = ("polyaxon_optimizers", "polyaxon_notebooks", "polyaxon_hubs", "polyaxon_builders",
            "polyaxon_stores", "polyaxon_notifiers")


#: a variable that differs from the orchestrator's: the command submits the run itself
CONFIGURED_OTHERWISE = {"POLYAXON_CONCURRENCY": "3"}


def _submit_with_imports(tmp_path: Path, *args: str, environment: dict[str, str] | None = None,
                         ) -> tuple[str, set[str]]:
    """``polyaxon run`` of a job with ``args`` (and ``environment``), its output's uuid and
    the modules it imported."""
    imported = tmp_path / "modules.txt"
    program = ("import atexit, runpy, sys; target = sys.argv.pop(1); atexit.register(lambda: "
               "open(target, 'w').write(' '.join(sys.modules))); "
               "runpy.run_module('polyaxon_core.cli', run_name='__main__')")
    result = subprocess.run(
        [sys.executable, "-c", program, str(imported), "run", "-f", str(FILES / "task.yaml"),
         "-o", "json", *args],
        capture_output=True, text=True, timeout=300, env={**os.environ, **(environment or {})})
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)["uuid"], set(imported.read_text().split())


def _busy_orchestrator(cli: Cli, home: Path) -> str:
    """A run that keeps the on-demand orchestrator serving ``home``; once it published
    what it found of its plugins."""
    submitted = cli("run", "-f", str(FILES / "task.yaml"), "-P", "sleep=120", "-o", "json")
    busy = json.loads(submitted.stdout)["uuid"]
    wait_for(busy, lambda state: state["status"] == "running")
    lock = home / "orchestrator.lock"
    wait_until(lambda: "scheduler_class" in lock.read_text(), 60, what="the orchestrator's status")
    return busy


def test_a_job_submitted_to_a_running_orchestrator_imports_its_schedulers_plugin_alone(
    cli: Cli, home: Path, tmp_path: Path
) -> None:
    busy = _busy_orchestrator(cli, home)
    status = json.loads((home / "orchestrator.lock").read_text())
    assert status["scheduler_class"] == "polyaxon_schedulers.local:LocalScheduler"
    assert status["listeners"] == "" and status["disabled_plugins"] == []

    handed, modules = _submit_with_imports(tmp_path)
    assert not [module for module in modules if module.startswith(("polyaxon_schedulers", *UNNEEDED))]
    uuid, modules = _submit_with_imports(tmp_path, environment=CONFIGURED_OTHERWISE)
    assert "polyaxon_schedulers.local" in modules
    assert not [module for module in modules if module.startswith(UNNEEDED)]
    # what the scheduler refuses is still refused at submit time (the orchestrator declines
    # it and the command says so), by the class imported
    refused = cli("run", "-f", str(FILES / "tfjob.yaml"), check=False)
    assert refused.returncode != 0
    assert "use POLYAXON_SCHEDULER=kubernetes (POLYAXON_SCHEDULER=local)" in refused.stderr
    assert wait_final(uuid)["status"] == wait_final(handed)["status"] == "succeeded"
    cli("ops", "stop", busy, "-y")


def test_other_plugins_turned_off_than_the_orchestrators_discover_every_plugin(
    cli: Cli, home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    busy = _busy_orchestrator(cli, home)
    monkeypatch.setenv("POLYAXON_DISABLE_PLUGINS", "hub-http")
    uuid, modules = _submit_with_imports(tmp_path)
    # what the orchestrator found does not hold for this command: it looks for itself
    assert "polyaxon_optimizers.grid" in modules
    assert wait_final(uuid)["status"] == "succeeded"
    monkeypatch.delenv("POLYAXON_DISABLE_PLUGINS")
    cli("ops", "stop", busy, "-y")


def test_a_plugin_listening_to_run_creations_hears_them_where_they_are_made(
    cli: Cli, home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    site = install_distribution(FIXTURES / "event_recorder", tmp_path / "recorder")
    events = tmp_path / "events.txt"
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.setenv("POLYAXON_TEST_EVENTS_FILE", str(events))
    busy = _busy_orchestrator(cli, home)
    assert json.loads((home / "orchestrator.lock").read_text())["listeners"] == "polyaxon_on_run_created"

    handed, _ = _submit_with_imports(tmp_path)
    uuid, modules = _submit_with_imports(tmp_path, environment=CONFIGURED_OTHERWISE)
    assert "polyaxon_event_recorder" in modules
    heard = dict(line.split() for line in events.read_text().splitlines())
    # each creation, heard in the process that made it: the orchestrator's for the one
    # handed to it, the command's for the one it made itself
    assert set(heard) == {busy, handed, uuid}
    orchestrator = json.loads((home / "orchestrator.lock").read_text())["pid"]
    assert int(heard[handed]) == orchestrator
    assert int(heard[uuid]) != orchestrator
    cli("ops", "stop", busy, "-y")
