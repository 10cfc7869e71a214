"""The matrix controller: turns an optimizer's suggestions into trial runs.

Each pass over a sweep reads its trials from the database, asks the optimizer plugin
for as many suggestions as ``matrix.concurrency`` leaves room for and creates those
trials in the same transaction. Optimizers are stateless, and a trial's ``matrix_index``
is unique per sweep, so a controller killed at any point and started again neither
repeats nor loses a trial.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from polyaxon_core.config import Settings
from polyaxon_core.db.models import Run
from polyaxon_core.db.session import session_scope
from polyaxon_core.entities import Trial
from polyaxon_core.interfaces import Optimizer
from polyaxon_core.lifecycle import Status, is_final
from polyaxon_core.runs import create_trial, load_spec, request_stop, transition

logger = logging.getLogger(__name__)

_CONTROLLED = [Status.QUEUED.value, Status.RUNNING.value, Status.STOPPING.value]


def trials_of(children: list[Run]) -> list[Trial]:
    return [
        Trial(
            index=int(child.matrix_index if child.matrix_index is not None else -1),
            params=dict((child.meta_info or {}).get("matrix", {}).get("params", {})),
            status=child.status,
            metrics={k: v for k, v in (child.last_metrics or {}).items()
                     if isinstance(v, int | float)},
            meta=dict((child.meta_info or {}).get("matrix", {})),
            run_uuid=child.uuid,
        )
        for child in sorted(children, key=lambda c: (c.matrix_index or 0, c.id))
    ]


class SweepController:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def optimizer_for(self, run: Run) -> tuple[Any, Optimizer]:
        from polyaxon_core.plugins import get_plugin_manager

        spec = load_spec(run)
        assert spec.matrix is not None
        optimizer_class = get_plugin_manager().get("optimizer", spec.matrix.kind)
        return spec, optimizer_class(spec.matrix)

    def control_all(self, db_url: str) -> None:
        with session_scope(db_url) as session:
            ids = session.scalars(
                select(Run.id).where(Run.kind == "matrix", Run.status.in_(_CONTROLLED))
            ).all()
        for sweep_id in ids:
            with session_scope(db_url) as session:
                sweep = session.get(Run, sweep_id, options=[selectinload(Run.project)])
                if sweep is not None and sweep.status in _CONTROLLED:
                    self.control(session, sweep)

    def control(self, session: Session, sweep: Run) -> None:
        children = list(session.scalars(select(Run).where(Run.pipeline_id == sweep.id)))
        if sweep.status == Status.STOPPING.value:
            self._stop(session, sweep, children)
            return
        try:
            spec, optimizer = self.optimizer_for(sweep)
        except Exception as exc:
            transition(session, sweep, Status.FAILED, reason="optimizer error", message=str(exc))
            return
        if sweep.status == Status.QUEUED.value:
            transition(session, sweep, Status.RUNNING, reason="running")
        trials = trials_of(children)
        unfinished = sum(1 for child in children if not is_final(child.status))
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
                return
            for suggestion in suggestions:
                create_trial(session, sweep, spec, suggestion.params, suggestion.meta)
                created += 1
            if created:
                session.flush()
                children = list(session.scalars(select(Run).where(Run.pipeline_id == sweep.id)))
                trials = trials_of(children)
        sweep.meta_info = {**(sweep.meta_info or {}), "optimizer": optimizer.describe(trials)}
        if not created and unfinished == 0 and optimizer.is_done(trials):
            self._finish(session, sweep, children)

    def _finish(self, session: Session, sweep: Run, children: list[Run]) -> None:
        succeeded = sum(1 for child in children if child.status == Status.SUCCEEDED.value)
        if children and succeeded == 0:
            transition(session, sweep, Status.FAILED, reason="all trials failed",
                       message=f"none of the {len(children)} trials succeeded")
        else:
            transition(session, sweep, Status.SUCCEEDED, reason="sweep done",
                       message=f"{succeeded} of {len(children)} trials succeeded")

    def _stop(self, session: Session, sweep: Run, children: list[Run]) -> None:
        for child in children:
            if not is_final(child.status) and child.status != Status.STOPPING.value:
                request_stop(session, child, reason="sweep stopped")
        if all(is_final(child.status) for child in children):
            condition = sweep.conditions[-1] if sweep.conditions else None
            if condition is not None and condition.reason == "optimizer error":
                transition(session, sweep, Status.FAILED, reason="optimizer error",
                           message=condition.message)
            else:
                transition(session, sweep, Status.STOPPED, reason="stopped")
