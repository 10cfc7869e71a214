"""``POLYAXON_ARTIFACTS_STORE`` picks the artifacts store by its URL's scheme."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from polyaxon_core.config import ConfigurationError, load_settings

POLYAXON = str(Path(sys.executable).parent / "polyaxon")


@pytest.mark.parametrize(("url", "store"), [
    ("s3://bucket/prefix", "s3"), ("S3://bucket", "s3"), ("gs://bucket/a/b", "gs"),
    ("az://container/prefix", "az"), ("", "local"),
])
def test_the_urls_scheme_names_the_store(url: str, store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POLYAXON_STORE", raising=False)
    monkeypatch.setenv("POLYAXON_ARTIFACTS_STORE", url)
    settings = load_settings()
    assert (settings.store, settings.artifacts_store) == (store, url)


def test_a_plain_path_is_the_local_stores_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POLYAXON_STORE", raising=False)
    monkeypatch.setenv("POLYAXON_ARTIFACTS_STORE", str(tmp_path / "shared"))
    settings = load_settings()
    assert settings.store == "local"
    assert settings.artifacts_path == tmp_path / "shared"


@pytest.mark.parametrize(("store", "url", "problem"), [
    ("", "file:///data", "give a local folder as a plain path, without file://"),
    ("local", "s3://bucket", "name different stores (local and s3); unset POLYAXON_STORE"),
])
def test_contradictions_are_refused_with_the_fix(
    store: str, url: str, problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLYAXON_STORE", store)
    monkeypatch.setenv("POLYAXON_ARTIFACTS_STORE", url)
    with pytest.raises(ConfigurationError, match=re.escape(problem)):
        load_settings()


def test_a_scheme_no_plugin_handles_is_named_before_anything_is_queued(polyaxon_home: Path) -> None:
    env = {**os.environ, "POLYAXON_ARTIFACTS_STORE": "ftp://files/runs"}
    env.pop("POLYAXON_STORE", None)
    subprocess.run([POLYAXON, "project", "create", "p"], env=env, check=True, capture_output=True)
    task = Path(__file__).parents[1] / "orchestrator" / "files" / "task.yaml"
    done = subprocess.run([POLYAXON, "run", "-f", str(task), "-p", "p"], env=env,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "POLYAXON_ARTIFACTS_STORE='ftp://files/runs': no installed store handles ftp://" in done.stderr
    assert "installed: az, gs, local, s3" in done.stderr
    assert "Traceback" not in done.stderr
    listed = subprocess.run([POLYAXON, "ops", "ls", "-p", "p", "-o", "json"], capture_output=True,
                            text=True, check=True, env={**env, "POLYAXON_ARTIFACTS_STORE": ""})
    assert json.loads(listed.stdout)["count"] == 0  # nothing was queued


CATALOG = """
connections:
  - {name: runs-bucket, kind: s3, schema: {bucket: "s3://team-bucket/experiments"},
     secret: {name: aws, items: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY]}}
  - {name: lake, kind: gcs, schema: {bucket: "gs://lake"}}
  - {name: blobs, kind: wasb, schema: {bucket: "wasbs://runs@account.blob.core.windows.net/team"}}
  - {name: scratch, kind: host_path, schema: {hostPath: HOST, mountPath: /scratch}}
  - {name: shared, kind: volume_claim, schema: {volumeClaim: pvc, mountPath: MOUNT}}
  - {name: code, kind: git, schema: {url: "https://git.example.org/team/model"}}
"""


@pytest.fixture
def catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("POLYAXON_STORE", raising=False)
    monkeypatch.delenv("POLYAXON_ARTIFACTS_STORE", raising=False)
    catalog = tmp_path / "connections.yaml"
    catalog.write_text(CATALOG.replace("HOST", str(tmp_path / "host"))
                       .replace("MOUNT", str(tmp_path / "mount")))
    monkeypatch.setenv("POLYAXON_CONNECTIONS", str(catalog))
    return tmp_path


@pytest.mark.parametrize(("connection", "store", "url"), [
    ("runs-bucket", "s3", "s3://team-bucket/experiments"), ("lake", "gs", "gs://lake"),
    ("blobs", "az", "az://runs/team"), ("scratch", "local", "{tmp}/host"),
    ("shared", "local", "{tmp}/mount"),
])
def test_an_artifacts_store_connection_of_the_catalog_names_the_store(
    catalog: Path, monkeypatch: pytest.MonkeyPatch, connection: str, store: str, url: str,
) -> None:
    monkeypatch.setenv("POLYAXON_ARTIFACTS_CONNECTION", connection)
    settings = load_settings()
    assert (settings.store, settings.artifacts_store, settings.artifacts_connection) == (
        store, url.format(tmp=catalog), connection)


@pytest.mark.parametrize(("variables", "problem"), [
    ({"POLYAXON_ARTIFACTS_CONNECTION": "code"},
     "is a `git` connection; an artifacts store is one of s3, gcs, wasb, host_path or volume_claim"),
    ({"POLYAXON_ARTIFACTS_CONNECTION": "bucket"}, "unknown connection `bucket`"),
    ({"POLYAXON_ARTIFACTS_CONNECTION": "lake", "POLYAXON_ARTIFACTS_STORE": "s3://other"},
     "both name the artifacts store; set one of them"),
])
def test_a_connection_that_is_no_store_is_refused_with_what_would_do(
    catalog: Path, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], problem: str,
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=re.escape(problem)):
        load_settings()
    answer = subprocess.run([POLYAXON, "ops", "ls"], capture_output=True, text=True,
                            env=os.environ.copy(), check=False)
    assert answer.returncode == 2 and problem in answer.stderr.replace("\n", " ")
    assert "Traceback" not in answer.stderr
