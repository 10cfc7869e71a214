"""Runs on the local scheduler with their artifacts and log in S3 (moto's server on
127.0.0.1): what a run writes reaches the bucket, and a store that cannot be reached
fails the run with the store's message while its files stay on disk."""

from __future__ import annotations

import json
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from plugins.stores.tests.conftest import Emulator, free_port, start_moto
from polyaxon_core.lifecycle import is_final
from tests.orchestrator.conftest import Cli, wait_for

JOB = textwrap.dedent("""
    version: 1.1
    kind: component
    name: writes
    run:
      kind: job
      container:
        image: python:3.11-slim
        command: [python, -c]
        args:
        - |
          import os, pathlib
          for epoch in range(3):
              print(f"epoch {epoch}", flush=True)
          out = pathlib.Path(os.environ["POLYAXON_RUN_OUTPUTS_PATH"])
          (out / "model").mkdir(parents=True, exist_ok=True)
          (out / "model" / "weights.bin").write_bytes(bytes(range(256)) * 4)
          os.symlink("/etc/hostname", out / "leak")
""")


@pytest.fixture(scope="module")
def moto() -> Iterator[Emulator]:
    with start_moto() as emulator:
        yield emulator


@pytest.fixture
def job(tmp_path: Path) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(JOB)
    return path


def submit(cli: Cli, job: Path) -> str:
    return str(json.loads(cli("run", "-f", str(job), "-o", "json").stdout)["uuid"])


def test_a_runs_log_and_artifacts_land_in_the_bucket(
    cli: Cli, job: Path, moto: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = f"runs-{uuid.uuid4().hex[:8]}"
    moto.create_bucket(bucket)
    for name, value in moto.environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("POLYAXON_ARTIFACTS_STORE", f"s3://{bucket}/platform")
    run = submit(cli, job)
    state = wait_for(run, lambda state: is_final(state["status"]))
    assert state["status"] == "succeeded", state["conditions"]
    keys = moto.keys(bucket)
    assert f"platform/{run}/outputs/model/weights.bin" in keys
    # a link out of the run's folder is not one of its artifacts
    assert not [key for key in keys if key.endswith("/leak")]
    assert any(key.startswith(f"platform/.logs/{run}/") for key in keys)
    logs = cli("ops", "logs", run).stdout
    assert [line for line in logs.splitlines() if line.startswith("epoch")] == \
        ["epoch 0", "epoch 1", "epoch 2"]


def test_a_store_that_cannot_be_reached_fails_the_run_and_keeps_its_files(
    cli: Cli, job: Path, home: Path, moto: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in moto.environment.items():
        monkeypatch.setenv(name, value)
    # nothing listens there: every request to the store is refused
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("POLYAXON_ARTIFACTS_STORE", "s3://nowhere/platform")
    run = submit(cli, job)
    state = wait_for(run, lambda state: is_final(state["status"]))
    assert state["status"] == "failed"
    status, reason, message = state["conditions"][-1]
    assert reason == "storage error"
    assert "Could not connect to the endpoint URL" in message, message
    folder = home / "runs" / run / "artifacts"
    assert message.endswith(f"its artifacts are kept in {folder.resolve()}")
    assert (folder / "outputs" / "model" / "weights.bin").read_bytes() == bytes(range(256)) * 4
