"""`polyaxon --help` stays fast: it imports click and the core's small modules only; a
command on the embedded SQLite default does not load PostgreSQL's dialect or drivers, nor
the HTTP client and mail modules it has no use for."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ["sqlalchemy", "alembic", "marshmallow", "rich", "pluggy", "jinja2", "yaml", "psycopg",
         "psycopg2", "polyaxon_core.plugins", "polyaxon_core.db", "polyaxon_core.spec"]


def _modules_after(*argv: str) -> set[str]:
    script = (
        "import sys\n"
        "from polyaxon_core.cli import cli\n"
        f"try:\n    cli.main({list(argv)!r}, standalone_mode=False)\n"
        "except SystemExit:\n    pass\n"
        "import json; print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True)
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_help_imports_no_heavy_library() -> None:
    loaded = _modules_after("--help")
    assert not [name for name in HEAVY if name in loaded]


def test_a_subcommands_help_imports_no_heavy_library() -> None:
    loaded = _modules_after("ops", "--help")
    assert not [name for name in HEAVY if name in loaded]


def test_a_command_on_the_sqlite_default_loads_nothing_of_postgresql(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POLYAXON_DB_URL", raising=False)
    monkeypatch.setenv("POLYAXON_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("POLYAXON_ORCHESTRATOR", "external")
    # the first command makes the home's database (its migrations name PostgreSQL's types)
    _modules_after("project", "create", "demo")
    loaded = _modules_after("project", "ls")
    assert "polyaxon_core.db.models" in loaded  # it read the database
    assert not [name for name in ("sqlalchemy.dialects.postgresql", "psycopg2", "psycopg")
                if name in loaded]


def test_a_run_submitted_on_the_sqlite_default_loads_no_http_or_mail_module(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POLYAXON_DB_URL", raising=False)
    monkeypatch.delenv("POLYAXON_HOST", raising=False)
    monkeypatch.setenv("POLYAXON_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("POLYAXON_ORCHESTRATOR", "external")
    component = tmp_path / "job.yaml"
    component.write_text("version: 1.1\nkind: component\nname: job\nrun:\n  kind: job\n"
                         "  container:\n    image: python:3.11-slim\n"
                         "    command: [python, -c, pass]\n")
    _modules_after("project", "create", "demo")
    loaded = _modules_after("run", "-f", str(component), "-p", "demo")
    # it compiled the file, checked the backends against every plugin and wrote the run
    assert {"polyaxon_core.spec.compiler", "polyaxon_core.plugins", "polyaxon_notifiers.email",
            "polyaxon_hubs.http", "polyaxon_core.db.models"} <= loaded
    assert not [name for name in ("http.client", "urllib.request", "smtplib") if name in loaded]


def test_help_lists_every_core_command() -> None:
    result = subprocess.run([sys.executable, "-m", "polyaxon_core.cli", "--help"],
                            capture_output=True, text=True, check=True)
    for command in ("init", "project", "run", "ops", "check", "plugins", "queues", "scheduler"):
        assert f"  {command} " in result.stdout
