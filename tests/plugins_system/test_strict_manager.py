"""The manager refuses what would fail later: incomplete classes, a backend name claimed
by two plugins, a contribution that is not of its kind. Each is a broken plugin with a
one-line reason, listed by `polyaxon plugins list` and warned about by other commands."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from polyaxon_core.plugins import PluginManager, UnknownPluginError

MakeManager = Callable[..., PluginManager]
RunPolyaxon = Callable[..., subprocess.CompletedProcess[str]]

CLASH = (
    "store 'mirror' is contributed by both polyaxon-strictness-plugins==0.2.0 (store-copycat) "
    "and polyaxon-mirror-store==0.3.1 (store-mirror); uninstall one, or turn one off with "
    "POLYAXON_DISABLE_PLUGINS=store-mirror"
)
INCOMPLETE = (
    "polyaxon_register_builders returned IncompleteBuilder, which does not implement poll, start "
    "(abstract in Builder)"
)
IMPOSTOR = (
    "polyaxon_register_optimizers returned <class 'polyaxon_strictness_plugins.impostor."
    "ImpostorSearch'>, which is not a subclass of Optimizer"
)


def test_a_class_missing_abstract_methods_is_refused_with_their_names(
    make_manager: MakeManager,
) -> None:
    manager = make_manager([("scheduler-half", "incomplete"), ("store-alpha", "kinds:alpha")])

    [broken] = manager.broken
    assert (broken.name, broken.error) == (
        "scheduler-half",
        "polyaxon_register_schedulers returned HalfScheduler, which does not implement "
        "poll, stop (abstract in Scheduler)",
    )
    assert manager.pm.get_plugin("scheduler-half") is None
    with pytest.raises(UnknownPluginError) as raised:
        manager.get("scheduler", "half")
    assert str(raised.value) == (
        "no scheduler named 'half' can be used: plugin scheduler-half "
        f"(polyaxon_sample_plugins.incomplete) is broken: {broken.error}"
    )
    assert manager.get("store", "alpha").__name__ == "AlphaArtifactStore"


@pytest.mark.parametrize("order", [("store-a", "store-b"), ("store-b", "store-a")])
def test_a_backend_name_claimed_by_two_plugins_is_refused_whatever_the_order(
    make_manager: MakeManager, order: tuple[str, str]
) -> None:
    first, second = order
    manager = make_manager(
        [(first, "kinds:alpha"), (second, "kinds:alpha_again"), ("store-c", "kinds:beta")]
    )

    assert sorted(info.name for info in manager.broken) == ["store-a", "store-b"]
    with pytest.raises(UnknownPluginError) as raised:
        manager.get("store", "alpha")
    assert str(raised.value).startswith(
        "no store named 'alpha' can be used: plugin store-a (polyaxon_sample_plugins.kinds:"
    )
    assert "is broken: builder 'alpha' is contributed by both polyaxon_sample_plugins.kinds:" in (
        str(raised.value)
    )
    assert "store 'alpha' is contributed by both" in str(raised.value)
    assert manager.get("store", "beta").__name__ == "BetaArtifactStore"
    assert "alpha" not in manager.contributions("scheduler")


def plugins_by_name(result: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    assert result.returncode == 0, result.stderr
    return {entry["name"]: entry for entry in json.loads(result.stdout)}


def test_installed_plugins_the_manager_refuses_are_listed_as_broken(
    installed_plugins: dict[str, Path], run_polyaxon: RunPolyaxon
) -> None:
    site = [installed_plugins["mirror"], installed_plugins["strictness"]]

    result = run_polyaxon("plugins", "list", "-o", "json", site=site)

    plugins = plugins_by_name(result)
    assert {name: (entry["status"], entry["reason"]) for name, entry in plugins.items()
            if entry["status"] != "ok"} == {
        "store-copycat": ("broken", CLASH),
        "store-mirror": ("broken", CLASH),
        "builder-incomplete": ("broken", INCOMPLETE),
        "optimizer-impostor": ("broken", IMPOSTOR),
    }
    # the list shows them in full: no warning repeats them
    assert result.stderr == ""


def test_other_commands_warn_about_each_broken_plugin_in_one_line(
    installed_plugins: dict[str, Path], run_polyaxon: RunPolyaxon, tmp_path: Path
) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(
        "kind: operation\n"
        "matrix: {kind: impostor, params: {lr: {kind: choice, value: [1, 2]}}}\n"
        "component:\n"
        "  inputs: [{name: lr, type: int}]\n"
        "  run: {kind: job, container: {image: busybox}}\n"
    )
    site = [installed_plugins["mirror"], installed_plugins["strictness"]]

    result = run_polyaxon("check", "-f", str(path), site=site)

    warnings = result.stderr.splitlines()
    assert warnings == [
        f"Warning: plugin builder-incomplete (polyaxon-strictness-plugins==0.2.0) is broken and "
        f"not loaded: {INCOMPLETE}; see `polyaxon plugins check`",
        f"Warning: plugin optimizer-impostor (polyaxon-strictness-plugins==0.2.0) is broken and "
        f"not loaded: {IMPOSTOR}; see `polyaxon plugins check`",
        f"Warning: plugin store-copycat (polyaxon-strictness-plugins==0.2.0) is broken and "
        f"not loaded: {CLASH}; see `polyaxon plugins check`",
        f"Warning: plugin store-mirror (polyaxon-mirror-store==0.3.1) is broken and "
        f"not loaded: {CLASH}; see `polyaxon plugins check`",
    ]
    # the impostor's matrix kind is not usable: the file is refused
    assert result.returncode == 1
    assert "matrix.kind: `impostor` is not a valid matrix kind" in result.stdout


SELECT_STORE = """
from polyaxon_core.config import load_settings
from polyaxon_core.plugins import UnknownPluginError, create

settings = load_settings()
try:
    print(type(create("store", settings.store, settings)).__name__)
except UnknownPluginError as exc:
    print(exc)
"""


def test_selecting_a_name_two_plugins_claim_fails_with_the_reason_until_one_is_off(
    installed_plugins: dict[str, Path], run_polyaxon: RunPolyaxon
) -> None:
    site = [installed_plugins["mirror"], installed_plugins["strictness"]]
    program = [sys.executable, "-c", SELECT_STORE]

    refused = run_polyaxon(site=site, env={"POLYAXON_STORE": "mirror"}, program=program)
    chosen = run_polyaxon(site=site, program=program, env={
        "POLYAXON_STORE": "mirror", "POLYAXON_DISABLE_PLUGINS": "store-copycat"})

    assert refused.stdout == (
        "no store named 'mirror' can be used: plugin store-copycat "
        f"(polyaxon-strictness-plugins==0.2.0) is broken: {CLASH}\n"
    )
    assert chosen.stdout == "MirrorArtifactStore\n"


SELECT_BUILDER = """
from polyaxon_core.plugins import UnknownPluginError, get_plugin_manager

try:
    get_plugin_manager().get("builder", "incomplete")
except UnknownPluginError as exc:
    print(exc)
"""


def test_selecting_an_incomplete_installed_class_fails_with_what_it_misses(
    installed_plugins: dict[str, Path], run_polyaxon: RunPolyaxon
) -> None:
    result = run_polyaxon(site=[installed_plugins["strictness"]],
                          program=[sys.executable, "-c", SELECT_BUILDER])

    assert result.stdout == (
        "no builder named 'incomplete' can be used: plugin builder-incomplete "
        f"(polyaxon-strictness-plugins==0.2.0) is broken: {INCOMPLETE}\n"
    )


def test_a_workspace_service_without_its_component_is_refused(make_manager: MakeManager) -> None:
    manager = make_manager([("service-nameless", "workspaces:incomplete")])

    [broken] = manager.broken
    assert broken.error == ("polyaxon_register_services returned NamelessComponent without "
                            "`component` (every WorkspaceService sets it)")
    assert "nameless" not in manager.contributions("service")
