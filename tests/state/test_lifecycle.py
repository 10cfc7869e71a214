from __future__ import annotations

import pytest

from polyaxon_core.lifecycle import FINAL_STATUSES, TRANSITIONS, Status, can_transition, is_final


def test_every_status_has_a_row_in_the_transition_table() -> None:
    assert set(TRANSITIONS) == set(Status)


@pytest.mark.parametrize("final", sorted(FINAL_STATUSES))
def test_a_final_status_only_moves_to_resuming(final: Status) -> None:
    allowed = {status for status in Status if can_transition(final, status)}
    assert allowed <= {Status.RESUMING}


@pytest.mark.parametrize(
    ("current", "new"),
    [("created", "compiled"), ("compiled", "queued"), ("queued", "scheduled"),
     ("scheduled", "starting"), ("starting", "running"), ("running", "succeeded"),
     ("running", "failed"), ("running", "stopping"), ("stopping", "stopped"),
     ("running", "retrying"), ("retrying", "queued"), ("failed", "resuming"),
     ("resuming", "queued"), ("created", "running")],  # the last: a run tracked from outside
)
def test_the_normal_path_is_allowed(current: str, new: str) -> None:
    assert can_transition(current, new)


@pytest.mark.parametrize(
    ("current", "new"),
    [("succeeded", "running"), ("failed", "succeeded"), ("stopped", "queued"),
     ("created", "starting"), ("queued", "succeeded"), ("running", "queued"),
     ("running", "created"), ("skipped", "resuming")],
)
def test_illegal_moves_are_refused(current: str, new: str) -> None:
    assert not can_transition(current, new)


def test_unknown_status_names_are_refused_not_raised() -> None:
    assert not can_transition("running", "exploded")
    assert not can_transition("exploded", "running")


def test_final_statuses_are_polyaxons() -> None:
    assert {s.value for s in FINAL_STATUSES} == {
        "succeeded", "failed", "upstream_failed", "stopped", "skipped", "done"
    }
    assert is_final("succeeded") and not is_final("running")
