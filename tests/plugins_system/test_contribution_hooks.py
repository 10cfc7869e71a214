"""Contribution hooks: plugins contribute classes per kind; the core selects them by name."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

from polyaxon_core.interfaces import PLUGIN_KINDS
from polyaxon_core.plugins import PluginManager

MakeManager = Callable[..., PluginManager]


def test_each_contribution_hook_answers_with_every_plugins_classes(
    make_manager: MakeManager,
) -> None:
    manager = make_manager([("scheduler-alpha", "kinds:alpha"), ("scheduler-beta", "kinds:beta")])
    kinds = sys.modules["polyaxon_sample_plugins.kinds"]
    alpha, beta = kinds.alpha.classes, kinds.beta.classes

    # pluggy answers last-registered first: beta, then alpha
    assert manager.hook.polyaxon_register_schedulers() == [[beta["scheduler"]], [alpha["scheduler"]]]
    assert manager.hook.polyaxon_register_builders() == [[beta["builder"]], [alpha["builder"]]]
    assert manager.hook.polyaxon_register_optimizers() == [[beta["optimizer"]], [alpha["optimizer"]]]
    assert manager.hook.polyaxon_register_stores() == [[beta["store"]], [alpha["store"]]]
    assert manager.hook.polyaxon_register_services() == [[beta["service"]], [alpha["service"]]]
    assert manager.hook.polyaxon_register_notifiers() == [[beta["notifier"]], [alpha["notifier"]]]
    assert manager.hook.polyaxon_register_hubs() == [[beta["hub"]], [alpha["hub"]]]


@pytest.mark.parametrize("kind", sorted(PLUGIN_KINDS))
def test_the_class_contributed_for_a_kind_is_selected_by_its_name(
    make_manager: MakeManager, kind: str
) -> None:
    manager = make_manager([(f"{kind}-alpha", "kinds:alpha"), (f"{kind}-beta", "kinds:beta")])
    kinds = sys.modules["polyaxon_sample_plugins.kinds"]

    assert manager.get(kind, "alpha") is kinds.alpha.classes[kind]
    assert manager.get(kind, "beta") is kinds.beta.classes[kind]
    assert issubclass(manager.get(kind, "beta"), PLUGIN_KINDS[kind])
    assert sorted(manager.contributions(kind)) == ["alpha", "beta"]
