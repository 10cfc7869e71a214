"""Event hooks: broadcast to every plugin that implements them."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from polyaxon_core.entities import RunEntity
from polyaxon_core.plugins import PluginManager

MakeManager = Callable[..., PluginManager]

RUN = RunEntity(uuid="run-1", project="demo", owner="ada", name="train", kind="job",
                runtime="job", status="created")


@pytest.fixture
def manager(make_manager: MakeManager) -> PluginManager:
    return make_manager([
        ("notifier-first", "events:first"),
        ("notifier-second", "events:second"),
        ("notifier-status", "events:status_only"),
    ])


def heard(recorder: str) -> list[tuple[object, ...]]:
    return sys.modules["polyaxon_sample_plugins.events"].__dict__[recorder].heard


def test_run_created_reaches_every_plugin(manager: PluginManager) -> None:
    manager.hook.polyaxon_on_run_created(run=RUN)
    assert heard("first") == heard("second") == [("created", "run-1")]


def test_status_changed_reaches_every_plugin_including_one_taking_fewer_arguments(
    manager: PluginManager,
) -> None:
    running = dataclasses.replace(RUN, status="running")
    manager.hook.polyaxon_on_run_status_changed(run=running, previous="starting", status="running")

    assert heard("first") == heard("second") == [("status", "run-1", "starting", "running")]
    assert sys.modules["polyaxon_sample_plugins.events"].status_only.statuses == ["running"]


def test_metrics_logged_reaches_every_plugin(manager: PluginManager) -> None:
    manager.hook.polyaxon_on_run_metrics_logged(run=RUN, metrics={"loss": 0.25}, step=7)
    assert heard("first") == heard("second") == [("metrics", "run-1", {"loss": 0.25}, 7)]


def test_run_done_reaches_every_plugin(manager: PluginManager) -> None:
    finished = dataclasses.replace(RUN, status="succeeded", finished_at=datetime.now(UTC))
    manager.hook.polyaxon_on_run_done(run=finished)
    assert heard("first") == heard("second") == [("done", "run-1", "succeeded")]


def test_a_disabled_plugin_hears_nothing(make_manager: MakeManager) -> None:
    manager = make_manager(
        [("notifier-first", "events:first"), ("notifier-second", "events:second")],
        disabled=["notifier-second"],
    )
    manager.hook.polyaxon_on_run_created(run=RUN)
    assert heard("first") == [("created", "run-1")]
    assert heard("second") == []
