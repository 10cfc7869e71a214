"""Resource monitoring: the CPU, memory and GPU use of a tracked run, sampled in the
background and stored as metrics named ``system/...``.

A :class:`ResourceMonitor` thread samples every ``POLYAXON_RESOURCES_INTERVAL`` seconds
(10 by default; ``0`` turns it off) with psutil: the CPU use of the run's process and its
children (100 per busy core), their resident memory in MiB and as a share of the
machine's. Where NVML (the ``nvidia-ml-py`` package) or ``nvidia-smi`` is found, each GPU's
utilization and memory in use are sampled too. Samples go through the run's backend like
any metric, step by step (the n-th sample is step n), but they are kept out of the run's
last values and of the metric hooks: a sweep or a leaderboard never sees them.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from polyaxon_core.entities import SYSTEM_PREFIX
from polyaxon_core.tracking.backends import MetricPoint

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL = 10.0
INTERVAL_VARIABLE = "POLYAXON_RESOURCES_INTERVAL"
_MIB = 1024 * 1024


def interval_from_environment() -> float | None:
    """Seconds between samples as ``POLYAXON_RESOURCES_INTERVAL`` says (None: off)."""
    from polyaxon_core.tracking.run import TrackingError

    text = os.environ.get(INTERVAL_VARIABLE, "").strip()
    if not text:
        return DEFAULT_INTERVAL
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise TrackingError(f"{INTERVAL_VARIABLE}={text!r} is not a number of seconds: give the "
                            f"seconds between resource samples (e.g. 10), or 0 to turn them off")
    return seconds or None


GpuSample = tuple[int, float, float]  # index, utilization (%), memory in use (MiB)


def nvml_reader() -> Callable[[], list[GpuSample]] | None:
    """GPU samples through NVML, when the ``pynvml`` module and a driver are there."""
    try:
        import pynvml  # type: ignore[import-not-found]

        pynvml.nvmlInit()
        count = pynvml.nvmlDeviceGetCount()
    except Exception:  # noqa: BLE001 - no module, no driver, no GPU: no GPU samples
        return None

    def read() -> list[GpuSample]:
        samples = []
        for index in range(count):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            utilization = pynvml.nvmlDeviceGetUtilizationRates(handle).gpu
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle).used / _MIB
            samples.append((index, float(utilization), float(memory)))
        return samples

    return read


def parse_nvidia_smi(output: str) -> list[GpuSample]:
    """``nvidia-smi --query-gpu=index,utilization.gpu,memory.used --format=csv,noheader,
    nounits`` lines (``0, 45, 1234``); a line that does not read so is left out."""
    samples = []
    for line in output.splitlines():
        parts = [part.strip() for part in line.split(",")]
        try:
            samples.append((int(parts[0]), float(parts[1]), float(parts[2])))
        except (ValueError, IndexError):
            continue
    return samples


def nvidia_smi_reader() -> Callable[[], list[GpuSample]] | None:
    """GPU samples from the ``nvidia-smi`` on the PATH, when there is one."""
    executable = shutil.which("nvidia-smi")
    if executable is None:
        return None

    def read() -> list[GpuSample]:
        answer = subprocess.run(
            [executable, "--query-gpu=index,utilization.gpu,memory.used",
             "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=10, check=False)
        return parse_nvidia_smi(answer.stdout) if answer.returncode == 0 else []

    return read


class ResourceMonitor:
    """Samples the current process and its children every ``interval`` seconds and hands
    the points to ``log`` (the run's backend), from a daemon thread."""

    def __init__(self, log: Callable[[Sequence[MetricPoint]], None], interval: float,
                 gpus: Callable[[], list[GpuSample]] | None = None) -> None:
        import psutil

        self._psutil = psutil
        self._log = log
        self.interval = interval
        self._gpus = gpus
        self._root = psutil.Process()
        self._processes: dict[int, Any] = {}
        self._total_memory = psutil.virtual_memory().total
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="polyaxon-resources", daemon=True)
        self.samples = 0
        self._measure_cpu()  # the first reading of a process's CPU only starts its clock

    def start(self) -> ResourceMonitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sampling (the sample under way, if any, is still stored)."""
        self._stopping.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.interval + 10)

    def _alive(self) -> list[Any]:
        found = [self._root, *self._root.children(recursive=True)]
        processes = {process.pid: self._processes.get(process.pid, process) for process in found}
        self._processes = processes
        return list(processes.values())

    def _measure_cpu(self) -> float:
        busy = 0.0
        for process in self._alive():
            try:
                busy += process.cpu_percent(None)
            except self._psutil.Error:  # it ended since it was listed
                continue
        return busy

    def sample(self) -> list[MetricPoint]:
        """One sample of every resource, as metric points of the next step."""
        cpu = self._measure_cpu()
        resident = 0
        for process in self._processes.values():
            try:
                resident += process.memory_info().rss
            except self._psutil.Error:
                continue
        values = {"cpu_percent": cpu, "memory_mb": resident / _MIB,
                  "memory_percent": 100.0 * resident / self._total_memory}
        for index, utilization, memory in self._gpus() if self._gpus else ():
            values[f"gpu{index}_utilization_percent"] = utilization
            values[f"gpu{index}_memory_mb"] = memory
        now = time.time()
        points = [MetricPoint(SYSTEM_PREFIX + name, round(value, 3), self.samples, now)
                  for name, value in values.items()]
        self.samples += 1
        return points

    def _loop(self) -> None:
        failures = 0
        while not self._stopping.wait(self.interval):
            try:
                self._log(self.sample())
            except Exception as exc:  # noqa: BLE001 - a monitor never ends the run it watches
                failures += 1
                if failures == 1:
                    logger.warning("resource samples could not be stored (%s); the run goes "
                                   "on and sampling keeps trying", exc)
