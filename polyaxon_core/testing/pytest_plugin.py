"""The pytest plugin registered as ``pytest11`` entry point ``polyaxon``.

It adds the ``polyaxon_settings`` fixture: settings pointing at a temporary
POLYAXON_HOME, for plugin authors' tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from polyaxon_core.config import Settings


@pytest.fixture
def polyaxon_settings(tmp_path: Path) -> Settings:
    """Settings for an isolated home under ``tmp_path`` (SQLite, local folders)."""
    home = tmp_path / "polyaxon-home"
    home.mkdir()
    return Settings(
        home=home,
        db_url=f"sqlite:///{home / 'polyaxon.db'}",
        scheduler="local",
        store="local",
        stop_grace_period=2.0,
        poll_interval=0.05,
    )
