"""Early stopping stops real runs: the CLI, the embedded orchestrator, local processes."""

from __future__ import annotations

import pytest

from tests.orchestrator.conftest import Cli
from tests.sweeps.helpers import FILES, shown, submit, timeline, trials_of, wait_final


def test_the_median_policy_stops_the_bad_running_trials_and_lets_the_good_ones_finish(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLYAXON_CONCURRENCY", "6")
    monkeypatch.setenv("POLYAXON_MAX_CONCURRENCY", "6")
    uuid = submit(cli, "-f", str(FILES / "median.yaml"))
    wait_final(uuid, timeout=240)

    sweep = shown(cli, uuid)
    assert sweep["status"] == "succeeded", sweep["message"]
    trials = {trial["inputs"]["x"]: trial for trial in trials_of(cli, uuid)}
    assert sorted(trials) == [0.5, 1, 9, 10, 11, 12]
    for x in (9, 10, 11, 12):
        assert trials[x]["status"] == "succeeded"
        assert trials[x]["metrics"]["score"] == x * 30 / 2  # all 30 steps
    for bad in (0.5, 1.0):
        assert trials[bad]["status"] == "stopped"
        assert trials[bad]["metrics"]["score"] < bad * 30 / 2  # stopped before its last step
        why = timeline(cli, trials[bad]["uuid"])[("stopping", "early stopping: median")]
        assert why is not None and "worse than the median" in why


def test_a_threshold_ends_the_sweep_as_soon_as_a_trial_reaches_it(cli: Cli) -> None:
    uuid = submit(cli, "-f", str(FILES / "threshold.yaml"))
    wait_final(uuid, timeout=120)

    sweep = shown(cli, uuid)
    assert sweep["status"] == "succeeded"
    assert ("stopping", "early stopping: metric") in timeline(cli, uuid)
    assert "logged score = 50, >= 40" in sweep["message"]
    # two trials ran at a time; the second reached 40 long before either could finish,
    # so no further trial was created and both were stopped
    trials = trials_of(cli, uuid)
    assert [t["inputs"]["x"] for t in trials] == [1, 50]
    for trial in trials:
        assert trial["status"] == "stopped"
        assert ("stopping", "early stopping: metric") in timeline(cli, trial["uuid"])


def test_failure_early_stopping_fails_the_sweep_once_the_share_of_failures_is_reached(cli: Cli) -> None:
    uuid = submit(cli, "-f", str(FILES / "failures.yaml"))
    wait_final(uuid, timeout=180)

    sweep = shown(cli, uuid)
    assert sweep["status"] == "failed"
    assert ("stopping", "early stopping: failures") in timeline(cli, uuid)
    assert sweep["message"].startswith("3 of 10 trials failed")
    # one trial at a time: the third failure (the fifth trial) is 30% of the ten planned
    trials = trials_of(cli, uuid)
    assert [t["status"] for t in trials] == ["succeeded", "failed", "failed", "succeeded", "failed"]
