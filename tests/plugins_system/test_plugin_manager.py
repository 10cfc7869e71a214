"""How the plugin manager treats what it discovers: broken, mismatched, disabled, duplicate."""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib.metadata import EntryPoint

import pytest

from polyaxon_core.config import load_settings
from polyaxon_core.entities import RunEntity
from polyaxon_core.plugins import (
    PluginInfo,
    PluginManager,
    UnknownPluginError,
    build_plugin_manager,
)

MakeManager = Callable[..., PluginManager]


def info(manager_plugins: list[PluginInfo], name: str) -> PluginInfo:
    (found,) = [plugin for plugin in manager_plugins if plugin.name == name]
    return found


def a_run() -> RunEntity:
    return RunEntity(uuid="r1", project="demo", owner="ada", name=None, kind="job",
                     runtime="job", status="created")


def test_a_plugin_failing_on_import_is_reported_and_the_others_load(
    make_manager: MakeManager,
) -> None:
    manager = make_manager([("notifier-broken", "fails_on_import"), ("store-alpha", "kinds:alpha")])

    assert [plugin.name for plugin in manager.broken] == ["notifier-broken"]
    error = manager.broken[0].error or ""
    assert error.startswith("RuntimeError: licence server unreachable (")
    assert "fails_on_import.py:3)" in error
    assert "\n" not in error
    assert manager.get("store", "alpha").__name__ == "AlphaArtifactStore"


def test_an_unknown_hook_is_reported_with_the_hook_meant_and_nothing_registered(
    make_manager: MakeManager,
) -> None:
    manager = make_manager([("store-typo", "unknown_hook")])

    assert info(manager.plugins, "store-typo").error == (
        "polyaxon_register_storez is not a polyaxon hook; did you mean polyaxon_register_stores?"
    )
    assert manager.pm.get_plugin("store-typo") is None
    assert manager.hook.polyaxon_register_stores() == []  # its valid hook is not called


def test_a_hook_asking_for_an_argument_not_passed_is_reported_and_nothing_registered(
    make_manager: MakeManager,
) -> None:
    manager = make_manager([("notifier-wrong", "wrong_argument")])

    assert info(manager.plugins, "notifier-wrong").error == (
        "polyaxon_on_run_done(run_entity) asks for run_entity, which the hook does not "
        "pass; it passes: run"
    )
    assert manager.pm.get_plugin("notifier-wrong") is None
    manager.hook.polyaxon_on_run_created(run=a_run())
    assert sys.modules["polyaxon_sample_plugins.wrong_argument"].heard == []


def test_plugins_named_in_the_disable_variable_are_disabled_and_never_imported(
    sample_entry_point: Callable[[str, str], EntryPoint], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLYAXON_DISABLE_PLUGINS", " store-alpha , notifier-broken")
    points = [
        sample_entry_point("notifier-broken", "fails_on_import"),
        sample_entry_point("store-alpha", "kinds:alpha"),
        sample_entry_point("store-beta", "kinds:beta"),
    ]
    manager = build_plugin_manager(load_settings(), entry_points=points)

    assert [(plugin.name, plugin.disabled) for plugin in manager.plugins] == [
        ("notifier-broken", True), ("store-alpha", True), ("store-beta", False),
    ]
    assert manager.broken == []
    assert "polyaxon_sample_plugins.fails_on_import" not in sys.modules
    assert set(manager.contributions("store")) == {"beta"}


def test_the_second_plugin_with_a_taken_entry_name_is_reported_and_the_first_kept(
    make_manager: MakeManager,
) -> None:
    manager = make_manager([("store-alpha", "kinds:alpha"), ("store-alpha", "kinds:beta")])

    first, second = manager.plugins
    assert (first.error, first.hooks != ()) == (None, True)
    assert second.error == (
        "another module already provides a plugin named 'store-alpha'; uninstall one of the two"
    )
    assert set(manager.contributions("store")) == {"alpha"}


def test_disabling_a_taken_name_disables_every_plugin_with_it(make_manager: MakeManager) -> None:
    manager = make_manager(
        [("store-alpha", "kinds:alpha"), ("store-alpha", "kinds:beta")], disabled=["store-alpha"]
    )

    assert [(plugin.disabled, plugin.error) for plugin in manager.plugins] == [
        (True, None), (True, None),
    ]


def test_classes_are_selected_by_name_whatever_the_registration_order(
    make_manager: MakeManager,
) -> None:
    alpha_first = make_manager([("store-a", "kinds:alpha"), ("store-b", "kinds:beta")])
    beta_first = make_manager([("store-a", "kinds:beta"), ("store-b", "kinds:alpha")])

    for manager in (alpha_first, beta_first):
        assert manager.get("store", "alpha").__name__ == "AlphaArtifactStore"
        assert manager.get("store", "beta").__name__ == "BetaArtifactStore"


def test_an_unknown_name_lists_the_valid_ones(make_manager: MakeManager) -> None:
    manager = make_manager([("store-a", "kinds:alpha"), ("store-b", "kinds:beta")])

    with pytest.raises(UnknownPluginError) as raised:
        manager.get("store", "gamma")
    assert str(raised.value) == "no store named 'gamma'; available: alpha, beta"


def test_an_unknown_name_points_at_broken_plugins_of_that_kind(make_manager: MakeManager) -> None:
    manager = make_manager([("store-a", "kinds:alpha"), ("store-s3", "fails_on_import")])

    with pytest.raises(UnknownPluginError) as raised:
        manager.get("store", "s3")
    assert str(raised.value) == (
        "no store named 's3'; available: alpha "
        "(broken plugins: store-s3; run `polyaxon plugins check`)"
    )


def test_with_nothing_installed_the_error_says_so(make_manager: MakeManager) -> None:
    with pytest.raises(UnknownPluginError, match="no scheduler named 'local'; available: none"):
        make_manager([]).get("scheduler", "local")


def test_the_installed_local_store_loads_from_its_distribution() -> None:
    manager = build_plugin_manager()

    local = info(manager.plugins, "store-local")
    assert (local.distribution, local.module, local.error) == (
        "polyaxon-stores", "polyaxon_stores.local", None,
    )
    assert local.hooks == ("polyaxon_register_stores",)
    assert manager.get("store", "local").__module__ == "polyaxon_stores.local"
