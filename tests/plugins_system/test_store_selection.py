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
