"""The DAG's rule table: what an operation does given its upstream operations' statuses,
and when its conditions hold. The same rules run through real processes in test_dags.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyaxon_core.orchestrator.dags import Outcome, topological_order, trigger_outcome
from polyaxon_core.spec import read_polyaxonfile
from polyaxon_core.spec.templating import conditions_hold

RUN, WAIT, SKIP, UPSTREAM_FAILED = Outcome.RUN, Outcome.WAIT, Outcome.SKIP, Outcome.UPSTREAM_FAILED


@pytest.mark.parametrize(("trigger", "upstream", "expected"), [
    ("all_succeeded", ["succeeded", "succeeded"], RUN),
    ("all_succeeded", ["succeeded", "running"], WAIT),
    ("all_succeeded", ["failed", "running"], UPSTREAM_FAILED),
    ("all_succeeded", ["succeeded", "upstream_failed"], UPSTREAM_FAILED),
    ("all_succeeded", ["succeeded", "stopped"], UPSTREAM_FAILED),
    ("all_succeeded", ["succeeded", "skipped"], SKIP),
    (None, ["succeeded"], RUN),
    ("all_failed", ["failed", "upstream_failed"], RUN),
    ("all_failed", ["failed", "running"], WAIT),
    ("all_failed", ["failed", "succeeded"], SKIP),
    ("all_failed", ["failed", "skipped"], SKIP),
    ("all_done", ["failed", "succeeded", "skipped"], RUN),
    ("all_done", ["failed", "queued"], WAIT),
    ("one_succeeded", ["succeeded", "running"], RUN),
    ("one_succeeded", ["failed", "running"], WAIT),
    ("one_succeeded", ["failed", "skipped"], UPSTREAM_FAILED),
    ("one_succeeded", ["skipped"], SKIP),
    ("one_failed", ["failed", "running"], RUN),
    ("one_failed", ["succeeded", "running"], WAIT),
    ("one_failed", ["succeeded", "skipped"], SKIP),
    ("one_done", ["stopped", "running"], RUN),
    ("one_done", ["skipped", "running"], WAIT),
    ("one_done", ["skipped"], SKIP),
])
def test_a_trigger_decides_from_the_upstream_statuses(trigger: str | None, upstream: list[str],
                                                      expected: Outcome) -> None:
    assert trigger_outcome(trigger, upstream) == expected


@pytest.mark.parametrize("trigger", ["all_succeeded", "all_done", "one_done", "one_failed"])
def test_skip_on_upstream_skip_skips_whatever_the_trigger(trigger: str) -> None:
    assert trigger_outcome(trigger, ["failed", "skipped"], skip_on_upstream_skip=True) == SKIP


def test_without_skip_on_upstream_skip_a_skipped_upstream_is_done() -> None:
    assert trigger_outcome("all_done", ["failed", "skipped"]) == RUN


def test_an_operation_without_upstream_runs_whatever_its_trigger() -> None:
    assert trigger_outcome("all_failed", []) == RUN


@pytest.mark.parametrize(("conditions", "context", "expected"), [
    ("{{ loss < 0.5 }}", {"loss": 0.2}, True),
    ("loss < 0.5", {"loss": 0.7}, False),
    ("{{ flag }}", {"flag": "yes"}, True),
    ("{{ name == 'adam' and epochs > 2 }}", {"name": "adam", "epochs": 3}, True),
])
def test_conditions_are_jinja_expressions_over_the_params(conditions: str, context: dict[str, object],
                                                          expected: bool) -> None:
    assert conditions_hold(conditions, context) is expected


@pytest.mark.parametrize(("conditions", "message"), [
    ("{{ missing > 1 }}", "cannot evaluate conditions `{{ missing > 1 }}`: 'missing' is undefined"),
    ("{{ 'maybe' }}", "conditions `{{ 'maybe' }}` rendered `maybe`, which is neither true nor false"),
])
def test_conditions_that_cannot_be_told_say_why(conditions: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        conditions_hold(conditions, {})
    assert str(raised.value) == message


def test_operations_are_ordered_after_what_they_wait_for(tmp_path: Path) -> None:
    path = tmp_path / "dag.yaml"
    path.write_text("""
version: 1.1
kind: component
run:
  kind: dag
  operations:
  - {name: report, dagRef: step, dependencies: [train, prepare]}
  - {name: train, dagRef: step, params: {x: {ref: ops.prepare, value: outputs.y}}}
  - {name: prepare, dagRef: step}
  components:
  - name: step
    inputs: [{name: x, type: int, isOptional: true}]
    outputs: [{name: y, type: int, isOptional: true}]
    run: {kind: job, container: {image: x, command: [echo]}}
""")
    operations = read_polyaxonfile(path).dag_operations

    assert topological_order(operations) == ["prepare", "train", "report"]
