"""Fixtures for the connections tests: an isolated home and a catalog written into it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

POLYAXON = str(Path(sys.executable).parent / "polyaxon")

WriteCatalog = Callable[[str], Path]
Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def home(polyaxon_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home without any catalog or secret from the environment of the test session."""
    for variable in list(os.environ):
        from_the_session = variable.startswith(("POLYAXON_SECRET_", "POLYAXON_CONFIG_MAP_"))
        if from_the_session or variable == "POLYAXON_CONNECTIONS":
            monkeypatch.delenv(variable)
    return polyaxon_home


@pytest.fixture
def write_catalog(home: Path) -> WriteCatalog:
    """Write ``$POLYAXON_HOME/connections.yaml`` (dedented) and return its path."""

    def write(text: str) -> Path:
        path = home / "connections.yaml"
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    return write


@pytest.fixture
def cli(home: Path) -> Cli:
    """Run the real ``polyaxon`` executable with the test's environment."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([POLYAXON, *args], capture_output=True, text=True, timeout=120,
                              env={**os.environ, **(env or {})})

    return run
