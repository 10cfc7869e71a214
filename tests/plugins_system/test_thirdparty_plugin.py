"""Installed distributions are discovered through entry points, third-party like ours.

The fixture distributions in ``tests/fixtures`` are pip-installed into throw-away folders
(the shared virtual environment is not touched) and the real ``polyaxon`` executable runs
with those folders on ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

RunPolyaxon = Callable[..., subprocess.CompletedProcess[str]]


def plugins_by_name(result: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    assert result.returncode == 0, result.stderr
    return {entry["name"]: entry for entry in json.loads(result.stdout)}


def test_a_thirdparty_plugin_is_listed_like_ours(
    installed_plugins: dict[str, Path], run_polyaxon: RunPolyaxon
) -> None:
    plugins = plugins_by_name(
        run_polyaxon("plugins", "list", "-o", "json", site=[installed_plugins["mirror"]])
    )

    mirror = plugins["store-mirror"]
    assert (mirror["distribution"], mirror["version"], mirror["status"]) == (
        "polyaxon-mirror-store", "0.3.1", "ok",
    )
    assert mirror["module"] == "polyaxon_mirror_store.plugin"
    assert mirror["hooks"] == ["polyaxon_register_commands", "polyaxon_register_stores"]
    assert mirror["contributes"] == {
        "store": {"mirror": "Artifacts and logs under POLYAXON_HOME/mirror."}
    }
    ours = plugins["store-local"]
    assert (ours["distribution"], ours["contributes"]) == (
        "polyaxon-stores", {"store": {"local": "Artifacts and logs in folders under POLYAXON_HOME."}},
    )


def test_the_table_shows_the_thirdparty_distribution_and_version(
    installed_plugins: dict[str, Path], run_polyaxon: RunPolyaxon
) -> None:
    result = run_polyaxon("plugins", "list", site=[installed_plugins["mirror"]])

    assert result.returncode == 0, result.stderr
    (row,) = [line for line in result.stdout.splitlines() if "store-mirror" in line]
    assert "polyaxon-mirror-store==0.3.1" in row
    assert "store: mirror — Artifacts and logs under POLYAXON_HOME/mirror." in row


def test_a_thirdparty_command_runs_from_the_polyaxon_cli(
    installed_plugins: dict[str, Path], run_polyaxon: RunPolyaxon, tmp_path: Path
) -> None:
    result = run_polyaxon("mirror-info", site=[installed_plugins["mirror"]])

    assert result.returncode == 0, result.stderr
    home = tmp_path / "polyaxon-home"
    assert result.stdout.splitlines() == [
        f"artifacts: {home / 'mirror' / 'artifacts'}",
        f"logs: {home / 'mirror' / 'logs'}",
    ]


def test_without_the_distribution_the_command_is_unknown(run_polyaxon: RunPolyaxon) -> None:
    result = run_polyaxon("mirror-info")

    assert result.returncode == 2
    assert "No such command 'mirror-info'" in result.stderr


SELECT_STORE = """
import io
from polyaxon_core.config import load_settings
from polyaxon_core.plugins import create

settings = load_settings()
store = create("store", settings.store, settings)
store.put_stream("run-1", io.BytesIO(b"saved"), "outputs/model.txt")
print(type(store).__module__, type(store).__name__)
print(store.local_path("run-1"))
"""


def test_the_thirdparty_store_is_selected_by_name(
    installed_plugins: dict[str, Path], run_polyaxon: RunPolyaxon, tmp_path: Path
) -> None:
    result = run_polyaxon(
        site=[installed_plugins["mirror"]], env={"POLYAXON_STORE": "mirror"},
        program=[sys.executable, "-c", SELECT_STORE],
    )

    assert result.returncode == 0, result.stderr
    kind, folder = result.stdout.splitlines()
    assert kind == "polyaxon_mirror_store.store MirrorArtifactStore"
    expected = (tmp_path / "polyaxon-home" / "mirror" / "artifacts" / "run-1").resolve()
    assert Path(folder) == expected
    assert (expected / "outputs" / "model.txt").read_bytes() == b"saved"


def test_check_fails_on_an_installed_plugin_that_cannot_be_imported(
    installed_plugins: dict[str, Path], run_polyaxon: RunPolyaxon
) -> None:
    result = run_polyaxon("plugins", "check", site=[installed_plugins["broken"]])

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    (report,) = [line for line in lines if line.startswith("notifier-broken ")]
    assert report.startswith(
        "notifier-broken (polyaxon-broken-plugin==0.0.1): ModuleNotFoundError: "
        "No module named 'polyaxon_missing_dependency'"
    )
    assert lines[lines.index(report) + 1] == (
        "  fix: reinstall or upgrade it (pip install --upgrade polyaxon-broken-plugin), "
        "or turn it off with POLYAXON_DISABLE_PLUGINS=notifier-broken"
    )
    assert result.stderr.startswith("Error: ")
    assert "Traceback" not in result.stderr


def test_a_disabled_installed_plugin_is_listed_as_disabled_and_not_imported(
    installed_plugins: dict[str, Path], run_polyaxon: RunPolyaxon
) -> None:
    disabled = {"POLYAXON_DISABLE_PLUGINS": "notifier-broken"}
    plugins = plugins_by_name(
        run_polyaxon("plugins", "list", "-o", "json", site=[installed_plugins["broken"]],
                     env=disabled)
    )
    check = run_polyaxon("plugins", "check", site=[installed_plugins["broken"]], env=disabled)

    assert (plugins["notifier-broken"]["status"], plugins["notifier-broken"]["reason"]) == (
        "disabled", None,
    )
    assert "notifier-broken" not in check.stdout


def test_every_installed_plugin_loads(
    installed_plugins: dict[str, Path], run_polyaxon: RunPolyaxon
) -> None:
    result = run_polyaxon("plugins", "check", site=[installed_plugins["mirror"]])

    assert (result.returncode, result.stderr) == (0, ""), result.stdout
    assert result.stdout.endswith(" plugins ok\n")
    assert len(result.stdout.splitlines()) == 1
