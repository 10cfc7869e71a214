"""A run as the tracking SDK inside it sees it: its resources sampled, its exception recorded."""

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


def test_an_uncaught_exception_is_the_failed_runs_message(cli: Cli) -> None:
    result = cli("run", "-f", str(FILES / "diverges.yaml"), "--watch", check=False)
    assert result.returncode == 1
    run = json.loads(cli("ops", "ls", "-o", "json").stdout)["results"][0]
    detail = json.loads(cli("ops", "get", run["uuid"], "-o", "json").stdout)
    assert detail["status"] == "failed"
    assert detail["message"] == ("FloatingPointError: the loss diverged at step 99 "
                                 "(the process exited with code 1)")
    assert detail["metrics"] == {"loss": 100.0}  # the buffered points were stored at exit
