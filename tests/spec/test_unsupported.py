"""Sections that do not act here yet: valid for `polyaxon check` (with a warning, so its
verdicts keep agreeing with the official client's), refused when submitted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from polyaxon_core.spec import read_polyaxonfile, unsupported_features

from .helpers import CORPUS, VALID_FILES

POLYAXON = str(Path(sys.executable).parent / "polyaxon")
VALID = CORPUS / "valid"

EXPECTED = {
    "operation-events.yaml": ["`events` do not act yet"],
    "component-job-full.yaml": ["`cache` does not act yet"],
    "operation-run-patch.yaml": ["`isApproved: false` does not act yet"],
}


def polyaxon(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([POLYAXON, *args], capture_output=True, text=True, env=dict(os.environ),
                          timeout=120)


@pytest.mark.parametrize("path", VALID_FILES, ids=lambda path: path.name)
def test_each_valid_corpus_file_names_exactly_what_does_not_act(path: Path) -> None:
    features = unsupported_features(read_polyaxonfile(path))

    expected = EXPECTED.get(path.name, [])
    assert [feature.split(":")[0] for feature in features] == [
        prefix.split(":")[0] for prefix in expected
    ]
    assert all(feature.startswith(prefix) for feature, prefix in zip(features, expected, strict=True))


def test_check_keeps_a_file_with_a_build_valid_and_warns_only_of_its_hub_hook(polyaxon_home: Path) -> None:
    path = VALID / "operation-hooks-build-plugins.yaml"

    text = polyaxon("check", "-f", str(path))
    report = json.loads(polyaxon("check", "-f", str(path), "-o", "json").stdout)

    assert text.returncode == 0
    assert f"{path} is valid." in text.stdout
    assert text.stderr.splitlines() == [
        f"Warning: {path} cannot be run here yet: built-run: hooks[1].hubRef `notifier` names no "
        "installed notifier (installed: email, slack, webhook); hooks run notifiers only: a "
        "hook running a hub component does not act yet",
    ]
    assert report["valid"] is True
    assert [warning.split(":")[0] for warning in report["warnings"]] == ["built-run"]


def test_check_of_a_plain_job_has_no_warning(polyaxon_home: Path) -> None:
    result = polyaxon("check", "-f", str(VALID / "component-job-minimal.yaml"), "-o", "json")

    assert result.returncode == 0
    assert (json.loads(result.stdout)["warnings"], result.stderr) == ([], "")


@pytest.mark.parametrize("name", ["operation-run-patch.yaml", "operation-events.yaml"])
def test_polyaxon_run_refuses_what_would_not_act_and_creates_no_run(
    polyaxon_home: Path, name: str
) -> None:
    assert polyaxon("project", "create", "demo").returncode == 0

    result = polyaxon("run", "-f", str(VALID / name), "-p", "demo")

    assert result.returncode == 1
    assert "refused rather than silently ignored: " in result.stderr
    assert EXPECTED[name][0] in result.stderr
    assert "Traceback" not in result.stderr
    listed = polyaxon("ops", "ls", "-p", "demo", "-o", "json")
    assert json.loads(listed.stdout)["count"] == 0
