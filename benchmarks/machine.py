"""What a benchmark's results say of where and when they were measured."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime


def described() -> list[str]:
    """The Python, the machine and its load at the end, and the date, as result lines."""
    return [
        f"- Python {platform.python_version()}; machine: {platform.machine()}, {os.cpu_count()} "
        f"logical CPUs, {platform.system()} {platform.release()}; 1-minute load average "
        f"{os.getloadavg()[0]:.2f} after",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
    ]
