"""What every test directory shares (tests/, plugins/*/tests/, webapp/tests/)."""

from __future__ import annotations

import os


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
