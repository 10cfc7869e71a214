"""setup.cfg configures pycodestyle (what editors run by default) to agree with ruff."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = ["polyaxon_core", "plugins", "webapp", "tests", "examples", "benchmarks"]


def _pycodestyle(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pycodestyle", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_pycodestyle_with_setup_cfg_passes_the_code_base() -> None:
    checked = _pycodestyle(*CODE)
    assert checked.returncode == 0, checked.stdout


def test_the_code_base_needs_setup_cfgs_line_length() -> None:
    # what pycodestyle would say without setup.cfg's max-line-length
    checked = _pycodestyle("--max-line-length=79", "polyaxon_core/cli")
    assert checked.returncode == 1 and "E501" in checked.stdout
