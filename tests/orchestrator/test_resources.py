"""A run's resources, sampled by the tracking SDK inside a real run."""

from __future__ import annotations

import json

import pytest

from tests.orchestrator.conftest import FILES, Cli


def test_a_run_samples_its_cpu_and_memory_beside_its_metrics(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLYAXON_RESOURCES_INTERVAL", "0.2")
    result = cli("run", "-f", str(FILES / "busy.yaml"), "--watch")
    assert "succeeded" in result.stdout, result.stdout
    run = json.loads(cli("ops", "ls", "-o", "json").stdout)["results"][0]
    assert run["metrics"] == {"loss": 0.5}  # samples are no last values
    series = json.loads(cli("ops", "metrics", run["uuid"], "-o", "json").stdout)["metrics"]
    cpu = [point["value"] for point in series["system/cpu_percent"]]
    assert len(cpu) >= 3 and max(cpu) > 20  # the workload spins one core until sample 3
    assert min(point["value"] for point in series["system/memory_mb"]) > 5
    assert [point["step"] for point in series["system/memory_percent"]] == list(range(len(cpu)))
