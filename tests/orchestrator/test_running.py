"""Runs through the real CLI, the embedded orchestrator and the local scheduler."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from polyaxon_core.testing.scheduler import wait_until
from tests.orchestrator.conftest import FILES, Cli, run_state, wait_final, wait_for


def _submit(cli: Cli, *args: str) -> str:
    result = cli("run", *args, "-o", "json")
    return str(json.loads(result.stdout)["uuid"])


def test_run_returns_once_queued_and_the_orchestrator_starts_on_demand(cli: Cli, home: Path) -> None:
    uuid = _submit(cli, "-f", str(FILES / "task.yaml"), "-P", "x=2.5")
    assert run_state(uuid)["status"] in {"queued", "scheduled", "starting", "running", "succeeded"}
    state = wait_final(uuid)
    assert state["status"] == "succeeded"
    assert [c[0] for c in state["conditions"]][:3] == ["created", "compiled", "queued"]
    assert state["inputs"]["x"] == 2.5
    assert state["outputs"] == {"result": 7.5}
    assert state["metrics"] == {"score": 7.5, "loss": 1 / 3}
    assert (home / "orchestrator.lock").exists()


def test_watch_follows_a_job_to_its_end_and_prints_its_logs(cli: Cli) -> None:
    result = cli("run", "-f", str(FILES / "task.yaml"), "-P", "x=1.5", "--watch")
    assert "task " in result.stdout and "x=1.5" in result.stdout
    assert "succeeded" in result.stdout


def test_exit_code_becomes_failed_and_watch_exits_non_zero(cli: Cli) -> None:
    result = cli("run", "-f", str(FILES / "task.yaml"), "-P", "exit_code=3", "--watch", check=False)
    assert result.returncode == 1
    assert "failed" in result.stdout
    assert "exited with code 3" in result.stdout


def test_logs_statuses_and_metrics_commands(cli: Cli) -> None:
    uuid = _submit(cli, "-f", str(FILES / "task.yaml"), "-P", "x=3")
    wait_final(uuid)
    logs = cli("ops", "logs", uuid[:8]).stdout
    assert f"task {uuid} x=3.0" in logs
    statuses = json.loads(cli("ops", "statuses", uuid, "-o", "json").stdout)
    assert [c["status"] for c in statuses["status_conditions"]] == [
        "created", "compiled", "queued", "scheduled", "starting", "running", "succeeded"]
    metrics = json.loads(cli("ops", "metrics", uuid, "-o", "json").stdout)["metrics"]
    assert [p["value"] for p in metrics["score"]] == [3.0, 6.0, 9.0]
    assert [p["step"] for p in metrics["loss"]] == [0, 1, 2]


def test_metrics_are_visible_while_the_run_is_still_going(cli: Cli) -> None:
    uuid = _submit(cli, "-f", str(FILES / "task.yaml"), "-P", "sleep=60", "-P", "x=4")
    state = wait_for(uuid, lambda s: s["metrics"].get("score") == 12.0)
    assert state["status"] == "running"
    shown = json.loads(cli("ops", "get", uuid, "-o", "json").stdout)
    assert shown["metrics"]["score"] == 12.0 and shown["status"] == "running"
    cli("ops", "stop", uuid, "-y")
    assert wait_final(uuid)["status"] == "stopped"


def test_max_retries_retries_failed_attempts(cli: Cli) -> None:
    uuid = _submit(cli, "-f", str(FILES / "retries.yaml"), "-P", "fail_attempts=1")
    state = wait_final(uuid)
    assert state["status"] == "succeeded"
    assert state["retries"] == 1
    assert [c[0] for c in state["conditions"]].count("retrying") == 1


def test_retries_are_bounded_by_max_retries(cli: Cli) -> None:
    uuid = _submit(cli, "-f", str(FILES / "retries.yaml"), "-P", "fail_attempts=10")
    state = wait_final(uuid)
    assert state["status"] == "failed"
    assert state["retries"] == 2
    assert [c[0] for c in state["conditions"]].count("retrying") == 2


def test_timeout_stops_the_run_and_fails_it(cli: Cli) -> None:
    uuid = _submit(cli, "-f", str(FILES / "timeout.yaml"))
    state = wait_final(uuid)
    assert state["status"] == "failed"
    assert state["conditions"][-1][1] == "timeout"
    assert state["duration"] < 60


def test_stop_terminates_the_process_group(cli: Cli, tmp_path: Path) -> None:
    record = tmp_path / "record"
    uuid = _submit(cli, "-f", str(FILES / "task.yaml"), "-P", "sleep=120",
                   "-P", f"record_dir={record}")
    wait_for(uuid, lambda s: s["status"] == "running" and s["metrics"].get("score") is not None)
    result = cli("ops", "stop", uuid, "-y")
    assert "stopping" in result.stdout
    state = wait_final(uuid)
    assert state["status"] == "stopped"
    assert not list(record.glob(f"{uuid}.*.json"))  # it never reached its end


def test_restart_and_resume(cli: Cli) -> None:
    uuid = _submit(cli, "-f", str(FILES / "task.yaml"), "-P", "x=2")
    wait_final(uuid)
    copy = json.loads(cli("ops", "restart", uuid, "-o", "json").stdout)
    restarted = wait_final(copy["uuid"])
    assert restarted["original"]["uuid"] == uuid and restarted["cloning_kind"] == "restart"
    assert restarted["inputs"]["x"] == 2 and restarted["status"] == "succeeded"
    cli("ops", "resume", uuid)
    resumed = wait_for(uuid, lambda s: "resuming" in [c[0] for c in s["conditions"]]
                       and s["status"] == "succeeded")
    assert [c[0] for c in resumed["conditions"]].count("running") == 2


def test_a_resumed_run_keeps_each_attempts_metrics_apart(cli: Cli) -> None:
    uuid = _submit(cli, "-f", str(FILES / "task.yaml"), "-P", "x=2")
    wait_final(uuid)
    cli("ops", "resume", uuid)
    resumed = wait_for(uuid, lambda s: [c[0] for c in s["conditions"]].count("succeeded") == 2)
    assert resumed["metrics"] == {"score": 6.0, "loss": 1 / 3}

    def points(*options: str) -> list[tuple[int, int]]:
        answer = json.loads(cli("ops", "metrics", uuid, "-n", "score", *options, "-o", "json").stdout)
        return [(point["attempt"], point["step"]) for point in answer["metrics"]["score"]]

    assert points() == [(2, 0), (2, 1), (2, 2)]
    assert points("--attempt", "1") == [(1, 0), (1, 1), (1, 2)]
    assert points("--attempt", "all", "--tail", "4") == [(1, 2), (2, 0), (2, 1), (2, 2)]
    table = cli("ops", "metrics", uuid, "--limit", "2").stdout
    assert "attempt 2 (attempts with metrics: 1, 2" in table
    assert [line.split() for line in table.splitlines()[3:]] == [
        ["0", "1", "2"], ["1", "0.5", "4"]]


def test_restart_with_copy_starts_from_the_originals_artifacts(cli: Cli, home: Path) -> None:
    uuid = _submit(cli, "-f", str(FILES / "task.yaml"))
    wait_final(uuid)
    copy = json.loads(cli("ops", "restart", uuid, "--copy", "-o", "json").stdout)
    copied = wait_final(copy["uuid"])
    assert copied["cloning_kind"] == "copy" and copied["status"] == "succeeded"
    # the task counts its attempts in its outputs: the copy found the original's count
    outputs = home / "artifacts" / copy["uuid"] / "outputs"
    assert (outputs / "attempts").read_text() == "2"
    assert (home / "artifacts" / uuid / "outputs" / "attempts").read_text() == "1"


def test_delete_refuses_an_active_run_and_removes_a_finished_one(cli: Cli, home: Path) -> None:
    uuid = _submit(cli, "-f", str(FILES / "task.yaml"), "-P", "sleep=120")
    wait_for(uuid, lambda s: s["status"] == "running")
    refused = cli("ops", "delete", uuid, "-y", check=False)
    assert refused.returncode == 1 and "stop it first" in refused.stderr
    cli("ops", "stop", uuid, "-y")
    wait_final(uuid)
    cli("ops", "delete", uuid, "-y")
    missing = cli("ops", "get", uuid, check=False)
    assert missing.returncode == 1 and "no run" in missing.stderr
    assert not (home / "runs" / uuid).exists()


def test_queue_priority_decides_who_starts_first(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYAXON_ORCHESTRATOR", "external")  # nothing starts until we say so
    monkeypatch.setenv("POLYAXON_MAX_CONCURRENCY", "1")
    cli("queues", "set", "low", "--priority", "0")
    cli("queues", "set", "high", "--priority", "10")
    first_low = _submit(cli, "-f", str(FILES / "task.yaml"), "--queue", "low")
    second_low = _submit(cli, "-f", str(FILES / "task.yaml"), "--queue", "low")
    high = _submit(cli, "-f", str(FILES / "task.yaml"), "--queue", "high")
    assert {run_state(u)["status"] for u in (first_low, second_low, high)} == {"queued"}
    monkeypatch.setenv("POLYAXON_ORCHESTRATOR", "auto")
    from polyaxon_core.config import load_settings
    from polyaxon_core.orchestrator import ensure_orchestrator

    ensure_orchestrator(load_settings())
    started = {u: wait_final(u)["started_at"] for u in (first_low, second_low, high)}
    assert started[high] < started[first_low] < started[second_low]


def test_bad_polyaxonfile_is_a_clear_error_and_creates_nothing(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1.1\nkind: component\nrun:\n  kind: job\n  container: {image: x}\n"
                   "  unknownField: 1\n")
    result = cli("run", "-f", str(bad), check=False)
    assert result.returncode == 1
    assert "unknownField" in result.stderr and "Traceback" not in result.stderr
    listed = json.loads(cli("ops", "ls", "-o", "json").stdout)
    assert listed["count"] == 0


def test_killing_the_orchestrator_mid_sweep_loses_and_repeats_nothing(
    cli: Cli, home: Path, tmp_path: Path
) -> None:
    record = tmp_path / "record"
    uuid = _submit(cli, "-f", str(FILES / "random.yaml"), "-P", "sleep=1",
                   "-P", f"record_dir={record}")
    wait_for(uuid, lambda s: sum(c["status"] == "succeeded" for c in s["children"]) >= 2
             and any(c["status"] == "running" for c in s["children"]))
    from polyaxon_core.config import load_settings
    from polyaxon_core.orchestrator import OrchestratorLock, ensure_orchestrator

    lock = OrchestratorLock(load_settings())
    pid = lock.holder_pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    # the kernel releases the lock once the process is gone; then a new one can take over
    wait_until(lambda: not lock.is_held())
    assert ensure_orchestrator(load_settings()) is not None
    state = wait_final(uuid, timeout=240)
    assert state["status"] == "succeeded"
    indexes = sorted(c["matrix_index"] for c in state["children"])
    assert indexes == list(range(8))
    assert all(c["status"] == "succeeded" for c in state["children"])
    for child in state["children"]:
        starts = (record / f"{child['uuid']}.starts").read_text().splitlines()
        assert len(starts) == 1, f"trial {child['matrix_index']} started {len(starts)} times"


def test_sweep_respects_matrix_concurrency(cli: Cli, tmp_path: Path) -> None:
    record = tmp_path / "record"
    uuid = _submit(cli, "-f", str(FILES / "grid.yaml"), "-P", "sleep=0.5",
                   "-P", f"record_dir={record}")
    state = wait_final(uuid, timeout=240)
    assert state["status"] == "succeeded"
    assert sorted(c["inputs"]["x"] for c in state["children"]) == [1, 2, 3, 4, 5, 6]
    intervals = [json.loads(p.read_text()) for p in record.glob("*.json")]
    assert len(intervals) == 6
    events = sorted([(i["start"], 1) for i in intervals] + [(i["end"], -1) for i in intervals])
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert peak == 2
