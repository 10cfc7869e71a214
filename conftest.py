"""What every test directory shares (tests/, plugins/*/tests/, webapp/tests/)."""

from __future__ import annotations

import os

import pytest


def pytest_configure() -> None:
    """Two settings for the whole session, servers and runs started by fixtures included.

    Runs sample no resources unless a test asks (tests/tracking/test_resources.py does):
    a sample arriving at an arbitrary moment would add metrics to runs whose metrics a
    test counts exactly.

    pytest-xdist starts its workers with COLUMNS=80 and LINES=24, as if on a small
    terminal; the CLI the tests run would then wrap its messages at 80 columns, unlike
    anywhere else it writes to a pipe. The workers forget that size."""
    os.environ["POLYAXON_RESOURCES_INTERVAL"] = "0"
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ.pop("COLUMNS", None)
        os.environ.pop("LINES", None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files with a test marked ``slow`` first, the rest in their order: pytest-xdist
    (``--dist loadfile --no-loadscope-reorder``) hands whole files to its workers in this
    order, so the longest start at once and the workers end together, instead of one of
    them running a long file alone at the end."""
    slow = {item.path for item in items if item.get_closest_marker("slow") is not None}
    items.sort(key=lambda item: item.path not in slow)
