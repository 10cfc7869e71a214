"""Project endpoints: list, create, read, change, delete; add and remove members."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from polyaxon_core import accounts
from polyaxon_core.api.audit import audit_request
from polyaxon_core.api.common import Answer, PageQuery, check_owner, dump, load_body, load_query, page
from polyaxon_core.api.errors import PermissionDenied
from polyaxon_core.api.extensions import server
from polyaxon_core.api.projects.schemas import (
    MemberCreateSchema,
    MemberListSchema,
    MemberSchema,
    ProjectCreateSchema,
    ProjectListSchema,
    ProjectSchema,
    ProjectUpdateSchema,
)
from polyaxon_core.api.routing import AUTHENTICATED, Reply, Route
from polyaxon_core.api.security import current_user, describe, is_allowed, project_resource
from polyaxon_core.db.models import Project, ProjectMember, User
from polyaxon_core.domain.artifacts import discard_run_files
from polyaxon_core.domain.projects import (
    create_project,
    delete_project,
    get_project,
    list_projects,
    update_project,
)
from polyaxon_core.errors import NotFound
from polyaxon_core.permissions import (
    PROJECT_CREATE,
    PROJECT_DELETE,
    PROJECT_MEMBERS,
    PROJECT_READ,
    PROJECT_ROLES,
    PROJECT_UPDATE,
)


def _role_of(user: Any, project: Project) -> str | None:
    if isinstance(user, accounts.AuthenticatedUser):
        return user.project_role(project.owner, project.name)
    return None


def project_payload(project: Project, user: Any, role: str | None = None) -> dict[str, Any]:
    payload = dump(ProjectSchema, {
        "uuid": project.uuid, "owner": project.owner, "name": project.name,
        "description": project.description, "tags": list(project.tags or []),
        "created_at": project.created_at, "updated_at": project.updated_at,
        "role": role or _role_of(user, project),
        "settings": {"queue": project.queue, "notifications": list(project.notifications or [])},
    })
    return payload


def projects_list(owner: str) -> Answer:
    """List the projects you can see.

    Users with a role in the organization see every project; outsiders see the
    projects they were added to.
    """
    check_owner(owner)
    arguments = load_query(PageQuery)
    offset, limit = arguments["offset"], arguments["limit"]
    user = current_user()
    with server.session() as session:
        visible = [project for project in list_projects(session, owner)
                   if is_allowed(user, PROJECT_READ, project_resource(owner, project.name))]
        results = [project_payload(project, user) for project in visible[offset:offset + limit]]
    return page(results, len(visible), offset, limit), 200


def project_create(owner: str) -> Answer:
    """Create a project; its creator becomes its owner."""
    check_owner(owner)
    body = load_body(ProjectCreateSchema)
    user = current_user()
    with server.session() as session:
        project = create_project(session, body["name"], owner=owner,
                                      description=body["description"], tags=body["tags"] or ())
        role = None
        if isinstance(user, accounts.AuthenticatedUser) and user.id is not None:
            creator = session.get(User, user.id)
            if creator is not None:
                accounts.set_project_role(session, project, creator, "owner")
                role = "owner"
        return project_payload(project, user, role), 201


def project_get(owner: str, project: str) -> Answer:
    """Read a project."""
    check_owner(owner)
    with server.session() as session:
        return project_payload(get_project(session, project, owner), current_user()), 200


def project_update(owner: str, project: str) -> Answer:
    """Rename a project, or change its description, tags or settings (`settings.queue`:
    where its runs go when their polyaxonfile names no queue, null: `default`;
    `settings.notifications`: what all its runs notify, `[{connection, trigger}]`)."""
    check_owner(owner)
    body = load_body(ProjectUpdateSchema)
    settings = body.get("settings") or {}
    queue = (settings["queue"] or "") if "queue" in settings else None
    with server.session() as session:
        row = update_project(session, get_project(session, project, owner),
                             name=body.get("name"), description=body.get("description"),
                             tags=body.get("tags"), queue=queue,
                             notifications=settings.get("notifications"))
        return project_payload(row, current_user()), 200


def project_delete(owner: str, project: str) -> Answer:
    """Delete a project with its runs, their logs and artifacts.

    Refused (409) while the project has unfinished runs.
    """
    check_owner(owner)
    with server.session() as session:
        uuids = delete_project(session, get_project(session, project, owner))
        audit_request(session, "project.deleted", f"project:{owner}/{project}", runs=len(uuids))
    discard_run_files(server.settings, server.store, uuids)
    return "", 204


def _member_payload(member: ProjectMember, username: str) -> dict[str, Any]:
    payload = dump(MemberSchema,
                   {"user": username, "role": member.role, "created_at": member.created_at})
    return payload


def project_members_list(owner: str, project: str) -> Answer:
    """List the users added to a project, with their roles."""
    check_owner(owner)
    arguments = load_query(PageQuery)
    offset, limit = arguments["offset"], arguments["limit"]
    with server.session() as session:
        row = get_project(session, project, owner)
        members = session.execute(
            select(ProjectMember, User.username).join(User, User.id == ProjectMember.user_id)
            .where(ProjectMember.project_id == row.id).order_by(User.username)
        ).all()
        results = [_member_payload(member, username) for member, username in members]
    return page(results[offset:offset + limit], len(results), offset, limit), 200


def require_role_at_or_below_yours(role: str, resource: dict[str, Any], what: str) -> None:
    """PermissionDenied unless you may do everything ``role`` allows on the project: the
    roles' hierarchy. Asked of each action, so that authorization plugins decide."""
    user = current_user()
    missing = [action for action in sorted(PROJECT_ROLES[role])
               if not is_allowed(user, action, resource)]
    if missing:
        raise PermissionDenied(f"{user.username} may not {what}: the role {role!r} allows "
                               f"{', '.join(missing)}, which you may not do on {describe(resource)}")


def project_member_add(owner: str, project: str) -> Answer:
    """Add a user to a project with a role, or change their role.

    The roles have a hierarchy: nobody gives a role above their own, or changes the role
    of a member above them (a role is above yours when it allows an action you may not
    do on this project). The last owner cannot be demoted (409).
    """
    check_owner(owner)
    body = load_body(MemberCreateSchema)
    resource = project_resource(owner, project)
    require_role_at_or_below_yours(body["role"], resource, f"give the role {body['role']!r}")
    with server.session() as session:
        row = get_project(session, project, owner)
        user = accounts.get_user(session, body["user"])
        before = accounts.project_role(session, user.id, row)
        if before is not None:
            require_role_at_or_below_yours(before, resource, f"change the role of {user.username}")
        accounts.set_project_role(session, row, user, body["role"])
        audit_request(session, "project.member_changed", f"project:{owner}/{project}",
                      user=user.username, role_before=before, role_after=body["role"])
        session.flush()
        member = session.scalars(select(ProjectMember).where(
            ProjectMember.project_id == row.id, ProjectMember.user_id == user.id)).one()
        return _member_payload(member, user.username), 201 if before is None else 200


def project_member_remove(owner: str, project: str, user: str) -> Answer:
    """Remove a user from a project: not one above you, nor its last owner (409)."""
    check_owner(owner)
    resource = project_resource(owner, project)
    with server.session() as session:
        row = get_project(session, project, owner)
        member = accounts.get_user(session, user)
        before = accounts.project_role(session, member.id, row)
        if before is None:
            raise NotFound(f"{user} is not a member of project {owner}/{project}")
        require_role_at_or_below_yours(before, resource, f"remove {user}")
        accounts.set_project_role(session, row, member, None)
        audit_request(session, "project.member_changed", f"project:{owner}/{project}",
                      user=member.username, role_before=before, role_after=None)
    return "", 204


_PROJECT = Reply("the project", ProjectSchema)
_DELETED = Reply("deleted")

ROUTES = [
    Route("GET", "/<owner>/projects/list", projects_list, AUTHENTICATED, "projects",
          {200: Reply("a page of the projects you can see", ProjectListSchema)}, query=PageQuery),
    Route("POST", "/<owner>/projects/create", project_create, PROJECT_CREATE, "projects",
          {201: Reply("the new project", ProjectSchema)}, body=ProjectCreateSchema, errors=(409,)),
    Route("GET", "/<owner>/<project>", project_get, PROJECT_READ, "projects", {200: _PROJECT}),
    Route("PATCH", "/<owner>/<project>", project_update, PROJECT_UPDATE, "projects",
          {200: _PROJECT}, body=ProjectUpdateSchema, errors=(409, 422)),
    Route("DELETE", "/<owner>/<project>", project_delete, PROJECT_DELETE, "projects",
          {204: _DELETED}, errors=(409,)),
    Route("GET", "/<owner>/<project>/members", project_members_list, PROJECT_READ, "projects",
          {200: Reply("a page of the project's members", MemberListSchema)}, query=PageQuery),
    Route("POST", "/<owner>/<project>/members", project_member_add, PROJECT_MEMBERS, "projects",
          {200: Reply("the member's new role", MemberSchema),
           201: Reply("the new member", MemberSchema)}, body=MemberCreateSchema, errors=(409,)),
    Route("DELETE", "/<owner>/<project>/members/<user>", project_member_remove, PROJECT_MEMBERS,
          "projects", {204: Reply("removed")}, errors=(409,)),
]
