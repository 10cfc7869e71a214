"""Hyperband sweeps run for real: the CLI, the embedded orchestrator, local processes."""

from __future__ import annotations

import os
import signal
from collections import Counter
from pathlib import Path

import pytest

from polyaxon_core.testing.scheduler import wait_until
from tests.orchestrator.conftest import Cli
from tests.sweeps.helpers import FILES, shown, submit, trial_states, trials_of, wait_final

#: Table 1 of Li et al. (2018), R = 81 and eta = 3: (bracket, rung) -> (configurations, epochs).
TABLE_1 = {
    (0, 0): (81, 1), (0, 1): (27, 3), (0, 2): (9, 9), (0, 3): (3, 27), (0, 4): (1, 81),
    (1, 0): (34, 3), (1, 1): (11, 9), (1, 2): (3, 27), (1, 3): (1, 81),
    (2, 0): (15, 9), (2, 1): (5, 27), (2, 2): (1, 81),
    (3, 0): (8, 27), (3, 1): (2, 81),
    (4, 0): (5, 81),
}


@pytest.mark.slow
def test_a_hyperband_sweep_runs_table_1_and_promotes_the_best_of_each_rung(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the sweep's queue is created with this many slots; matrix.concurrency is 8 too
    monkeypatch.setenv("POLYAXON_CONCURRENCY", "8")
    monkeypatch.setenv("POLYAXON_MAX_CONCURRENCY", "8")
    uuid = submit(cli, "-f", str(FILES / "hyperband.yaml"))
    wait_final(uuid, timeout=900)

    sweep = shown(cli, uuid)
    assert sweep["status"] == "succeeded", sweep["message"]
    trials = trials_of(cli, uuid)
    assert len(trials) == len(sweep["trials"]) == 206
    assert {trial["status"] for trial in trials} == {"succeeded"}
    assert Counter(trial["inputs"]["epochs"] for trial in trials) == {1: 81, 3: 61, 9: 35, 27: 19, 81: 10}

    rungs: dict[tuple[int, int], list[dict]] = {}
    for trial in trials:
        matrix = trial["meta_info"]["matrix"]
        rungs.setdefault((matrix["bracket"], matrix["rung"]), []).append(trial)
    assert {key: (len(members), {t["inputs"]["epochs"] for t in members})
            for key, members in rungs.items()} == {
        key: (size, {epochs}) for key, (size, epochs) in TABLE_1.items()}

    for (bracket, rung), members in rungs.items():
        if rung == 0:
            assert len({t["inputs"]["x"] for t in members}) == len(members)
            assert all("resumed_epochs" not in t["metrics"] for t in members)
            continue
        below = rungs[bracket, rung - 1]
        best_below = sorted(below, key=lambda t: -t["metrics"]["score"])[: len(members)]
        assert sorted(t["inputs"]["x"] for t in members) == sorted(t["inputs"]["x"] for t in best_below)
        by_x = {t["inputs"]["x"]: t for t in below}
        for trial in members:
            continued = by_x[trial["inputs"]["x"]]
            assert trial["meta_info"]["matrix"]["resume_from"] == continued["uuid"]
            # the trial found the checkpoint the trial it continues wrote
            assert trial["metrics"]["resumed_epochs"] == continued["inputs"]["epochs"]

    optimizer = sweep["meta_info"]["optimizer"]
    assert optimizer["planned"] == optimizer["created"] == optimizer["finished"] == 206
    assert [[(r["configurations"], r["resource"]) for r in b["rungs"]] for b in optimizer["brackets"]] == [
        [TABLE_1[bracket, rung] for rung in range(5 - bracket)] for bracket in range(5)]
    best = max(trials, key=lambda t: t["metrics"]["score"])
    assert optimizer["best"]["run_uuid"] == best["uuid"]
    assert optimizer["best"]["value"] == best["metrics"]["score"]


def test_killing_the_orchestrator_mid_hyperband_neither_repeats_nor_loses_a_trial(
    cli: Cli, tmp_path: Path
) -> None:
    record = tmp_path / "record"
    uuid = submit(cli, "-f", str(FILES / "hyperband-small.yaml"), "-P", "steps=3", "-P", "sleep=0.3",
                  "-P", f"record_dir={record}")

    def promotions_under_way() -> bool:
        states = trial_states(uuid)
        return any(meta["rung"] > 0 for meta, _ in states) and any(
            status == "running" for _, status in states)

    wait_until(promotions_under_way, timeout=240)
    from polyaxon_core.config import load_settings
    from polyaxon_core.orchestrator import OrchestratorLock, ensure_orchestrator

    lock = OrchestratorLock(load_settings())
    pid = lock.holder_pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not lock.is_held())
    assert ensure_orchestrator(load_settings()) is not None
    wait_final(uuid, timeout=300)

    assert shown(cli, uuid)["status"] == "succeeded"
    trials = trials_of(cli, uuid)
    # R = 9, eta = 3: brackets of 9 -> 3 -> 1, 5 -> 1 and 3 configurations
    assert sorted(t["meta_info"]["matrix"]["index"] for t in trials) == list(range(22))
    assert Counter(t["inputs"]["epochs"] for t in trials) == {1: 9, 3: 3 + 5, 9: 1 + 1 + 3}
    assert [(t["status"], t.get("message")) for t in trials if t["status"] != "succeeded"] == []
    for trial in trials:
        starts = (record / f"{trial['uuid']}.starts").read_text().splitlines()
        assert len(starts) == 1, f"trial {trial['meta_info']['matrix']['index']} started {len(starts)} times"
