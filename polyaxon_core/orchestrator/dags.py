"""The DAG controller: runs the operations of ``run.kind: dag`` runs when their trigger holds.

When a DAG starts, every operation becomes a child run at once, waiting in ``compiled``
(in the same transaction as the DAG's own move to ``running``, so a controller killed
there either created them all or none, and its first operations are queued in it too).
Each pass over a running DAG then decides, in
topological order (:mod:`graphlib`), what every waiting operation does now that its
upstream operations (its ``dependencies`` and the operations its params read from) have
moved:

* wait, while its trigger cannot be decided yet;
* ``skipped``, ``upstream_failed``, when its trigger can no longer hold (see
  :func:`trigger_outcome`), or ``skipped`` when its ``conditions`` render false;
* ``queued``, with its ``ref`` params resolved into values, when the trigger holds, the
  conditions are true and the DAG's ``concurrency`` leaves room. From there the
  orchestrator launches it like any run (a sweep or a nested DAG is taken up by its own
  controller).

Every decision is a compare-and-set status transition, and a resolved operation is
stored with its values in place of its references, so a controller killed at any point
and started again derives where the DAG was from the rows: no operation is created or
started twice. A DAG ends ``succeeded`` unless one of its last operations (those nothing
depends on) failed, was stopped or had an upstream failure; stopped, it skips what did
not start and stops what runs.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from enum import StrEnum
from graphlib import TopologicalSorter
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, defer

from polyaxon_core.config import Settings
from polyaxon_core.db.claims import claim_rows
from polyaxon_core.db.models import Run, with_project
from polyaxon_core.db.session import session_scope
from polyaxon_core.domain.commands import (
    create_operations,
    load_spec,
    operation_content,
    request_stop,
)
from polyaxon_core.domain.references import (
    ReferenceProblem,
    read_value,
    resolve_joins,
    run_of_project,
)
from polyaxon_core.domain.state import transition
from polyaxon_core.interfaces import ArtifactStore
from polyaxon_core.lifecycle import CONTROLLED_STATUSES, FINAL_STATUSES, Status, is_final
from polyaxon_core.orchestrator import early_stopping
from polyaxon_core.spec import OperationSpec, PolyaxonfileError
from polyaxon_core.spec.params import parse_ref_value
from polyaxon_core.spec.templating import conditions_hold

logger = logging.getLogger(__name__)

#: what a waiting operation is: created with the DAG, not yet decided
WAITING = Status.COMPILED.value
#: an upstream operation in one of these did not succeed and was not skipped
_UNSUCCESSFUL = frozenset({Status.FAILED.value, Status.UPSTREAM_FAILED.value, Status.STOPPED.value})
TRIGGERS = ("all_succeeded", "all_failed", "all_done", "one_succeeded", "one_failed", "one_done")


class Outcome(StrEnum):
    WAIT = "wait"
    RUN = "run"
    SKIP = "skip"
    UPSTREAM_FAILED = "upstream_failed"


def trigger_outcome(trigger: str | None, upstream: Sequence[str],
                    skip_on_upstream_skip: bool = False) -> Outcome:
    """What an operation does given its upstream operations' statuses.

    An operation without upstream runs. With ``skip_on_upstream_skip``, one skipped
    upstream operation skips it, whatever its trigger. Otherwise (``failed``,
    ``upstream_failed`` and ``stopped`` count as failures; ``skipped`` is done, but
    neither a success nor a failure):

    ==============  =========================================  ==========================
    trigger         runs when                                  when it can no longer hold
    ==============  =========================================  ==========================
    all_succeeded   every upstream succeeded (the default)     upstream_failed on a
                                                               failure, skipped on a skip
    all_failed      every upstream failed                      skipped
    all_done        every upstream is done                     -
    one_succeeded   one upstream succeeded (at once)           upstream_failed if one
                                                               failed, else skipped
    one_failed      one upstream failed (at once)              skipped
    one_done        one upstream succeeded or failed (at once) skipped
    ==============  =========================================  ==========================
    """
    if not upstream:
        return Outcome.RUN
    skipped = [status == Status.SKIPPED.value for status in upstream]
    if skip_on_upstream_skip and any(skipped):
        return Outcome.SKIP
    succeeded = any(status == Status.SUCCEEDED.value for status in upstream)
    failed = any(status in _UNSUCCESSFUL for status in upstream)
    pending = any(not is_final(status) for status in upstream)
    policy = trigger or "all_succeeded"
    if policy == "all_succeeded":
        if failed:
            return Outcome.UPSTREAM_FAILED
        if any(skipped):
            return Outcome.SKIP
        return Outcome.WAIT if pending else Outcome.RUN
    if policy == "all_failed":
        if succeeded or any(skipped):
            return Outcome.SKIP
        return Outcome.WAIT if pending else Outcome.RUN
    if policy == "all_done":
        return Outcome.WAIT if pending else Outcome.RUN
    if policy == "one_succeeded":
        if succeeded:
            return Outcome.RUN
        if pending:
            return Outcome.WAIT
        return Outcome.UPSTREAM_FAILED if failed else Outcome.SKIP
    if policy == "one_failed":
        if failed:
            return Outcome.RUN
        return Outcome.WAIT if pending else Outcome.SKIP
    if policy == "one_done":
        if succeeded or failed:
            return Outcome.RUN
        return Outcome.WAIT if pending else Outcome.SKIP
    raise ValueError(f"unknown trigger `{policy}`; one of {', '.join(TRIGGERS)}")


def upstream_names(operation: OperationSpec) -> list[str]:
    """The operations ``operation`` waits for: its dependencies and the ones it reads from."""
    names = list(operation.dependencies)
    for param in operation.params_with_ref.values():
        ref = str(param["ref"])
        if ref.startswith("ops."):
            names.append(ref[len("ops."):])
    return list(dict.fromkeys(names))


def topological_order(operations: Sequence[OperationSpec]) -> list[str]:
    """The operations' names, each after everything it waits for (the compiler refused cycles)."""
    graph = TopologicalSorter({op.name or "": upstream_names(op) for op in operations})
    return list(graph.static_order())


class _Children(Mapping[str, Run]):
    """A DAG's operations by name. Their statuses are read in one query of two small
    columns; an operation's run is loaded only when a decision needs it (a pass over a DAG
    of hundreds of operations moves a few). ``names``: what this controller knows of which
    child is which operation (that never changes), completed here."""

    def __init__(self, session: Session, dag_id: int, names: dict[int, str]) -> None:
        rows = session.execute(_operation_statuses(), {"dag": dag_id}).all()
        unknown = [run_id for run_id, _ in rows if run_id not in names]
        for start in range(0, len(unknown), 500):
            for run_id, meta_info in session.execute(
                    select(Run.id, Run.meta_info).where(Run.id.in_(unknown[start:start + 500]))):
                names[run_id] = str((meta_info or {}).get("operation"))
        self._session = session
        self._ids = {names[run_id]: run_id for run_id, _ in rows}
        self._statuses = {names[run_id]: status for run_id, status in rows}
        self._runs: dict[str, Run] = {}

    def status(self, name: str) -> str:
        """The operation's status, as moved by this pass if it was."""
        run = self._runs.get(name)
        return run.status if run is not None else self._statuses[name]

    def statuses(self) -> dict[str, str]:
        return {**self._statuses, **{name: run.status for name, run in self._runs.items()}}

    def load_all(self) -> None:
        """Load every operation's run at once (to stop them all, or judge their metrics)."""
        missing = [run_id for name, run_id in self._ids.items() if name not in self._runs]
        names = {run_id: name for name, run_id in self._ids.items()}
        for start in range(0, len(missing), 500):
            for run in self._session.scalars(select(Run).where(Run.id.in_(missing[start:start + 500]))
                                              .options(*_LIGHT)):
                self._runs[names[run.id]] = run

    def __getitem__(self, name: str) -> Run:
        run = self._runs.get(name)
        if run is None:
            run = self._session.get(Run, self._ids[name], options=_LIGHT)
            assert run is not None
            self._runs[name] = run
        return run

    def __contains__(self, name: object) -> bool:
        return name in self._ids

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)


#: what is never read of an operation's run here: its compiled content (large)
_LIGHT = [defer(Run.content), defer(Run.raw_content)]


# The statements of every pass, built once (on first use: the mappers are complete only
# once every model is imported).
@functools.cache
def _locked_dag() -> Any:
    """The DAG ``dag``, locked; its content is read once, by :meth:`DagController.spec_of`."""
    return claim_rows(select(Run).options(with_project(), *_LIGHT).where(Run.id == bindparam("dag")), Run)


@functools.cache
def _operation_statuses() -> Any:
    return select(Run.id, Run.status).where(Run.pipeline_id == bindparam("dag"))


class DagController:
    def __init__(self, settings: Settings, store: ArtifactStore) -> None:
        self.settings = settings
        self.store = store
        #: a DAG's compiled spec, its operations in topological order and what each waits
        #: for, by run id: its content never changes once created
        self._specs: dict[int, OperationSpec] = {}
        self._plans: dict[int, tuple[list[str], dict[str, list[str]]]] = {}
        #: which child of each DAG is which operation
        self._names: dict[int, dict[int, str]] = {}

    def control_all(self, db_url: str, ids: Sequence[int]) -> set[str]:
        """Drive the DAGs ``ids`` (those queued, running or stopping), each in a
        transaction of its own; the kinds of the operations they queued."""
        for cache in (self._specs, self._plans, self._names):
            for cached in set(cache) - set(ids):
                del cache[cached]
        queued: set[str] = set()
        for dag_id in ids:
            with session_scope(db_url) as session:
                # locked for the pass: another replica skips it meanwhile
                dag = session.scalar(_locked_dag(), {"dag": dag_id})
                if dag is not None and dag.status in CONTROLLED_STATUSES:
                    queued |= self.control(session, dag)
        return queued

    def spec_of(self, dag: Run) -> OperationSpec:
        spec = self._specs.get(dag.id)
        if spec is None:
            spec = self._specs[dag.id] = load_spec(dag)
        return spec

    def _plan(self, dag: Run, spec: OperationSpec) -> tuple[list[str], dict[str, list[str]]]:
        plan = self._plans.get(dag.id)
        if plan is None:
            plan = self._plans[dag.id] = (
                topological_order(spec.dag_operations),
                {op.name or "": upstream_names(op) for op in spec.dag_operations})
        return plan

    def control(self, session: Session, dag: Run) -> set[str]:
        """One pass over ``dag``; the kinds of the operations it queued."""
        try:
            spec = self.spec_of(dag)
        except Exception as exc:  # content that no longer compiles fails the DAG, not the loop
            transition(session, dag, Status.FAILED, reason="dag error", message=str(exc))
            return set()
        if dag.status == Status.QUEUED.value:
            # started, its first operations are queued in the same transaction, so that the
            # orchestrator launches them in this pass rather than a poll interval later
            if not self._start(session, dag, spec):
                return set()
            session.flush()
        children = _Children(session, dag.id, self._names.setdefault(dag.id, {}))
        if dag.status == Status.STOPPING.value:
            self._stop(session, dag, children)
            return set()
        rules = early_stopping.read_rules({"early_stopping": spec.component.dag_early_stopping})
        if rules and self._apply_early_stopping(session, dag, spec, children, rules):
            return set()
        reused = self._reused(session, dag)
        queued = self._advance(session, dag, spec, children, reused)
        if all(is_final(status) for status in children.statuses().values()):
            self._finish(session, dag, spec, children, reused)
        return queued

    # ------------------------------------------------------------------------ starting
    def _start(self, session: Session, dag: Run, spec: OperationSpec) -> bool:
        """Create every operation, waiting, in the transaction that moves the DAG to
        running; whether it moved."""
        if not transition(session, dag, Status.RUNNING, reason="running"):
            return False
        dag.meta_info = {**(dag.meta_info or {}),
                         "operations": [operation.name for operation in spec.dag_operations]}
        reused = dict((dag.meta_info or {}).get("reused") or {})
        create_operations(session, dag, [operation for operation in spec.dag_operations
                                         if operation.name not in reused])
        return True

    def _reused(self, session: Session, dag: Run) -> dict[str, Run]:
        """The operations a ``--from-failed`` restart takes from the DAG it restarts."""
        reused = (dag.meta_info or {}).get("reused") or {}
        if not reused:
            return {}
        rows = session.scalars(select(Run).where(Run.uuid.in_(list(reused.values()))))
        by_uuid = {row.uuid: row for row in rows}
        return {name: by_uuid[uuid] for name, uuid in reused.items() if uuid in by_uuid}

    # ----------------------------------------------------------------------- advancing
    def _advance(self, session: Session, dag: Run, spec: OperationSpec, children: _Children,
                 reused: dict[str, Run]) -> set[str]:
        """Decide the waiting operations whose upstream allows it; the kinds of those queued."""
        queued: set[str] = set()
        operations = {op.name or "": op for op in spec.dag_operations}
        sources = _Sources(children, reused)
        concurrency = spec.component.dag_concurrency
        statuses = children.statuses()
        in_flight = sum(1 for status in statuses.values()
                        if status != WAITING and not is_final(status))
        # what each operation's status is as this pass goes (it moves some): an operation
        # neither of the DAG nor reused is one a --from-failed restart skipped
        view = {**{name: run.status for name, run in reused.items()}, **statuses}
        order, waits_for = self._plan(dag, spec)
        for name in order:
            if statuses.get(name) != WAITING:
                continue
            upstream = [view.get(parent, Status.SKIPPED.value) for parent in waits_for[name]]
            if upstream and not any(status in FINAL_STATUSES for status in upstream):
                continue  # no trigger is decided before one upstream operation ends
            operation = operations[name]
            try:
                outcome = trigger_outcome(operation.trigger, upstream, operation.skip_on_upstream_skip)
            except ValueError as exc:
                outcome = None
                transition(session, children[name], Status.FAILED, reason="trigger", message=str(exc))
            if outcome == Outcome.WAIT:
                continue
            if outcome == Outcome.SKIP:
                transition(session, children[name], Status.SKIPPED, reason="trigger",
                           message=f"the trigger {operation.trigger or 'all_succeeded'} cannot hold: "
                                   f"{_describe_upstream(operation, sources)}")
            elif outcome == Outcome.UPSTREAM_FAILED:
                transition(session, children[name], Status.UPSTREAM_FAILED, reason="upstream failed",
                           message=_describe_upstream(operation, sources))
            elif outcome == Outcome.RUN:
                if concurrency is not None and in_flight >= concurrency:
                    continue  # ready, and waiting for room: its run is not even loaded
                if self._queue(session, dag, operation, children[name], sources):
                    in_flight += 1
                    queued.add(children[name].kind)
            view[name] = children[name].status
        return queued

    def _queue(self, session: Session, dag: Run, operation: OperationSpec, child: Run,
               sources: Mapping[str, Run]) -> bool:
        """Resolve the operation's params, check its conditions and queue it; or end it as
        ``skipped`` (conditions false) or ``failed`` (what cannot be resolved, and why)."""
        try:
            values = self._resolve(session, dag, operation, sources)
            inputs = operation.resolve_inputs(
                {name: value for name, value in values.items() if operation.component.io(name)
                 and not (operation.params.get(name) or {}).get("contextOnly")})
            context = {**inputs, **values}
            if operation.conditions and not conditions_hold(operation.conditions, context):
                transition(session, child, Status.SKIPPED, reason="conditions",
                           message=f"conditions `{operation.conditions}` are false")
                return False
        except (ReferenceProblem, PolyaxonfileError, ValueError) as exc:
            transition(session, child, Status.FAILED, reason="params", message=str(exc))
            return False
        content = operation_content(operation)
        content.pop("joins", None)
        for name, value in values.items():
            param = {"value": value}
            if (operation.params.get(name) or {}).get("contextOnly"):
                param["contextOnly"] = True
            content["params"][name] = param
        return transition(session, child, Status.QUEUED, reason="queued",
                          message="its trigger holds" if upstream_names(operation) else None,
                          changes={"content": json.dumps(content, sort_keys=True), "inputs": inputs})

    # ---------------------------------------------------------------------- references
    def _resolve(self, session: Session, dag: Run, operation: OperationSpec,
                 sources: Mapping[str, Run]) -> dict[str, Any]:
        """The value of each ``ref`` param of ``operation``, and each param of its joins."""
        values: dict[str, Any] = {}
        for name, param in operation.params_with_ref.items():
            ref, written = str(param["ref"]), param.get("value")
            if ref == "dag":
                source, what = dag, "the DAG"
            elif ref.startswith("ops."):
                upstream = ref[len("ops."):]
                if upstream not in sources:
                    raise ReferenceProblem(f"param `{name}`: operation `{upstream}` did not run")
                source, what = sources[upstream], f"operation `{upstream}`"
            else:
                source = run_of_project(session, dag.project, ref[len("runs."):], name)
                what = f"run {source.uuid[:12]}"
            parsed = parse_ref_value(written)
            if source.kind == "matrix" and parsed is not None and parsed[0] != "globals":
                source, what = self._best_trial(session, source, what, name)
            values[name] = read_value(self.store, source, what, written, name)
        if operation.joins:
            values.update(resolve_joins(session, dag.project, self.store, operation.joins))
        return values

    def _best_trial(self, session: Session, sweep: Run, what: str, param: str) -> tuple[Run, str]:
        """The sweep's best succeeded trial by its matrix's metric."""
        metric = sweep_metric(load_spec(sweep))
        if metric is None:
            raise ReferenceProblem(
                f"param `{param}`: {what} is a sweep without a metric to pick its best trial "
                "by; give its matrix a `metric` (bayes, hyperband, hyperopt) or a "
                "metric_early_stopping rule")
        name, optimization = metric
        best: tuple[float, Run] | None = None
        for trial in session.scalars(select(Run).where(Run.pipeline_id == sweep.id,
                                                       Run.status == Status.SUCCEEDED.value)):
            value = (trial.last_metrics or {}).get(name, (trial.outputs or {}).get(name))
            if not isinstance(value, int | float):
                continue
            score = float(value) if optimization == "maximize" else -float(value)
            if best is None or score > best[0]:
                best = (score, trial)
        if best is None:
            raise ReferenceProblem(f"param `{param}`: no succeeded trial of {what} logged `{name}`")
        return best[1], f"the best trial of {what} ({best[1].uuid[:12]})"

    # -------------------------------------------------------------------------- ending
    def _finish(self, session: Session, dag: Run, spec: OperationSpec, children: _Children,
                reused: dict[str, Run]) -> None:
        statuses = {**{name: run.status for name, run in reused.items()}, **children.statuses()}
        downstream = {parent for op in spec.dag_operations for parent in upstream_names(op)}
        leaves = [op.name or "" for op in spec.dag_operations if op.name not in downstream]
        broken = [f"{name} {statuses[name]}" for name in leaves
                  if statuses.get(name) in _UNSUCCESSFUL]
        counts: dict[str, int] = {}
        for status in statuses.values():
            counts[status] = counts.get(status, 0) + 1
        summary = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
        if broken:
            transition(session, dag, Status.FAILED, reason="operations failed",
                       message=f"{'; '.join(broken)} ({summary})")
        else:
            transition(session, dag, Status.SUCCEEDED, reason="dag done", message=summary)

    def _stop(self, session: Session, dag: Run, children: _Children) -> None:
        """Skip the operations that did not start, stop the others, then end the DAG as the
        reason it is stopping for says (an early stopping rule's outcome, else stopped)."""
        children.load_all()
        stopping = next((c for c in reversed(dag.conditions) if c.status == Status.STOPPING.value), None)
        reason = stopping.reason if stopping is not None else None
        message = stopping.message if stopping is not None else None
        outcome = early_stopping.SWEEP_OUTCOMES.get(reason or "")
        for child in children.values():
            if child.status == WAITING:
                transition(session, child, Status.SKIPPED, reason="dag stopped")
            elif not is_final(child.status) and child.status != Status.STOPPING.value:
                request_stop(session, child, reason="dag stopped")
        if not all(is_final(child.status) for child in children.values()):
            return
        if outcome is not None:
            transition(session, dag, outcome, reason=reason, message=message)
        else:
            transition(session, dag, Status.STOPPED, reason="stopped")

    def _apply_early_stopping(self, session: Session, dag: Run, spec: OperationSpec,
                              children: _Children, rules: list[early_stopping.Rule]) -> bool:
        from polyaxon_core.orchestrator.sweeps import progress

        children.load_all()
        ordered = [children[op.name or ""] for op in spec.dag_operations if op.name in children]
        decision = early_stopping.decide(
            rules, progress(session, dag, ordered, early_stopping.metric_names(rules),
                            index=lambda child: ordered.index(child)),
            len(spec.dag_operations))
        by_uuid = {child.uuid: child for child in ordered}
        for stop in decision.trials:
            request_stop(session, by_uuid[stop.uuid], reason=stop.reason, message=stop.message)
        if decision.sweep is None:
            return False
        transition(session, dag, Status.STOPPING, reason=decision.sweep.reason,
                   message=decision.sweep.message)
        self._stop(session, dag, children)
        return True


def sweep_metric(spec: OperationSpec) -> tuple[str, str] | None:
    """The metric (name, ``maximize``/``minimize``) a sweep's best trial is chosen by: its
    matrix's ``metric``, else its first metric early stopping rule's."""
    if spec.matrix is None:
        return None
    metric = spec.matrix.options.get("metric")
    if isinstance(metric, Mapping) and metric.get("name"):
        return str(metric["name"]), str(metric.get("optimization") or "maximize").lower()
    for rule in early_stopping.read_rules(spec.matrix.options):
        if isinstance(rule, early_stopping.MetricRule):
            return rule.metric, rule.optimization
    return None


class _Sources(Mapping[str, Run]):
    """What an operation can read from: the DAG's operations, else those a ``--from-failed``
    restart reuses."""

    def __init__(self, children: _Children, reused: Mapping[str, Run]) -> None:
        self.children, self.reused = children, reused

    def status(self, name: str) -> str:
        if name in self.children:
            return self.children.status(name)
        return self.reused[name].status if name in self.reused else Status.SKIPPED.value

    def __getitem__(self, name: str) -> Run:
        return self.children[name] if name in self.children else self.reused[name]

    def __contains__(self, name: object) -> bool:
        return name in self.children or name in self.reused

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(self.reused), **dict.fromkeys(self.children)})

    def __len__(self) -> int:
        return len({*self.reused, *self.children})


def _describe_upstream(operation: OperationSpec, sources: _Sources) -> str:
    return ", ".join(f"{name} {sources.status(name)}" for name in upstream_names(operation))
