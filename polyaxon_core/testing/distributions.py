"""Install a plugin distribution into a throw-away folder, to test its entry points."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def install_distribution(source: Path, work: Path) -> Path:
    """pip-install the distribution at ``source`` into ``work/site`` and return that folder.

    It is built from a copy (``work/source``), so the build leaves nothing in the source
    tree, and without its dependencies, which the running environment already has. Put
    the folder on ``sys.path`` (or ``PYTHONPATH`` for a subprocess) and the plugin
    manager finds the distribution's entry points like those of any installed one.
    """
    copy = work / "source"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
    target = work / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
         str(copy)],
        check=True,
    )
    return target
