"""The files of a run's artifacts folder, as the runner and the outputs sidecar send them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path


def files_of(folder: Path) -> Iterator[Path]:
    """The files under ``folder``, sorted, without those a symbolic link leads out of it to."""
    root = folder.resolve()
    for top, _, names in sorted(os.walk(folder)):
        for name in sorted(names):
            file = Path(top) / name
            if file.is_file() and file.resolve().is_relative_to(root):
                yield file
