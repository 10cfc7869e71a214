"""Team endpoints: teams of the organization and their members, and teams' roles on
projects.

Creating, changing and deleting teams and their members needs the right to manage the
organization's members. Giving a team a role on a project needs the right to manage the
project's members, and follows the roles' hierarchy as for a single member; adding a user
to a team follows it for every role the team has.
"""

from __future__ import annotations

from typing import Any

from polyaxon_core.api.audit import audit_request
from polyaxon_core.api.common import Answer, PageQuery, check_owner, dump, load_body, load_query, page
from polyaxon_core.api.extensions import server
from polyaxon_core.api.projects.api import require_role_at_or_below_yours
from polyaxon_core.api.routing import Reply, Route
from polyaxon_core.api.security import project_resource
from polyaxon_core.api.teams.schemas import (
    ProjectTeamCreateSchema,
    ProjectTeamListSchema,
    ProjectTeamSchema,
    TeamCreateSchema,
    TeamListSchema,
    TeamMemberSchema,
    TeamSchema,
    TeamUpdateSchema,
)
from polyaxon_core.domain import teams
from polyaxon_core.domain.projects import get_project
from polyaxon_core.permissions import ORG_MEMBERS, PROJECT_MEMBERS, PROJECT_READ


def _team_payload(info: teams.TeamInfo) -> dict[str, Any]:
    payload = dump(TeamSchema, info)
    return payload


def teams_list(owner: str) -> Answer:
    """List the organization's teams with their members and projects."""
    check_owner(owner)
    arguments = load_query(PageQuery)
    offset, limit = arguments["offset"], arguments["limit"]
    with server.session() as session:
        rows = teams.list_teams(session, owner)
        results = [_team_payload(teams.describe_team(session, team))
                   for team in rows[offset:offset + limit]]
    return page(results, len(rows), offset, limit), 200


def team_create(owner: str) -> Answer:
    """Create a team."""
    check_owner(owner)
    body = load_body(TeamCreateSchema)
    with server.session() as session:
        team = teams.create_team(session, body["name"], body["description"], owner)
        audit_request(session, "team.created", f"team:{owner}/{team.name}")
        return _team_payload(teams.describe_team(session, team)), 201


def team_get(owner: str, team: str) -> Answer:
    """Read a team."""
    check_owner(owner)
    with server.session() as session:
        return _team_payload(teams.describe_team(session, teams.get_team(session, team, owner))), 200


def team_update(owner: str, team: str) -> Answer:
    """Change a team's description."""
    check_owner(owner)
    body = load_body(TeamUpdateSchema)
    with server.session() as session:
        row = teams.get_team(session, team, owner)
        if "description" in body:
            row.description = body["description"]
        return _team_payload(teams.describe_team(session, row)), 200


def team_delete(owner: str, team: str) -> Answer:
    """Delete a team: its members keep their own roles and lose what the team gave them."""
    check_owner(owner)
    with server.session() as session:
        row = teams.get_team(session, team, owner)
        info = teams.describe_team(session, row)
        teams.delete_team(session, row)
        audit_request(session, "team.deleted", f"team:{owner}/{team}",
                      members=list(info.members), projects=info.projects)
    return "", 204


def _require_every_team_role(owner: str, info: teams.TeamInfo, what: str) -> None:
    for project, role in info.projects.items():
        require_role_at_or_below_yours(role, project_resource(owner, project), what)


def team_member_add(owner: str, team: str) -> Answer:
    """Add a user to a team: they get the team's role on each of its projects."""
    check_owner(owner)
    body = load_body(TeamMemberSchema)
    with server.session() as session:
        row = teams.get_team(session, team, owner)
        info = teams.describe_team(session, row)
        _require_every_team_role(owner, info, f"add {body['user']} to team {team}")
        added = teams.set_team_member(session, row, body["user"], True)
        if added:
            audit_request(session, "team.member_changed", f"team:{owner}/{team}",
                          user=body["user"], member=True)
        session.flush()
        return _team_payload(teams.describe_team(session, row)), 201 if added else 200


def team_member_remove(owner: str, team: str, username: str) -> Answer:
    """Remove a user from a team."""
    check_owner(owner)
    with server.session() as session:
        row = teams.get_team(session, team, owner)
        info = teams.describe_team(session, row)
        _require_every_team_role(owner, info, f"remove {username} from team {team}")
        teams.set_team_member(session, row, username, False)
        audit_request(session, "team.member_changed", f"team:{owner}/{team}", user=username,
                      member=False)
    return "", 204


def project_teams_list(owner: str, project: str) -> Answer:
    """List the teams given a role on a project."""
    check_owner(owner)
    arguments = load_query(PageQuery)
    offset, limit = arguments["offset"], arguments["limit"]
    with server.session() as session:
        rows = teams.project_teams(session, get_project(session, project, owner))
    results = [dump(ProjectTeamSchema, {"team": name, "role": role})
               for name, role in rows[offset:offset + limit]]
    return page(results, len(rows), offset, limit), 200


def project_team_set(owner: str, project: str) -> Answer:
    """Give a team a role on a project, or change it (the roles' hierarchy applies)."""
    check_owner(owner)
    body = load_body(ProjectTeamCreateSchema)
    resource = project_resource(owner, project)
    require_role_at_or_below_yours(body["role"], resource, f"give the role {body['role']!r}")
    with server.session() as session:
        row = get_project(session, project, owner)
        team = teams.get_team(session, body["team"], owner)
        before = teams.team_role(session, team, row)
        if before is not None:
            require_role_at_or_below_yours(before, resource, f"change the role of team {team.name}")
        teams.set_team_role(session, team, row, body["role"])
        audit_request(session, "team.project_changed", f"project:{owner}/{project}",
                      team=team.name, role_before=before, role_after=body["role"])
    payload = dump(ProjectTeamSchema, {"team": team.name, "role": body["role"]})
    return payload, 201 if before is None else 200


def project_team_remove(owner: str, project: str, team: str) -> Answer:
    """Take a team's role on a project away."""
    check_owner(owner)
    resource = project_resource(owner, project)
    with server.session() as session:
        row = get_project(session, project, owner)
        found = teams.get_team(session, team, owner)
        before = teams.team_role(session, found, row)
        if before is not None:
            require_role_at_or_below_yours(before, resource, f"remove team {team}")
        teams.set_team_role(session, found, row, None)
        audit_request(session, "team.project_changed", f"project:{owner}/{project}",
                      team=team, role_before=before, role_after=None)
    return "", 204


_TEAM = Reply("the team", TeamSchema)

ROUTES = [
    Route("GET", "/orgs/<owner>/teams", teams_list, PROJECT_READ, "teams",
          {200: Reply("a page of the organization's teams", TeamListSchema)}, query=PageQuery),
    Route("POST", "/orgs/<owner>/teams", team_create, ORG_MEMBERS, "teams",
          {201: Reply("the new team", TeamSchema)}, body=TeamCreateSchema, errors=(409,)),
    Route("GET", "/orgs/<owner>/teams/<team>", team_get, PROJECT_READ, "teams", {200: _TEAM}),
    Route("PATCH", "/orgs/<owner>/teams/<team>", team_update, ORG_MEMBERS, "teams",
          {200: _TEAM}, body=TeamUpdateSchema),
    Route("DELETE", "/orgs/<owner>/teams/<team>", team_delete, ORG_MEMBERS, "teams",
          {204: Reply("deleted")}),
    Route("POST", "/orgs/<owner>/teams/<team>/members", team_member_add, ORG_MEMBERS, "teams",
          {200: Reply("already a member", TeamSchema), 201: Reply("added", TeamSchema)},
          body=TeamMemberSchema),
    Route("DELETE", "/orgs/<owner>/teams/<team>/members/<username>", team_member_remove,
          ORG_MEMBERS, "teams", {204: Reply("removed")}),
    Route("GET", "/<owner>/<project>/teams", project_teams_list, PROJECT_READ, "teams",
          {200: Reply("a page of the project's teams", ProjectTeamListSchema)}, query=PageQuery),
    Route("POST", "/<owner>/<project>/teams", project_team_set, PROJECT_MEMBERS, "teams",
          {200: Reply("the team's new role", ProjectTeamSchema),
           201: Reply("the team's role", ProjectTeamSchema)}, body=ProjectTeamCreateSchema),
    Route("DELETE", "/<owner>/<project>/teams/<team>", project_team_remove, PROJECT_MEMBERS,
          "teams", {204: Reply("removed")}),
]
