"""Teams (Polyaxon's concept): named groups of an organization's users, given a role on
projects as one. A member's role on a project is the highest of their own and their
teams' (see :func:`polyaxon_core.accounts.authenticated`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from polyaxon_core.accounts import get_user
from polyaxon_core.db.models import Project, Team, TeamMember, TeamProject, User
from polyaxon_core.domain.projects import DEFAULT_OWNER, validate_slug
from polyaxon_core.errors import AlreadyExists, InvalidRequest, NotFound
from polyaxon_core.permissions import PROJECT_ROLES


@dataclass(frozen=True)
class TeamInfo:
    name: str
    description: str | None
    members: tuple[str, ...]
    #: ``project name -> role`` of the projects the team was given a role on
    projects: dict[str, str]
    created_at: datetime


def create_team(session: Session, name: str, description: str | None = None,
                owner: str = DEFAULT_OWNER) -> Team:
    validate_slug("team", name)
    if session.scalar(select(Team.id).where(Team.owner == owner, Team.name == name)):
        raise AlreadyExists(f"team '{name}' already exists")
    team = Team(owner=owner, name=name, description=description)
    session.add(team)
    session.flush()
    return team


def get_team(session: Session, name: str, owner: str = DEFAULT_OWNER) -> Team:
    team = session.scalar(select(Team).where(Team.owner == owner, Team.name == name))
    if team is None:
        raise NotFound(f"no team named '{name}'; `polyaxon teams ls` lists them")
    return team


def list_teams(session: Session, owner: str = DEFAULT_OWNER) -> list[Team]:
    return list(session.scalars(select(Team).where(Team.owner == owner).order_by(Team.name)))


def describe_team(session: Session, team: Team) -> TeamInfo:
    members = session.scalars(
        select(User.username).join(TeamMember, TeamMember.user_id == User.id)
        .where(TeamMember.team_id == team.id).order_by(User.username))
    projects = session.execute(
        select(Project.name, TeamProject.role).join(TeamProject, TeamProject.project_id == Project.id)
        .where(TeamProject.team_id == team.id).order_by(Project.name))
    return TeamInfo(team.name, team.description, tuple(members),
                    {name: role for name, role in projects}, team.created_at)


def delete_team(session: Session, team: Team) -> None:
    """Delete ``team``: its members keep their own roles, lose what the team gave them."""
    session.delete(team)


def set_team_member(session: Session, team: Team, username: str, member: bool) -> bool:
    """Add ``username`` to ``team`` or remove them; whether anything changed."""
    user = get_user(session, username)
    row = session.scalar(select(TeamMember).where(TeamMember.team_id == team.id,
                                                  TeamMember.user_id == user.id))
    if member and row is None:
        session.add(TeamMember(team_id=team.id, user_id=user.id))
        return True
    if not member and row is not None:
        session.delete(row)
        return True
    if not member:
        raise NotFound(f"{username} is not a member of team '{team.name}'")
    return False


def team_role(session: Session, team: Team, project: Project) -> str | None:
    return session.scalar(select(TeamProject.role).where(TeamProject.team_id == team.id,
                                                         TeamProject.project_id == project.id))


def set_team_role(session: Session, team: Team, project: Project, role: str | None) -> str | None:
    """Give ``team`` ``role`` on ``project`` (None removes it); returns the role before."""
    if role is not None and role not in PROJECT_ROLES:
        raise InvalidRequest(f"unknown project role {role!r}; use one of {', '.join(PROJECT_ROLES)}")
    row = session.scalar(select(TeamProject).where(TeamProject.team_id == team.id,
                                                   TeamProject.project_id == project.id))
    before = row.role if row is not None else None
    if role is None:
        if row is None:
            raise NotFound(f"team '{team.name}' has no role on project {project.owner}/{project.name}")
        session.delete(row)
    elif row is None:
        session.add(TeamProject(team_id=team.id, project_id=project.id, role=role))
    else:
        row.role = role
    return before


def project_teams(session: Session, project: Project) -> list[tuple[str, str]]:
    """``(team, role)`` of every team given a role on ``project``, by team name."""
    return [(name, role) for name, role in session.execute(
        select(Team.name, TeamProject.role).join(TeamProject, TeamProject.team_id == Team.id)
        .where(TeamProject.project_id == project.id).order_by(Team.name))]
