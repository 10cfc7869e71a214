"""The matrix controller: turns an optimizer's suggestions into trial runs.

Each pass over a sweep reads its trials from the database, applies the matrix's
``earlyStopping`` rules (:mod:`polyaxon_core.orchestrator.early_stopping`) to the
metrics they logged, asks the optimizer plugin for as many suggestions as
``matrix.concurrency`` leaves room for and creates those trials, all in one
transaction. Optimizers are stateless, a trial's ``matrix_index`` is unique per sweep,
and early stopping decisions are recorded as statuses, so a controller killed at any
point and started again neither repeats nor loses a trial nor a decision.
"""

from __future__ import annotations

import bisect
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, bindparam, select, type_coerce
from sqlalchemy.orm import Session, defer

from polyaxon_core.config import Settings
from polyaxon_core.db.claims import claim_rows
from polyaxon_core.db.models import Metric, Run, with_project
from polyaxon_core.db.session import session_scope
from polyaxon_core.domain.commands import create_trial, load_spec, request_stop
from polyaxon_core.domain.metrics import current_attempt
from polyaxon_core.domain.state import transition
from polyaxon_core.entities import Trial
from polyaxon_core.interfaces import Optimizer
from polyaxon_core.lifecycle import CONTROLLED_STATUSES, FINAL_STATUSES, Status, is_final
from polyaxon_core.orchestrator import early_stopping

logger = logging.getLogger(__name__)


# The statements of every pass, built once (on first use: the mappers are complete only
# once every model is imported).
@functools.cache
def _locked_sweep() -> Any:
    return claim_rows(select(Run).options(with_project()).where(Run.id == bindparam("sweep")), Run)


#: what a pass reads of a sweep's trials
_TRIAL_COLUMNS = (Run.id, Run.uuid, Run.matrix_index, Run.status, Run.meta_info, Run.last_metrics)
#: when a run last changed, as the database gives it: only compared, never parsed
_CHANGED = type_coerce(Run.updated_at, String).label("changed")


def _order(child: Any) -> tuple[int, int]:
    return child.matrix_index or 0, child.id


def _trial(child: Any) -> Trial:
    """What the optimizer sees of a trial run, or of a row of :data:`_TRIAL_COLUMNS`."""
    return Trial(
        index=int(child.matrix_index if child.matrix_index is not None else -1),
        params=dict((child.meta_info or {}).get("matrix", {}).get("params", {})),
        status=child.status,
        metrics={k: v for k, v in (child.last_metrics or {}).items() if isinstance(v, int | float)},
        meta=dict((child.meta_info or {}).get("matrix", {})),
        run_uuid=child.uuid,
    )


@dataclass
class _Known:
    """A trial as a pass read it: its row and its Trial."""

    row: Any
    trial: Trial


class SweepController:
    """Reads each sweep's trials incrementally: a pass reads the status and the time of
    the last change of every trial (two small columns), and the whole row only of the
    trials that changed since the pass before (every change of a run moves its
    ``updated_at``), so a sweep of thousands of trials costs its optimizer, not its reading.
    What it remembers is only a copy: a controller started afresh reads everything once."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._known: dict[int, dict[int, _Known]] = {}
        #: the ids of each sweep's known trials in order (matrix index, id: neither changes)
        self._ordered: dict[int, list[int]] = {}
        #: each sweep's (id, status, updated_at) of every trial, as the last pass read them
        self._stamps: dict[int, set[tuple[Any, ...]]] = {}

    def _children(self, session: Session, sweep: Run) -> tuple[list[Any], list[Trial]]:
        """The sweep's trials as rows of :data:`_TRIAL_COLUMNS` and as Trials, in order."""
        known = self._known.setdefault(sweep.id, {})
        # plain tuples compared as sets: a pass over thousands of unchanged trials stays in
        # C; read through the connection, with no ORM processing of the rows (nor the
        # session's autoflush: a pass reads its trials before it changes any)
        stamps: set[tuple[Any, ...]] = set(map(tuple, session.connection().execute(
            select(Run.id, Run.status, _CHANGED).where(Run.pipeline_id == sweep.id)).all()))
        changed = [run_id for run_id, _, _ in stamps - self._stamps.get(sweep.id, set())]
        new = [run_id for run_id in changed if run_id not in known]
        for start in range(0, len(changed), 500):
            for row in session.connection().execute(select(*_TRIAL_COLUMNS, _CHANGED)
                                                    .where(Run.id.in_(changed[start:start + 500]))):
                known[row.id] = _Known(row, _trial(row))
        # only once the rows that changed were read: a pass cut short (a lost connection)
        # leaves them changed for the next
        self._stamps[sweep.id] = stamps
        ordered = self._ordered.get(sweep.id)
        if len(known) != len(stamps):  # trials deleted meanwhile
            present = {run_id for run_id, _, _ in stamps}
            for run_id in [run_id for run_id in known if run_id not in present]:
                del known[run_id]
            ordered = None
        new = [run_id for run_id in new if run_id in known]
        if ordered is None or len(new) > 50 or len(ordered) + len(new) != len(known):
            ordered = self._ordered[sweep.id] = sorted(known, key=lambda run_id: _order(known[run_id].row))
        else:  # a few new trials, most often after all the others
            for run_id in new:
                bisect.insort_right(ordered, run_id, key=lambda each: _order(known[each].row))
        return [known[run_id].row for run_id in ordered], [known[run_id].trial for run_id in ordered]

    def optimizer_for(self, run: Run) -> tuple[Any, Optimizer]:
        from polyaxon_core.plugins import get_plugin_manager

        spec = load_spec(run)
        assert spec.matrix is not None
        optimizer_class = get_plugin_manager().get("optimizer", spec.matrix.kind)
        return spec, optimizer_class(spec.matrix)

    def control_all(self, db_url: str, ids: Sequence[int]) -> bool:
        """Drive the sweeps ``ids`` (those queued, running or stopping), each in a
        transaction of its own; whether they created trials."""
        for ended in set(self._known) - set(ids):
            del self._known[ended]
            self._ordered.pop(ended, None)
            self._stamps.pop(ended, None)
        created = False
        for sweep_id in ids:
            with session_scope(db_url) as session:
                # locked for the pass: another replica skips it meanwhile
                sweep = session.scalar(_locked_sweep(), {"sweep": sweep_id})
                if sweep is not None and sweep.status in CONTROLLED_STATUSES:
                    created = self.control(session, sweep) or created
        return created

    def control(self, session: Session, sweep: Run) -> bool:
        """One pass over ``sweep``; whether it created trials."""
        if sweep.status == Status.STOPPING.value:
            self._stop(session, sweep)
            return False
        # what the optimizer and the rules read of the trials, as plain rows: a sweep of
        # thousands of trials is looked at on every pass
        children, trials = self._children(session, sweep)
        try:
            spec, optimizer = self.optimizer_for(sweep)
        except Exception as exc:
            transition(session, sweep, Status.FAILED, reason="optimizer error", message=str(exc))
            return False
        if sweep.status == Status.QUEUED.value:
            transition(session, sweep, Status.RUNNING, reason="running")
        rules = early_stopping.read_rules(spec.matrix.options)
        if rules and self._apply_early_stopping(session, sweep, children, optimizer, trials, rules):
            return False
        unfinished = sum(1 for trial in trials if trial.status not in FINAL_STATUSES)
        concurrency = spec.matrix.concurrency or self.settings.default_concurrency
        slots = max(0, concurrency - unfinished)
        created = 0
        if slots:
            try:
                suggestions = optimizer.suggest(trials, slots)[:slots]
            except Exception as exc:
                logger.exception("optimizer %s failed on sweep %s", spec.matrix.kind, sweep.uuid)
                transition(session, sweep, Status.STOPPING, reason="optimizer error",
                           message=f"{type(exc).__name__}: {exc}")
                return False
            for suggestion in suggestions:
                trial = create_trial(session, sweep, spec, suggestion.params, suggestion.meta)
                children.append(trial)
                # in order: a new trial's id is above all the others'
                bisect.insort_right(trials, _trial(trial), key=lambda each: max(each.index, 0))
                created += 1
        sweep.meta_info = {**(sweep.meta_info or {}), "optimizer": optimizer.describe(trials)}
        if not created and unfinished == 0 and optimizer.is_done(trials):
            self._finish(session, sweep, children)
        return created > 0

    def _apply_early_stopping(
        self, session: Session, sweep: Run, children: list[Any], optimizer: Optimizer,
        trials: list[Trial], rules: list[early_stopping.Rule],
    ) -> bool:
        """Stop the trials the rules condemn; return True when the whole sweep stops."""
        planned = optimizer.describe(trials).get("planned")
        decision = early_stopping.decide(
            rules, progress(session, sweep, children, early_stopping.metric_names(rules)),
            planned if isinstance(planned, int) else None,
        )
        by_uuid = {child.uuid: child.id for child in children}
        for stop in decision.trials:
            child = session.get(Run, by_uuid[stop.uuid])
            assert child is not None
            logger.info("sweep %s: stopping trial %s (%s: %s)", sweep.uuid, child.uuid, stop.reason,
                        stop.message)
            request_stop(session, child, reason=stop.reason, message=stop.message)
        if decision.sweep is None:
            return False
        logger.info("sweep %s: %s (%s)", sweep.uuid, decision.sweep.reason, decision.sweep.message)
        sweep.meta_info = {**(sweep.meta_info or {}), "optimizer": optimizer.describe(trials)}
        transition(session, sweep, Status.STOPPING, reason=decision.sweep.reason,
                   message=decision.sweep.message)
        self._stop(session, sweep)
        return True

    def _finish(self, session: Session, sweep: Run, children: list[Any]) -> None:
        succeeded = sum(1 for child in children if child.status == Status.SUCCEEDED.value)
        if children and succeeded == 0:
            transition(session, sweep, Status.FAILED, reason="all trials failed",
                       message=f"none of the {len(children)} trials succeeded")
        else:
            transition(session, sweep, Status.SUCCEEDED, reason="sweep done",
                       message=f"{succeeded} of {len(children)} trials succeeded")

    def _stop(self, session: Session, sweep: Run) -> None:
        """Stop every unfinished trial, then end the sweep as the reason it is stopping
        for says: ``failed`` for an optimizer error, the early stopping rule's outcome,
        ``stopped`` otherwise (a user's stop)."""
        # the trials' compiled content is never needed here: leave the large text columns out
        children = list(session.scalars(
            select(Run).where(Run.pipeline_id == sweep.id)
            .options(defer(Run.content), defer(Run.raw_content))))
        stopping = next(
            (c for c in reversed(sweep.conditions) if c.status == Status.STOPPING.value), None
        )
        reason = stopping.reason if stopping is not None else None
        message = stopping.message if stopping is not None else None
        outcome = early_stopping.SWEEP_OUTCOMES.get(reason or "")
        for child in children:
            if not is_final(child.status) and child.status != Status.STOPPING.value:
                request_stop(session, child, reason=reason if reason and outcome else "sweep stopped")
        if not all(is_final(child.status) for child in children):
            return
        if reason == "optimizer error":
            transition(session, sweep, Status.FAILED, reason=reason, message=message)
        elif outcome is not None:
            transition(session, sweep, outcome, reason=reason, message=message)
        else:
            transition(session, sweep, Status.STOPPED, reason="stopped")


def progress(session: Session, parent: Run, children: Sequence[Any], names: set[str],
             index: Callable[[Run], int] | None = None) -> list[early_stopping.TrialProgress]:
    """The children of a sweep (or a DAG) with every value their current attempt logged of
    the metrics ``names`` (a resumed or retried trial starts its series again); ``index``
    numbers them (default: their matrix index)."""
    series: dict[int, dict[str, list[float]]] = {child.id: {} for child in children}
    attempts = {child.id: current_attempt(child) for child in children}
    if names:
        rows = session.execute(
            select(Metric.run_id, Metric.attempt, Metric.name, Metric.value)
            .join(Run, Run.id == Metric.run_id)
            .where(Run.pipeline_id == parent.id, Metric.name.in_(sorted(names)))
            .order_by(Metric.id)
        )
        for run_id, attempt, name, value in rows:
            if attempt == attempts.get(run_id):
                series[run_id].setdefault(name, []).append(value)
    return [
        early_stopping.TrialProgress(
            index=index(child) if index is not None else
            child.matrix_index if child.matrix_index is not None else -1,
            uuid=child.uuid, status=child.status, series=series[child.id],
        )
        for child in children
    ]
