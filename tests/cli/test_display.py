"""What the CLI prints on an 80-column console: plugins, trial leaderboards, sweep tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from polyaxon_core.config import load_settings
from polyaxon_core.db.models import Run
from polyaxon_core.db.session import migrate, session_scope
from polyaxon_core.domain.projects import create_project

POLYAXON = str(Path(sys.executable).parent / "polyaxon")


def polyaxon(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([POLYAXON, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "80", **env})


def test_plugins_list_fits_80_columns_with_names_packages_and_hooks_in_full(
    polyaxon_home: Path,
) -> None:
    result = polyaxon("plugins", "list", POLYAXON_DISABLE_PLUGINS="optimizer-grid")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in result.stdout
    described = json.loads(polyaxon("plugins", "list", "-o", "json").stdout)
    assert len(described) >= 10
    for plugin in described:
        package = f"{plugin['distribution']}=={plugin['version']}"
        status = "disabled" if plugin["name"] == "optimizer-grid" else "ok"
        assert f"{plugin['name']}  {package}  {status}" in lines
        for hook in [] if status == "disabled" else plugin["hooks"]:
            assert any(line.split()[-1:] == [hook] for line in lines), hook


@pytest.fixture
def sweep(polyaxon_home: Path) -> str:
    """A finished sweep of 10 trials searching `lr`; the last two ran with `lr` fixed
    by the polyaxonfile (their inputs have it, their suggested params do not)."""
    url = load_settings().db_url
    migrate(url)
    with session_scope(url) as session:
        project = create_project(session, "p")
        parent = Run(project=project, name="search", kind="matrix", runtime="job",
                     status="succeeded", meta_info={"optimizer": {"planned": 10}})
        session.add(parent)
        session.flush()
        for index in range(10):
            params = {"lr": 0.1 * (index + 1), "layers": 2} if index < 8 else {"layers": 3}
            session.add(Run(
                project=project, name=f"search-{index}", kind="job", runtime="job",
                status="succeeded", pipeline=parent, matrix_index=index,
                inputs={"lr": 0.5, "layers": 2, **params},
                meta_info={"matrix": {"index": index, "params": params}},
                last_metrics={"loss": 1.0 / (index + 1)}))
        return parent.uuid


def test_ops_ls_shows_the_value_of_an_input_a_trial_did_not_search(sweep: str) -> None:
    result = polyaxon("ops", "ls", "-p", "p", "-q", f"pipeline:{sweep[:12]}", "-s", "name")
    assert result.returncode == 0, result.stderr
    rows = [line.strip("│ ").split("│") for line in result.stdout.replace("┃", "│").splitlines()
            if line.startswith("│")]
    header = [cell.strip() for cell in rows[0]]
    lr = [row[header.index("lr")].strip() for row in rows[1:]]
    assert lr[-2:] == ["0.5", "0.5"] and "-" not in lr
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


def test_the_final_sweep_table_says_how_many_trials_it_leaves_out(sweep: str) -> None:
    result = polyaxon("ops", "get", sweep[:12], "-p", "p", "--watch")
    assert result.returncode == 0, result.stderr
    shown = " ".join(result.stdout.split())
    assert f"8 of 10 trials shown (unfinished first, then the latest finished); all of them: " \
           f"polyaxon ops get {sweep[:12]}" in shown
    everything = polyaxon("ops", "get", sweep[:12], "-p", "p")
    assert "trials shown" not in everything.stdout
