"""Quotas on the embedded default: real runs held back by a project's caps, the reason in
their timeline, and started as soon as the quota allows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.orchestrator.conftest import FILES, Cli, run_state, wait_final, wait_for


def _submit(cli: Cli, *args: str) -> str:
    return str(json.loads(cli("run", *args, "-o", "json").stdout)["uuid"])


def _most_at_once(record: Path) -> int:
    """The most runs that were running at the same moment, from what they recorded."""
    spans = [json.loads(path.read_text()) for path in record.glob("*.1.json")]
    moments = sorted([(span["start"], 1) for span in spans] + [(span["end"], -1) for span in spans],
                     key=lambda moment: (moment[0], moment[1]))
    most = current = 0
    for _moment, change in moments:
        current += change
        most = max(most, current)
    return most


def _quota_notes(uuid: str) -> list[str]:
    return [message for status, reason, message in run_state(uuid)["conditions"]
            if status == "queued" and str(reason).startswith("quota:")]


def _quota(cli: Cli, name: str) -> dict[str, Any]:
    listed = json.loads(cli("quotas", "ls", "-o", "json").stdout)["results"]
    return next(quota for quota in listed if quota["name"] == name)


def test_a_project_quota_runs_its_runs_one_at_a_time_saying_why_the_others_wait(
        cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    created = cli("quotas", "create", "one-at-a-time", "--project", "tests", "--max-runs", "1")
    assert "Quota 'one-at-a-time' on project default/tests: at most 1 run(s) at once." in created.stdout
    record = tmp_path / "record"
    # all three queued before an orchestrator claims any: then it runs them to the end
    monkeypatch.setenv("POLYAXON_ORCHESTRATOR", "external")
    uuids = [_submit(cli, "-f", str(FILES / "task.yaml"), "-P", "sleep=0.5",
                     "-P", f"record_dir={record}") for _ in range(3)]
    cli("scheduler", "--exit-when-idle", "1")
    for uuid in uuids:
        assert wait_final(uuid)["status"] == "succeeded"
    assert _most_at_once(record) == 1
    held = [uuid for uuid in uuids if _quota_notes(uuid)]
    assert len(held) == 2  # the two behind the first one waited for it
    for uuid in held:  # said once, however many passes it waited
        assert _quota_notes(uuid) == [
            "quota 'one-at-a-time' allows 1 run(s) at once; it starts when one ends"]
    assert _quota(cli, "one-at-a-time")["used"]["runs"] == 0


def test_a_cpu_quota_caps_the_requests_running_at_once_and_holds_a_run_too_large(
        cli: Cli, tmp_path: Path) -> None:
    cli("quotas", "create", "cores", "--project", "tests", "--cpu", "1")
    record = tmp_path / "record"
    large = _submit(cli, "-f", str(FILES / "sized.yaml"), "-P", "cpu=2")
    small = [_submit(cli, "-f", str(FILES / "sized.yaml"), "-P", "cpu=500m", "-P", "sleep=0.5",
                     "-P", f"record_dir={record}") for _ in range(4)]
    for uuid in small:
        assert wait_final(uuid)["status"] == "succeeded"
    assert _most_at_once(record) <= 2  # 2 x 500m fill 1 CPU
    assert run_state(large)["status"] == "queued"
    assert _quota_notes(large) == [
        "it requests 2 cores of CPU, more than quota 'cores' allows at all (1 cores); lower its "
        "request or raise the quota"]
    quota = _quota(cli, "cores")
    assert (quota["cpu"], quota["waiting"], quota["used"]["runs"]) == (1.0, 1, 0)
    raised = cli("quotas", "update", "cores", "--cpu", "2000m", "--memory", "1Gi")
    assert "at most 2 CPU, 1073741824 bytes of memory at once" in raised.stdout
    assert wait_final(large)["status"] == "succeeded"


def test_deleting_a_quota_lets_the_runs_it_held_start(cli: Cli) -> None:
    cli("quotas", "create", "nothing-big", "--project", "tests", "--memory", "128Mi")
    held = _submit(cli, "-f", str(FILES / "sized.yaml"))  # requests 256Mi
    wait_for(held, lambda _state: bool(_quota_notes(held)))
    assert cli("quotas", "delete", "nothing-big").stdout.strip() == "Quota 'nothing-big' deleted."
    assert wait_final(held)["status"] == "succeeded"


def test_bad_quotas_are_refused_with_the_fix_and_nothing_is_created(cli: Cli) -> None:
    cli("quotas", "create", "taken", "--project", "tests", "--gpu", "1")
    for args, message in (
        (["bad", "--project", "tests", "--cpu", "lots"],
         "cpu must be a quantity such as 2, 500m or 4Gi, not 'lots'"),
        (["two", "--project", "tests", "--user", "someone", "--max-runs", "1"],
         "a quota is of exactly one project, team or user"),
        (["empty", "--project", "tests"], "a quota caps something: give max_runs, cpu, memory or gpu"),
        (["taken", "--project", "tests", "--max-runs", "2"], "quota 'taken' exists already"),
        (["ghost", "--project", "nowhere", "--max-runs", "1"], "project 'default/nowhere' does not exist"),
        (["Not_A_Name", "--project", "tests", "--max-runs", "1"], "quota name 'Not_A_Name' is not valid"),
    ):
        refused = cli("quotas", "create", *args, check=False)
        assert refused.returncode == 1, refused
        assert message in refused.stderr and "Traceback" not in refused.stderr
    stripped = cli("quotas", "update", "taken", "--remove", "gpu", check=False)
    assert stripped.returncode == 1 and "keep at least one of" in stripped.stderr
    missing = cli("quotas", "delete", "nope", check=False)
    assert missing.returncode == 1 and "no quota named 'nope'" in missing.stderr
    listed = json.loads(cli("quotas", "ls", "-o", "json").stdout)
    assert [(quota["name"], quota["gpu"]) for quota in listed["results"]] == [("taken", 1)]
