"""Rows to entities: the only place where ORM objects become what plugins see."""

from __future__ import annotations

from polyaxon_core.db.models import Project, Run
from polyaxon_core.entities import ProjectEntity, RunEntity


def project_to_entity(project: Project) -> ProjectEntity:
    return ProjectEntity(
        uuid=project.uuid,
        owner=project.owner,
        name=project.name,
        description=project.description,
        tags=tuple(project.tags or ()),
        created_at=project.created_at,
    )


def run_to_entity(run: Run) -> RunEntity:
    return RunEntity(
        uuid=run.uuid,
        project=run.project.name,
        owner=run.project.owner,
        name=run.name,
        kind=run.kind,
        runtime=run.runtime,
        status=run.status,
        inputs=dict(run.inputs or {}),
        outputs=dict(run.outputs or {}),
        tags=tuple(run.tags or ()),
        meta_info=dict(run.meta_info or {}),
        pipeline=run.pipeline.uuid if run.pipeline is not None else None,
        original=run.original.uuid if run.original is not None else None,
        cloning_kind=run.cloning_kind,
        queue=run.queue,
        retries=run.retries,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
    )
