"""The registry's endpoints: a project's versions of components, models and artifacts
(Polyaxon 2.x's project versions, ``/{owner}/{project}/versions/{kind}``).

Whoever may read a project reads its versions. Members (``run.update``) promote runs to
model and artifact versions, push component versions, change descriptions and move
stages; ``run.delete`` deletes a version (never the run). A run's token promotes its own
run (``/runs/{uuid}/promote``), as ``tracking.promote_to_model_version`` does.

The component versions are also the server's component hub, in the layout of a hub served
over HTTP (``/{owner}/hub/index.json``, ``/{owner}/hub/{owner}/{project}/{version}.yaml``):
``POLYAXON_HUBS=http://server/api/v1/default/hub`` resolves ``hubRef: default/train:1.0``
from the project ``train``'s component version ``1.0``.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from sqlalchemy import select

from polyaxon_core.api.common import Answer, PageQuery, check_owner, dump, load_body, load_query, page
from polyaxon_core.api.extensions import server
from polyaxon_core.api.routing import AUTHENTICATED, Reply, Route
from polyaxon_core.api.runs.api import find_run
from polyaxon_core.api.security import (
    current_user,
    current_user_id,
    is_allowed,
    project_resource,
    within_run_scope,
)
from polyaxon_core.api.versions.schemas import (
    HubIndexSchema,
    PromoteSchema,
    StageSchema,
    VersionCreateSchema,
    VersionListSchema,
    VersionSchema,
    VersionUpdateSchema,
)
from polyaxon_core.db.models import Project, ProjectVersion
from polyaxon_core.domain import versions
from polyaxon_core.domain.projects import get_project
from polyaxon_core.errors import InvalidRequest, NotFound
from polyaxon_core.permissions import PROJECT_READ, RUN_DELETE, RUN_UPDATE


def _payload(version: Any) -> dict[str, Any]:
    payload: dict[str, Any] = dump(VersionSchema, versions.version_document(version))
    return payload


def versions_list(owner: str, project: str, kind: str) -> Answer:
    """List a project's versions of a kind (component, model, artifact), newest first."""
    check_owner(owner)
    arguments = load_query(PageQuery)
    offset, limit = arguments["offset"], arguments["limit"]
    with server.session() as session:
        rows = versions.list_versions(session, get_project(session, project, owner), kind)
        return page([_payload(row) for row in rows[offset:offset + limit]], len(rows), offset, limit), 200


def version_create(owner: str, project: str, kind: str) -> Answer:
    """Make a version: a model or an artifact from a run (``run``, and the entries of its
    lineage in ``artifacts``), a component from a polyaxonfile (``content``)."""
    check_owner(owner)
    body = load_body(VersionCreateSchema)
    versions.check_kind(kind)
    with server.session() as session:
        found = get_project(session, project, owner)
        if kind == "component":
            if not body["content"]:
                raise InvalidRequest("a component version needs `content`: its polyaxonfile")
            row = versions.push_component(session, found, body["name"], body["content"],
                                          description=body["description"], tags=body.get("tags") or (),
                                          force=body["force"], user_id=current_user_id())
        else:
            if not body["run"]:
                raise InvalidRequest(f"a {kind} version points at a run: give `run`, its uuid")
            run = find_run(session, owner, project, body["run"])
            row = versions.promote(session, run, kind, body["name"], description=body["description"],
                                   tags=body.get("tags") or (), artifacts=body["artifacts"],
                                   force=body["force"], user_id=current_user_id())
        return _payload(row), 201


def version_get(owner: str, project: str, kind: str, name: str) -> Answer:
    """Read a version, with its stage history."""
    check_owner(owner)
    with server.session() as session:
        return _payload(versions.get_version(session, get_project(session, project, owner), kind, name)), 200


def version_update(owner: str, project: str, kind: str, name: str) -> Answer:
    """Change a version's description or tags."""
    check_owner(owner)
    body = load_body(VersionUpdateSchema)
    with server.session() as session:
        row = versions.get_version(session, get_project(session, project, owner), kind, name)
        for key, value in body.items():
            setattr(row, key, value)
        session.flush()
        return _payload(row), 200


def version_delete(owner: str, project: str, kind: str, name: str) -> Answer:
    """Delete a version (its run and artifacts stay)."""
    check_owner(owner)
    with server.session() as session:
        versions.delete_version(session, versions.get_version(
            session, get_project(session, project, owner), kind, name))
    return "", 204


def version_stage(owner: str, project: str, kind: str, name: str) -> Answer:
    """Move a version to a stage (testing, staging, production, disabled), with why."""
    check_owner(owner)
    body = load_body(StageSchema)
    with server.session() as session:
        row = versions.get_version(session, get_project(session, project, owner), kind, name)
        versions.set_stage(session, row, body["stage"], reason=body["reason"], message=body["message"],
                           user_id=current_user_id())
        return _payload(row), 200


def run_promote(owner: str, project: str, uuid: str) -> Answer:
    """Promote a run to a model (or artifact) version of its project: the version points at
    the run and the entries of its lineage it names (default: its models)."""
    check_owner(owner)
    body = load_body(PromoteSchema)
    with server.session() as session:
        run = find_run(session, owner, project, uuid)
        row = versions.promote(session, run, body["kind"], body["name"], description=body["description"],
                               tags=body.get("tags") or (), artifacts=body["artifacts"],
                               force=body["force"], user_id=current_user_id())
        return _payload(row), 201


def hub_index(owner: str) -> Answer:
    """The server's component hub, as ``index.json`` of a hub served over HTTP: the
    projects of ``owner`` you may read that have component versions, each a component
    ``owner/project`` with its versions (``POLYAXON_HUBS=<server>/api/v1/<owner>/hub``)."""
    check_owner(owner)
    user = current_user()
    listed = []
    with server.session() as session:
        rows = session.execute(
            select(Project.name, ProjectVersion.description, ProjectVersion.name)
            .join(ProjectVersion, ProjectVersion.project_id == Project.id)
            .where(Project.owner == owner, ProjectVersion.kind == "component")
            .order_by(Project.name, ProjectVersion.created_at)).all()
    found: dict[str, tuple[str | None, list[str]]] = {}
    for name, description, version in rows:  # the newest version's description
        found[name] = (description, [*found.get(name, (None, []))[1], version])
    for name, (description, names) in found.items():
        if within_run_scope(user, PROJECT_READ, project_resource(owner, name)) and is_allowed(
                user, PROJECT_READ, project_resource(owner, name)):
            listed.append({"owner": owner, "name": name, "versions": names,
                           "description": description or ""})
    return {"components": listed}, 200


def hub_component(owner: str, component_owner: str, project: str, version: str) -> Response:
    """A component version's polyaxonfile, as a hub served over HTTP has it
    (``<owner>/<name>/<version>.yaml``)."""
    check_owner(owner)
    if component_owner != owner or not version.endswith(".yaml"):
        raise NotFound(f"this hub serves {owner}/<name>/<version>.yaml")
    with server.session() as session:
        row = versions.get_version(session, get_project(session, project, owner), "component",
                                   version[:-len(".yaml")])
        content = row.content or ""
    return Response(content, mimetype="application/yaml")


_VERSION = Reply("the version", VersionSchema)
VERSIONS_PATH = "/<owner>/<project>/versions/<kind>"
VERSION_PATH = f"{VERSIONS_PATH}/<name>"

ROUTES = [
    Route("GET", VERSIONS_PATH, versions_list, PROJECT_READ, "versions",
          {200: Reply("a page of the project's versions of that kind", VersionListSchema)},
          query=PageQuery),
    Route("POST", VERSIONS_PATH, version_create, RUN_UPDATE, "versions",
          {201: Reply("the new version", VersionSchema)}, body=VersionCreateSchema, errors=(409, 422)),
    Route("GET", VERSION_PATH, version_get, PROJECT_READ, "versions", {200: _VERSION}),
    Route("PATCH", VERSION_PATH, version_update, RUN_UPDATE, "versions", {200: _VERSION},
          body=VersionUpdateSchema),
    Route("DELETE", VERSION_PATH, version_delete, RUN_DELETE, "versions", {204: Reply("deleted")}),
    Route("POST", f"{VERSION_PATH}/stages", version_stage, RUN_UPDATE, "versions", {200: _VERSION},
          body=StageSchema),
    Route("POST", "/<owner>/<project>/runs/<uuid>/promote", run_promote, RUN_UPDATE, "versions",
          {201: Reply("the version", VersionSchema)}, body=PromoteSchema, errors=(409,)),
    Route("GET", "/<owner>/hub/index.json", hub_index, AUTHENTICATED, "hub",
          {200: Reply("the components of the hub and their versions", HubIndexSchema)}),
    Route("GET", "/<owner>/hub/<component_owner>/<project>/<version>", hub_component, PROJECT_READ,
          "hub", {200: Reply("the component's polyaxonfile", content_type="application/yaml")}),
]
