"""DAGs through the `polyaxon` executable, with real processes: trigger policies,
conditions and skips, values flowing between operations, nested DAGs, a sweep as an
operation, concurrency, stop, restart from the failures, and an orchestrator killed in
the middle."""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import FILES, Cli, run_state, wait_final, wait_for

DAGS = FILES / "dag"


def submit(cli: Cli, *args: str) -> str:
    return str(json.loads(cli("run", *args, "-o", "json").stdout)["uuid"])


def operations(cli: Cli, uuid: str) -> dict[str, dict[str, Any]]:
    data = json.loads(cli("ops", "get", uuid, "-o", "json").stdout)
    return {operation["name"]: operation for operation in data["operations"]}


def operation_run(cli: Cli, uuid: str, name: str) -> dict[str, Any]:
    return run_state(operations(cli, uuid)[name]["uuid"])


# -- trigger policies, conditions, skips ------------------------------------------------

@pytest.fixture(scope="module")
def triggers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], dict[str, str]]]:
    """The triggers DAG, run once: the DAG's final state and each operation's status."""
    from .conftest import POLYAXON

    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"POLYAXON_HOME": str(home), "POLYAXON_POLL_INTERVAL": "0.1",
                            "POLYAXON_IDLE_EXIT": "10", "POLYAXON_PROJECT": "tests"}.items():
            patch.setenv(name, value)
        patch.delenv("POLYAXON_DB_URL", raising=False)
        import subprocess

        def cli(*args: str) -> str:
            return subprocess.run([POLYAXON, *args], capture_output=True, text=True, check=True,
                                  env=os.environ.copy(), timeout=300).stdout

        cli("project", "create", "tests")
        uuid = json.loads(cli("run", "-f", str(DAGS / "triggers.yaml"), "-o", "json"))["uuid"]
        final = wait_final(uuid, timeout=240)
        data = json.loads(cli("ops", "get", uuid, "-o", "json"))
        yield final, {operation["name"]: operation["status"] for operation in data["operations"]}
        _stop_orchestrator()


def _stop_orchestrator() -> None:
    from polyaxon_core.config import load_settings
    from polyaxon_core.orchestrator import OrchestratorLock

    lock = OrchestratorLock(load_settings())
    pid = lock.holder_pid()
    if pid and lock.is_held():
        os.kill(pid, signal.SIGTERM)


@pytest.mark.parametrize(("operation", "status"), [
    ("ok", "succeeded"),
    ("bad", "failed"),
    ("quiet", "skipped"),
    ("loud", "succeeded"),
    ("all-succeeded-runs", "succeeded"),
    ("all-succeeded-upstream-failed", "upstream_failed"),
    ("all-succeeded-skipped", "skipped"),
    ("all-failed-runs", "succeeded"),
    ("all-failed-skipped", "skipped"),
    ("all-done-runs", "succeeded"),
    ("one-succeeded-runs", "succeeded"),
    ("one-succeeded-upstream-failed", "upstream_failed"),
    ("one-failed-runs", "succeeded"),
    ("one-failed-skipped", "skipped"),
    ("one-done-runs", "succeeded"),
    ("one-done-skipped", "skipped"),
    ("skip-on-upstream-skip", "skipped"),
    ("upstream-failed-propagates", "upstream_failed"),
    ("after-a-skip-all-done-runs", "succeeded"),
])
def test_each_operation_of_a_dag_ends_as_its_trigger_and_conditions_say(
    triggers: tuple[dict[str, Any], dict[str, str]], operation: str, status: str
) -> None:
    assert triggers[1][operation] == status


def test_a_dag_fails_when_one_of_its_last_operations_did_not_succeed(
    triggers: tuple[dict[str, Any], dict[str, str]]
) -> None:
    final, _ = triggers
    assert final["status"] == "failed"
    assert final["conditions"][-1][2].startswith(
        "one-succeeded-upstream-failed upstream_failed; upstream-failed-propagates upstream_failed (")


# -- values -------------------------------------------------------------------------------

def test_values_flow_from_the_dag_and_upstream_outputs_into_the_next_inputs(cli: Cli) -> None:
    uuid = submit(cli, "-f", str(DAGS / "flow.yaml"), "-P", "start=10")
    wait_final(uuid)

    assert operation_run(cli, uuid, "first")["inputs"]["v"] == 10
    assert operation_run(cli, uuid, "second")["inputs"]["v"] == 11
    third = operation_run(cli, uuid, "third")
    assert (third["status"], third["inputs"]["v"], third["outputs"]["out"]) == ("succeeded", 12, 13)


def test_an_output_that_was_never_logged_fails_the_operation_that_reads_it(cli: Cli) -> None:
    uuid = submit(cli, "-f", str(DAGS / "flow.yaml"), "-P", "start=1")
    wait_final(uuid)

    reads = operation_run(cli, uuid, "reads-nothing")
    assert reads["status"] == "failed"
    assert reads["conditions"][-1][1:] == (
        "params", "param `v`: operation `silent` (succeeded) has no output `out`; log it with "
                  "tracking.log_outputs")


def test_a_param_can_read_a_run_outside_the_dag(cli: Cli, tmp_path: Path) -> None:
    job = submit(cli, "-f", str(DAGS / "step.yaml"), "-P", "v=41")
    wait_final(job)
    for name in ("step.py", "step.yaml"):
        shutil.copy(DAGS / name, tmp_path / name)
    (tmp_path / "dag.yaml").write_text(f"""
version: 1.1
kind: component
run:
  kind: dag
  operations:
  - name: reader
    pathRef: ./step.yaml
    params: {{v: {{ref: runs.{job}, value: outputs.out}}}}
""")
    uuid = submit(cli, "-f", str(tmp_path / "dag.yaml"))
    wait_final(uuid)

    assert operation_run(cli, uuid, "reader")["outputs"]["out"] == 43


def test_a_nested_dag_runs_inside_its_operation_and_shows_as_a_subtree(cli: Cli) -> None:
    uuid = submit(cli, "-f", str(DAGS / "nested.yaml"))
    assert wait_final(uuid)["status"] == "succeeded"

    inner = operations(cli, uuid)["inner"]
    assert inner["kind"] == "dag"
    assert [(op["name"], op["status"]) for op in inner["operations"]] == [
        ("one", "succeeded"), ("two", "succeeded")]
    assert run_state(inner["operations"][1]["uuid"])["outputs"]["out"] == 4
    shown = cli("ops", "get", uuid).stdout
    assert "└── inner" in shown or "├── inner" in shown
    assert "│   ├── one" in shown


def test_a_sweep_is_one_operation_and_its_best_trial_feeds_the_next(cli: Cli) -> None:
    uuid = submit(cli, "-f", str(DAGS / "sweep.yaml"))
    assert wait_final(uuid, timeout=180)["status"] == "succeeded"

    shown = operations(cli, uuid)
    assert shown["search"]["trials"] == {"succeeded": 3}
    final = run_state(shown["final"]["uuid"])
    assert (final["status"], final["inputs"]["v"]) == ("succeeded", 4)


# -- concurrency, stop, restart ---------------------------------------------------------

def _intervals(record: Path) -> list[tuple[float, float]]:
    return sorted(
        (float(starts.read_text().split()[0]), float(starts.with_suffix(".ends").read_text().split()[0]))
        for starts in record.glob("*.starts") if starts.with_suffix(".ends").exists())


def test_a_dag_runs_no_more_operations_at_once_than_its_concurrency(cli: Cli, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    gate.touch()
    (tmp_path / "fix").touch()
    uuid = submit(cli, "-f", str(DAGS / "control.yaml"), "-P", f"record={tmp_path / 'record'}",
                  "-P", f"gate={gate}", "-P", f"fix={tmp_path / 'fix'}")
    assert wait_final(uuid)["status"] == "succeeded"

    intervals = _intervals(tmp_path / "record")
    assert len(intervals) == 6
    assert all(end <= next_start for (_, end), (next_start, _) in zip(intervals, intervals[1:], strict=False))


def test_stopping_a_dag_stops_what_runs_and_skips_what_did_not_start(cli: Cli, tmp_path: Path) -> None:
    uuid = submit(cli, "-f", str(DAGS / "control.yaml"), "-P", f"record={tmp_path / 'record'}",
                  "-P", f"gate={tmp_path / 'never'}")
    wait_for(uuid, lambda state: any(child["status"] == "running" for child in state["children"]))

    cli("ops", "stop", uuid, "--yes")
    final = wait_final(uuid)

    assert final["status"] == "stopped"
    statuses = {name: operation["status"] for name, operation in operations(cli, uuid).items()}
    assert statuses == {"hold": "stopped", "a": "skipped", "b": "skipped", "c": "skipped",
                        "d": "skipped", "e": "skipped"}


def test_restarting_from_failed_runs_only_what_did_not_succeed(cli: Cli, tmp_path: Path) -> None:
    gate, record = tmp_path / "gate", tmp_path / "record"
    gate.touch()
    uuid = submit(cli, "-f", str(DAGS / "control.yaml"), "-P", f"record={record}",
                  "-P", f"gate={gate}", "-P", f"fix={tmp_path / 'fix'}")
    assert wait_final(uuid)["status"] == "failed"
    first = {name: op["status"] for name, op in operations(cli, uuid).items()}
    assert first == {"hold": "succeeded", "a": "succeeded", "b": "succeeded", "c": "succeeded",
                     "d": "failed", "e": "upstream_failed"}

    (tmp_path / "fix").touch()
    restarted = json.loads(cli("ops", "restart", uuid, "--from-failed", "-o", "json").stdout)["uuid"]
    assert wait_final(restarted)["status"] == "succeeded"

    again = operations(cli, restarted)
    assert {name: (op["status"], op["reused"]) for name, op in again.items()} == {
        "hold": ("succeeded", True), "a": ("succeeded", True), "b": ("succeeded", True),
        "c": ("succeeded", True), "d": ("succeeded", False), "e": ("succeeded", False)}
    assert run_state(again["e"]["uuid"])["inputs"]["v"] == 41
    # hold, a, b, c once; d twice (failed, then fixed); e once
    assert len(list(record.glob("*.starts"))) == 7


def test_restarting_from_failed_is_refused_for_a_run_that_is_not_a_dag(cli: Cli) -> None:
    job = submit(cli, "-f", str(DAGS / "step.yaml"))
    wait_final(job)

    result = cli("ops", "restart", job, "--from-failed", check=False)

    assert result.returncode == 1
    assert f"run {job[:12]} is a job; only a DAG restarts from its failed operations" in result.stderr


# -- crashes ------------------------------------------------------------------------------

@pytest.mark.slow
def test_killing_the_orchestrator_anywhere_in_a_dag_neither_repeats_nor_loses_an_operation(
    cli: Cli, tmp_path: Path
) -> None:
    from polyaxon_core.config import load_settings
    from polyaxon_core.lifecycle import is_final
    from polyaxon_core.orchestrator import OrchestratorLock, ensure_orchestrator

    record = tmp_path / "record"
    uuid = submit(cli, "-f", str(DAGS / "chain.yaml"), "-P", f"record={record}")
    lock = OrchestratorLock(load_settings())

    kills, seen = 0, progress(run_state(uuid))
    while True:
        # each time the DAG moved, kill the orchestrator at once: mid-pass, mid-launch
        state = wait_for(uuid, lambda current, before=seen: progress(current) != before, timeout=120)
        seen = progress(state)
        if is_final(state["status"]):
            break
        pid = lock.holder_pid()
        if pid is not None and lock.is_held():
            os.kill(pid, signal.SIGKILL)
            wait_for(uuid, lambda _: not lock.is_held())
            kills += 1
        assert ensure_orchestrator(load_settings()) is not None

    assert kills >= 10
    assert_the_chain_ran_once(cli, uuid, state, record)


def progress(state: dict[str, Any]) -> tuple[Any, ...]:
    """What changes when a DAG moves: its status and its operations' statuses."""
    return (state["status"], *sorted((c["uuid"], c["status"]) for c in state["children"]))


def assert_the_chain_ran_once(cli: Cli, uuid: str, state: dict[str, Any], record: Path) -> None:
    """``chain.yaml`` succeeded, each of its 12 operations started once, values flowed."""
    assert state["status"] == "succeeded"
    assert len(state["children"]) == 12
    starts = {path.stem: len(path.read_text().splitlines()) for path in record.glob("*.starts")}
    assert sorted(starts.values()) == [1] * 12, starts
    assert operation_run(cli, uuid, "link-6")["outputs"]["out"] == 7


# -- joins --------------------------------------------------------------------------------

def test_a_join_collects_the_values_of_the_runs_its_query_matches(cli: Cli) -> None:
    jobs = {v: submit(cli, "-f", str(DAGS / "step.yaml"), "-P", f"v={v}") for v in (1, 2, 3)}
    for uuid in jobs.values():
        wait_final(uuid)

    collect = submit(cli, "-f", str(DAGS / "collect.yaml"))
    final = wait_final(collect)

    assert final["inputs"] == {"outs": [4, 3], "sources": [jobs[3], jobs[2]]}
    assert (final["status"], final["outputs"]) == ("succeeded", {"total": 7})


def test_a_join_with_a_query_that_cannot_be_read_is_refused_and_creates_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    broken = tmp_path / "collect.yaml"
    broken.write_text((DAGS / "collect.yaml").read_text().replace("outputs.out:>2", "outputs.out:>>2"))

    result = cli("run", "-f", str(broken), check=False)

    assert result.returncode == 1
    assert result.stderr.startswith("Error: joins[0]: ")
    assert ">>2" in result.stderr
    assert json.loads(cli("ops", "ls", "-o", "json").stdout)["count"] == 0


def test_a_join_in_a_dag_sees_the_runs_of_the_operations_before_it(cli: Cli) -> None:
    uuid = submit(cli, "-f", str(DAGS / "joined-dag.yaml"))
    assert wait_final(uuid)["status"] == "succeeded"

    total = operation_run(cli, uuid, "sum")
    assert sorted(total["inputs"]["outs"]) == [11, 21]
    assert total["outputs"] == {"total": 32}
