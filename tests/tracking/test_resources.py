"""Resource samples: what the monitor measures, GPUs through nvidia-smi, and the
interval setting."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from polyaxon_core.tracking import TrackingError
from polyaxon_core.tracking.backends import MetricPoint
from polyaxon_core.tracking.resources import (
    ResourceMonitor,
    interval_from_environment,
    nvidia_smi_reader,
    parse_nvidia_smi,
)


def _values(points: Sequence[MetricPoint]) -> dict[str, float]:
    return {point.name: point.value for point in points}


def test_a_sample_counts_the_cpu_and_memory_of_the_process_and_its_children() -> None:
    monitor = ResourceMonitor(lambda points: None, interval=1.0)
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        deadline = time.monotonic() + 30
        samples = [monitor.sample()]
        while _values(samples[-1])["system/cpu_percent"] < 50:  # the child spins one core
            assert time.monotonic() < deadline, [_values(sample) for sample in samples]
            samples.append(monitor.sample())
    finally:
        busy.kill()
        busy.wait()
    last = _values(samples[-1])
    assert set(last) == {"system/cpu_percent", "system/memory_mb", "system/memory_percent"}
    assert last["system/memory_mb"] > 5  # two Python interpreters
    assert 0 < last["system/memory_percent"] < 100
    assert [sample[0].step for sample in samples] == list(range(len(samples)))


def test_gpus_are_sampled_through_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a stand-in for NVIDIA's nvidia-smi (no GPU here): it answers the query as the real
    # one does, one CSV line per GPU
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\ncase \"$*\" in\n"
                    "  *--query-gpu=index,utilization.gpu,memory.used*)\n"
                    "    printf '0, 45, 1234\\n1, 0, 3\\n' ;;\n"
                    "  *) exit 9 ;;\nesac\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    reader = nvidia_smi_reader()
    assert reader is not None
    values = _values(ResourceMonitor(lambda points: None, 1.0, reader).sample())
    assert {name: value for name, value in values.items() if "gpu" in name} == {
        "system/gpu0_utilization_percent": 45.0, "system/gpu0_memory_mb": 1234.0,
        "system/gpu1_utilization_percent": 0.0, "system/gpu1_memory_mb": 3.0}


def test_nvidia_smi_lines_that_do_not_read_as_numbers_are_left_out() -> None:
    assert parse_nvidia_smi("0, 45, 1234\n1, [N/A], 12\nNo devices were found\n") == [
        (0, 45.0, 1234.0)]


def test_no_nvidia_smi_means_no_gpu_samples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert nvidia_smi_reader() is None


@pytest.mark.parametrize(("value", "seconds"), [("", 10.0), ("0", None), ("0.5", 0.5)])
def test_the_interval_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, seconds: float | None
) -> None:
    monkeypatch.setenv("POLYAXON_RESOURCES_INTERVAL", value)
    assert interval_from_environment() == seconds


@pytest.mark.parametrize("value", ["often", "-1", "nan", "inf"])
def test_an_interval_that_is_not_seconds_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("POLYAXON_RESOURCES_INTERVAL", value)
    with pytest.raises(TrackingError, match="POLYAXON_RESOURCES_INTERVAL=.*0 to turn them off"):
        interval_from_environment()
