"""The population of runs the query tests read, on each backend of ``db_url``."""

from __future__ import annotations

import pytest

from .population import Population


@pytest.fixture
def population(db_url: str) -> Population:
    return Population.insert(db_url)
