"""Fixtures for the plugin-system tests.

* ``make_manager`` builds a real plugin manager from ``importlib.metadata.EntryPoint``
  objects pointing at the sample plugins in ``tests/fixtures/sample_plugins``.
* ``use_manager`` makes the ``polyaxon`` CLI use a given manager instead of the one built
  from the installed distributions.
* ``installed_plugins`` pip-installs the fixture distributions (a third-party plugin and
  a broken one) into throw-away folders, once per test session, and ``run_polyaxon``
  runs the real ``polyaxon`` executable with those folders on ``PYTHONPATH``.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from polyaxon_core.cli import cli
from polyaxon_core.config import Settings
from polyaxon_core.plugins import ENTRY_POINT_GROUP, PluginManager, build_plugin_manager
from polyaxon_core.testing import install_distribution

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SAMPLE_PACKAGE = "polyaxon_sample_plugins"


@pytest.fixture
def sample_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make the sample plugins importable; forget them afterwards so state never leaks."""
    monkeypatch.syspath_prepend(str(FIXTURES / "sample_plugins"))
    yield
    for module in [name for name in sys.modules if name.split(".")[0] == SAMPLE_PACKAGE]:
        del sys.modules[module]


def _entry_point(name: str, target: str) -> EntryPoint:
    return EntryPoint(name=name, value=f"{SAMPLE_PACKAGE}.{target}", group=ENTRY_POINT_GROUP)


@pytest.fixture
def sample_entry_point(sample_plugins: None) -> Callable[[str, str], EntryPoint]:
    """``sample_entry_point(name, "module[:object]")``: an entry point for a sample plugin."""
    return _entry_point


@pytest.fixture
def make_manager(
    sample_plugins: None, polyaxon_settings: Settings
) -> Callable[..., PluginManager]:
    """``make_manager([(entry name, "module[:object]"), ...], disabled=(...))``."""

    def make(
        entries: Sequence[tuple[str, str]], disabled: Sequence[str] = ()
    ) -> PluginManager:
        settings = dataclasses.replace(polyaxon_settings, disabled_plugins=frozenset(disabled))
        points = [_entry_point(name, target) for name, target in entries]
        return build_plugin_manager(settings, entry_points=points)

    return make


@pytest.fixture
def use_manager(monkeypatch: pytest.MonkeyPatch) -> Callable[[PluginManager], None]:
    """Make the process-wide manager (and so the ``polyaxon`` CLI) the given one."""

    def use(manager: PluginManager) -> None:
        monkeypatch.setattr("polyaxon_core.plugins.get_plugin_manager", lambda: manager)
        # the root group remembers plugin commands it loaded; start from a clean one
        monkeypatch.setattr(cli, "commands", {})
        monkeypatch.setattr(cli, "_plugin_commands_loaded", False)

    return use


# installed distributions ------------------------------------------------------------------


@pytest.fixture(scope="session")
def installed_plugins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``{"mirror": folder, "halton": folder, "broken": folder, "strictness": folder}``,
    each holding one installed distribution."""
    return {
        name: install_distribution(FIXTURES / source, tmp_path_factory.mktemp(name))
        for name, source in [("mirror", "thirdparty_plugin"), ("halton", "thirdparty_optimizer"),
                             ("broken", "broken_plugin"), ("strictness", "strictness_plugins")]
    }


@pytest.fixture
def run_polyaxon(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run_polyaxon(*args, site=[folders], env={...})``: the real CLI in a subprocess."""
    home = tmp_path / "polyaxon-home"
    executable = Path(sys.executable).parent / "polyaxon"

    def run(
        *args: str, site: Sequence[Path] = (), env: dict[str, str] | None = None,
        program: Sequence[str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        environment = {
            key: value for key, value in os.environ.items() if not key.startswith("POLYAXON_")
        }
        environment.update(
            POLYAXON_HOME=str(home),
            PYTHONPATH=os.pathsep.join(str(folder) for folder in site),
            COLUMNS="250",  # a wide table, so no cell is wrapped
            **(env or {}),
        )
        return subprocess.run(
            [*(program or [str(executable)]), *args],
            env=environment, capture_output=True, text=True, timeout=120,
        )

    return run
