"""The registry: a project's versions of components, models and artifacts.

As in Polyaxon 2.x, a version has a ``kind`` (``component``, ``model``, ``artifact``) and
a name unique within its project and kind. A model or an artifact version points at the
run it was promoted from and names the entries of that run's lineage it stands for (its
``artifacts``; by default every model, or every artifact, the run logged): promoting
copies nothing, and the version leads back to the run, its inputs, metrics and code. A
component version holds a polyaxonfile.

Each version is at a ``stage`` (``testing`` when made, then ``staging``, ``production``,
``disabled``, in any order a team decides) and keeps the history of its stages: when,
by whom, why.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from polyaxon_core.db.models import Artifact, Project, ProjectVersion, Run, VersionStage
from polyaxon_core.errors import AlreadyExists, InvalidRequest, NotFound

KINDS = ("component", "model", "artifact")
STAGES = ("testing", "staging", "production", "disabled")
#: a version's name: what follows ``:`` in ``owner/project:name``
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,149}$")
#: the lineage kinds a model version stands for by default (an artifact version: any)
MODEL_LINEAGE = ("model",)


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise NotFound(f"{kind!r} is not a kind of version; use one of {', '.join(KINDS)}")
    return kind


def check_stage(stage: str) -> str:
    if stage not in STAGES:
        raise InvalidRequest(f"{stage!r} is not a stage; use one of {', '.join(STAGES)}")
    return stage


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise InvalidRequest(f"{name!r} is not a version name: letters, digits, `.`, `_` and `-`, "
                             "starting with a letter or a digit (e.g. v1.2, 2024-05-01)")
    return name


def list_versions(session: Session, project: Project, kind: str) -> list[ProjectVersion]:
    return list(session.scalars(
        select(ProjectVersion).options(selectinload(ProjectVersion.run),
                                       selectinload(ProjectVersion.stages))
        .where(ProjectVersion.project_id == project.id, ProjectVersion.kind == check_kind(kind))
        .order_by(ProjectVersion.created_at.desc(), ProjectVersion.id.desc())))


def get_version(session: Session, project: Project, kind: str, name: str) -> ProjectVersion:
    found = session.scalar(select(ProjectVersion).where(
        ProjectVersion.project_id == project.id, ProjectVersion.kind == check_kind(kind),
        ProjectVersion.name == name))
    if found is None:
        known = session.scalars(select(ProjectVersion.name).where(
            ProjectVersion.project_id == project.id, ProjectVersion.kind == kind)
            .order_by(ProjectVersion.name).limit(20)).all()
        listed = f"; its {kind} versions: {', '.join(known)}" if known else f"; it has no {kind} version"
        raise NotFound(f"project {project.owner}/{project.name} has no {kind} version {name!r}{listed}")
    return found


def promote(session: Session, run: Run, kind: str, name: str, *, description: str | None = None,
            tags: Sequence[str] = (), artifacts: Sequence[str] | None = None, force: bool = False,
            user_id: int | None = None) -> ProjectVersion:
    """Make (or, with ``force``, move) the ``kind`` version ``name`` of ``run``'s project
    point at ``run`` and the entries ``artifacts`` of its lineage (default: every model of
    it for a model, every entry for an artifact). A name already taken without ``force``
    is an AlreadyExists naming the run it points at."""
    if check_kind(kind) == "component":
        raise InvalidRequest("a component version holds a polyaxonfile, not a run: push it with "
                             "`polyaxon hub push FILE --as OWNER/PROJECT:NAME`")
    check_name(name)
    logged = session.scalars(select(Artifact).where(Artifact.run_id == run.id)).all()
    if artifacts is None:
        chosen = [row.name for row in logged if kind == "artifact" or row.kind in MODEL_LINEAGE]
    else:
        names = {row.name for row in logged}
        unknown = [item for item in artifacts if item not in names]
        if unknown:
            raise InvalidRequest(
                f"run {run.uuid[:12]} logged no {', '.join(repr(item) for item in unknown)} in its "
                f"lineage; it has {', '.join(sorted(names)) or 'nothing'}")
        chosen = list(dict.fromkeys(artifacts))
    if kind == "model" and not chosen:
        raise InvalidRequest(f"run {run.uuid[:12]} logged no model (tracking.log_model); name the "
                             "lineage entries the version stands for with `artifacts`")
    existing = session.scalar(select(ProjectVersion).where(
        ProjectVersion.project_id == run.project_id, ProjectVersion.kind == kind,
        ProjectVersion.name == name).with_for_update())
    if existing is not None and not force:
        target = existing.run.uuid[:12] if existing.run is not None else "no run"
        raise AlreadyExists(f"{kind} version {name!r} exists (it points at {target}); promote with "
                            "force to point it at this run, or choose another name")
    version = existing or ProjectVersion(project_id=run.project_id, kind=kind, name=name,
                                         user_id=user_id)
    version.run_id = run.id
    version.artifacts = chosen
    version.description = description if description is not None else version.description
    version.tags = list(tags) or list(version.tags or [])
    if existing is None:
        session.add(version)
        version.stages.append(VersionStage(stage="testing", reason="promoted", user_id=user_id,
                                           message=f"from run {run.uuid}"))
    else:
        version.stages.append(VersionStage(stage=version.stage, reason="moved", user_id=user_id,
                                           message=f"now points at run {run.uuid}"))
    session.flush()
    return version


def set_stage(session: Session, version: ProjectVersion, stage: str, *, reason: str | None = None,
              message: str | None = None, user_id: int | None = None) -> ProjectVersion:
    """Move ``version`` to ``stage``, recorded in its history (a no-op stage change too,
    when it says why)."""
    version.stage = check_stage(stage)
    version.stages.append(VersionStage(stage=stage, reason=reason or "staged", message=message,
                                       user_id=user_id))
    session.flush()
    return version


def delete_version(session: Session, version: ProjectVersion) -> None:
    session.delete(version)


def version_document(version: ProjectVersion) -> dict[str, Any]:
    """What the API, the CLI and the SDK show of a version."""
    run = version.run
    return {
        "uuid": version.uuid,
        "kind": version.kind,
        "name": version.name,
        "description": version.description,
        "tags": list(version.tags or []),
        "run": run.uuid if run is not None else None,
        "artifacts": list(version.artifacts or []),
        "content": version.content,
        "stage": version.stage,
        "stage_conditions": [
            {"stage": entry.stage, "reason": entry.reason, "message": entry.message,
             "user": entry.user.username if entry.user is not None else None,
             "last_transition_time": entry.created_at}
            for entry in version.stages],
        "user": version.user.username if version.user is not None else None,
        "created_at": version.created_at,
        "updated_at": version.updated_at,
    }


def push_component(session: Session, project: Project, name: str, content: str, *,
                   description: str | None = None, tags: Sequence[str] = (), force: bool = False,
                   user_id: int | None = None) -> ProjectVersion:
    """Keep ``content``, a component's polyaxonfile (checked as ``polyaxon check`` would:
    a PolyaxonfileError names each problem), as the component version ``name``."""
    from polyaxon_core.spec.compiler import compile_source
    from polyaxon_core.spec.loader import parse_text

    check_name(name)
    source = parse_text(content, f"{project.name}:{name}")
    loaded = source.data
    if not isinstance(loaded, dict) or loaded.get("kind") != "component":
        raise InvalidRequest("a component version is a polyaxonfile of `kind: component`")
    compile_source(source, require_inputs=False)  # inputs are for whoever runs it
    existing = session.scalar(select(ProjectVersion).where(
        ProjectVersion.project_id == project.id, ProjectVersion.kind == "component",
        ProjectVersion.name == name).with_for_update())
    if existing is not None and not force:
        raise AlreadyExists(f"component version {project.owner}/{project.name}:{name} exists; push "
                            "it with force to replace it, or choose another version")
    version = existing or ProjectVersion(project_id=project.id, kind="component", name=name,
                                         user_id=user_id)
    version.content = content
    version.description = description if description is not None else (
        version.description or loaded.get("description"))
    version.tags = list(tags) or list(version.tags or loaded.get("tags") or [])
    if existing is None:
        session.add(version)
        version.stages.append(VersionStage(stage="testing", reason="pushed", user_id=user_id))
    else:
        version.stages.append(VersionStage(stage=version.stage, reason="replaced", user_id=user_id))
    session.flush()
    return version
