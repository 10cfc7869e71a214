"""A small, fixed population of runs to query.

Labels name the runs in tests; each run's uuid is its label's letter repeated, so
expectations stay readable. The values are chosen to trip type confusion: ``inputs.lr``
is a number, a numeric-looking string and an object across runs, ``metrics.loss`` is a
string on one run, ``inputs.use_gpu`` is a boolean on two runs and the string "true" on
another.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from polyaxon_core.db.models import Project, Run
from polyaxon_core.db.session import session_scope
from polyaxon_core.query import Query, SortKey, apply_query, apply_sort

UUIDS = {
    "sweep": "a" * 32,
    "resnet": "b" * 32,
    "vgg": "c" * 32,
    "eval": "d" * 32,
    "notebook": "e" * 32,
}
LABELS = {uuid: label for label, uuid in UUIDS.items()}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _runs(project_id: int) -> Iterator[Run]:
    """The runs in label order; the caller flushes each before the next is made."""
    sweep = Run(
        uuid=UUIDS["sweep"], project_id=project_id, name="sweep", description="grid over lr",
        kind="dag", runtime="dag", status="running", queue="gpu", tags=["sweep"],
        created_at=at("2024-01-05 10:00:00"), started_at=at("2024-01-05 10:01:00"),
    )
    yield sweep
    resnet = Run(
        uuid=UUIDS["resnet"], project_id=project_id, name="train-resnet", kind="job",
        runtime="job", status="succeeded", queue="gpu", pipeline_id=sweep.id,
        tags=["vision", "baseline"],
        inputs={"lr": 0.01, "optimizer": "adam", "epochs": 10, "use_gpu": True},
        outputs={"model": "resnet50", "size": 98},
        last_metrics={"loss": 0.05, "accuracy": 0.97},
        created_at=at("2024-01-10 09:30:00"), started_at=at("2024-01-10 09:31:00"),
        finished_at=at("2024-01-10 10:31:00"), duration=3600.0, wait_time=60.0,
    )
    yield resnet
    vgg = Run(
        uuid=UUIDS["vgg"], project_id=project_id, name="train-vgg", kind="job", runtime="job",
        status="failed", queue="cpu", pipeline_id=sweep.id, tags=["vision"],
        inputs={"lr": 0.1, "optimizer": "sgd", "epochs": "10", "use_gpu": False},
        last_metrics={"loss": 0.4, "accuracy": 0.5},
        created_at=at("2024-01-31 23:59:59"), started_at=at("2024-02-01 00:00:30"),
        finished_at=at("2024-02-01 00:02:30"), duration=120.0, wait_time=31.0,
    )
    yield vgg
    evaluation = Run(
        uuid=UUIDS["eval"], project_id=project_id, name="Eval-ResNet", kind="job",
        status="queued", original_id=resnet.id, cloning_kind="copy", tags=[],
        inputs={"lr": "0.01", "optimizer": None, "model": "resnet50"},
        last_metrics={"accuracy": 1},
        created_at=at("2024-02-01 00:00:00"),
    )
    yield evaluation
    notebook = Run(
        uuid=UUIDS["notebook"], project_id=project_id, name=None, kind="service",
        runtime="service", status="running", tags=["dev", "vision-old"],
        inputs={"lr": {"nested": 1}, "use_gpu": "true"},
        last_metrics={"loss": "n/a"},
        created_at=at("2024-02-15 12:00:00"), started_at=at("2024-02-15 12:05:00"),
    )
    yield notebook


@dataclass(frozen=True)
class Population:
    """The database holding the runs, and helpers returning labels instead of uuids."""

    url: str

    @classmethod
    def insert(cls, url: str) -> Population:
        """The runs above, inserted in label order (so their ids follow that order)."""
        with session_scope(url) as session:
            project = Project(name="query-language")
            session.add(project)
            session.flush()
            for run in _runs(project.id):
                session.add(run)
                session.flush()
        return cls(url)

    def matching(self, query: Query | str) -> set[str]:
        with session_scope(self.url) as session:
            uuids = session.scalars(apply_query(select(Run.uuid), query)).all()
        return {LABELS[uuid] for uuid in uuids}

    def ordered(self, sort: str | Iterable[SortKey], query: str | None = None) -> list[str]:
        statement: Any = select(Run.uuid)
        if query is not None:
            statement = apply_query(statement, query)
        statement = apply_sort(statement, sort if isinstance(sort, str) else tuple(sort))
        with session_scope(self.url) as session:
            return [LABELS[uuid] for uuid in session.scalars(statement).all()]
