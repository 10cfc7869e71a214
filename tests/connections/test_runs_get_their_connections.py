"""A run gets the connections it names, and only those: their schemas, their secrets'
listed keys (as variables, or as private files where the secret has a mountPath), never
another connection's secret and never the variables the orchestrator read them from."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.connections.conftest import Cli, WriteCatalog

CATALOG = """
connections:
  - name: datasets
    kind: s3
    schema: {bucket: "s3://datasets/images"}
    secret: {name: aws, items: [AWS_ACCESS_KEY_ID]}
  - name: scratch
    kind: host_path
    schema: {hostPath: HOST, mountPath: /scratch}
  - name: warehouse
    kind: postgres
    schema: {host: db.example.org}
    secret: {name: warehouse-login, mountPath: /etc/warehouse}
  - name: other
    kind: s3
    schema: {bucket: "s3://other"}
    secret: {name: other-aws}
"""

SCRIPT = """
import json, os
from pathlib import Path
from polyaxon_core.connections import get_connection

seen = {name: value for name, value in os.environ.items()
        if name.startswith(("AWS_ACCESS", "AWS_SECRET", "POLYAXON_CONNECTION", "POLYAXON_SECRET",
                            "OTHER"))}
secret_path = Path(os.environ["POLYAXON_CONNECTION_WAREHOUSE_SECRET_PATH"])
files = {p.name: [p.read_text(), oct(p.stat().st_mode & 0o777)] for p in secret_path.iterdir()}
catalog = [entry["name"] for entry in json.loads(os.environ["POLYAXON_CONNECTIONS"])]
bucket = get_connection("datasets").schema["bucket"]
out = Path(os.environ["POLYAXON_RUN_OUTPUTS_PATH"]) / "seen.json"
out.write_text(json.dumps({"env": seen, "files": files, "catalog": catalog, "bucket": bucket}))
"""

POLYAXONFILE = """
version: 1.1
kind: component
name: connected
run:
  kind: job
  connections: [datasets, scratch, warehouse]
  container:
    image: python:3.11-slim
    command: [python, "{{ globals.context_path }}/connected.py"]
"""


def test_a_run_gets_what_its_connections_give_and_nothing_else(
    home: Path, write_catalog: WriteCatalog, cli: Cli, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_catalog(CATALOG.replace("HOST", str(tmp_path / "scratch")))
    monkeypatch.setenv("POLYAXON_IDLE_EXIT", "5")
    secrets = {"POLYAXON_SECRET_AWS__AWS_ACCESS_KEY_ID": "AKIA-RUN",
               "POLYAXON_SECRET_AWS__AWS_SECRET_ACCESS_KEY": "not-listed",
               "POLYAXON_SECRET_WAREHOUSE_LOGIN__password": "hunter2",
               "POLYAXON_SECRET_OTHER_AWS__OTHER_KEY": "not-named"}
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "connected.py").write_text(SCRIPT)
    (tmp_path / "connected.yaml").write_text(POLYAXONFILE)
    cli("project", "create", "p")
    ran = cli("run", "-f", str(tmp_path / "connected.yaml"), "-p", "p", "--watch")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    uuid = json.loads(cli("ops", "ls", "-p", "p", "-o", "json").stdout)["results"][0]["uuid"]
    seen_file = next((home / "artifacts").glob(f"{uuid}/outputs/seen.json"))
    seen = json.loads(seen_file.read_text())
    assert seen["env"] == {
        "AWS_ACCESS_KEY_ID": "AKIA-RUN",
        "POLYAXON_CONNECTIONS": seen["env"]["POLYAXON_CONNECTIONS"],
        "POLYAXON_CONNECTION_DATASETS_BUCKET": "s3://datasets/images",
        "POLYAXON_CONNECTION_SCRATCH_PATH": str(tmp_path / "scratch"),
        "POLYAXON_CONNECTION_WAREHOUSE_SECRET_PATH": seen["env"]["POLYAXON_CONNECTION_WAREHOUSE_SECRET_PATH"],
    }
    assert seen["files"] == {"password": ["hunter2", "0o600"]}
    assert seen["catalog"] == ["datasets", "scratch", "warehouse"]
    assert seen["bucket"] == "s3://datasets/images"
    assert "hunter2" not in seen["env"]["POLYAXON_CONNECTIONS"]
    folder = Path(seen["env"]["POLYAXON_CONNECTION_WAREHOUSE_SECRET_PATH"])
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    # the launch record names the variables, never a value
    record = json.loads(next((home / "runs" / uuid / ".polyaxon").glob("attempt-*/launch.json")).read_text())
    assert "AKIA-RUN" not in json.dumps(record) and "AWS_ACCESS_KEY_ID" in record["env_names"]
    assert os.environ["POLYAXON_SECRET_AWS__AWS_ACCESS_KEY_ID"] == "AKIA-RUN"


def test_a_secret_key_that_cannot_be_a_variable_fails_the_launch_with_the_fix(
    home: Path, write_catalog: WriteCatalog, cli: Cli, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_catalog("""
        connections:
          - {name: gcp, kind: gcs, schema: {bucket: "gs://b"}, secret: {name: gcp-key}}
    """)
    monkeypatch.setenv("POLYAXON_IDLE_EXIT", "5")
    monkeypatch.setenv("POLYAXON_SECRET_GCP_KEY__service_account.json", "{}")
    (tmp_path / "connected.py").write_text("print('never')\n")
    (tmp_path / "connected.yaml").write_text(POLYAXONFILE.replace("[datasets, scratch, warehouse]", "[gcp]"))
    cli("project", "create", "p")
    ran = cli("run", "-f", str(tmp_path / "connected.yaml"), "-p", "p", "--watch")
    assert ran.returncode == 1
    uuid = json.loads(cli("ops", "ls", "-p", "p", "-o", "json").stdout)["results"][0]["uuid"]
    detail = json.loads(cli("ops", "get", uuid, "-o", "json").stdout)
    assert detail["status"] == "failed"
    assert "service_account.json, which cannot be an environment variable's name" in detail["message"]
    assert "give the secret a mountPath" in detail["message"]
