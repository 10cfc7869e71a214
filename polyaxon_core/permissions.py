"""Who may do what, as data: roles are sets of actions.

A user's allowed actions on a project are the union of what their organization role
grants everywhere and what their role on that project grants there; their role on a
project is the highest of the one they were given and those of the teams they belong to.
A user with no organization role (an *outsider*) sees only the projects they or their
teams were added to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

PROJECT_READ = "project.read"
PROJECT_CREATE = "project.create"
PROJECT_UPDATE = "project.update"
PROJECT_DELETE = "project.delete"
PROJECT_MEMBERS = "project.members"
RUN_READ = "run.read"
RUN_CREATE = "run.create"
RUN_UPDATE = "run.update"
RUN_STOP = "run.stop"
RUN_DELETE = "run.delete"
ORG_MEMBERS = "organization.members"
USERS_MANAGE = "users.manage"
QUEUES_MANAGE = "queues.manage"
#: cap what projects, teams and users have running (quotas)
QUOTAS_MANAGE = "quotas.manage"
#: register agents and issue their tokens
AGENTS_MANAGE = "agents.manage"
#: act as an agent (claim its runs, report on them): its own token, or an owner
AGENTS_WORK = "agents.work"

ACTIONS: frozenset[str] = frozenset({
    PROJECT_READ, PROJECT_CREATE, PROJECT_UPDATE, PROJECT_DELETE, PROJECT_MEMBERS,
    RUN_READ, RUN_CREATE, RUN_UPDATE, RUN_STOP, RUN_DELETE, ORG_MEMBERS, USERS_MANAGE,
    QUEUES_MANAGE, QUOTAS_MANAGE, AGENTS_MANAGE, AGENTS_WORK,
})

_READ = {PROJECT_READ, RUN_READ}
_WORK = _READ | {RUN_CREATE, RUN_UPDATE, RUN_STOP}
_MANAGE_PROJECT = _WORK | {PROJECT_UPDATE, RUN_DELETE, PROJECT_MEMBERS}

#: organization role -> actions allowed on every project of the organization (highest first)
ORGANIZATION_ROLES: Mapping[str, frozenset[str]] = {
    "owner": ACTIONS,
    "manager": frozenset(_MANAGE_PROJECT | {PROJECT_CREATE, PROJECT_DELETE, ORG_MEMBERS,
                                            QUEUES_MANAGE, QUOTAS_MANAGE, AGENTS_MANAGE}),
    "admin": frozenset(_MANAGE_PROJECT | {PROJECT_CREATE, PROJECT_DELETE, QUEUES_MANAGE,
                                          QUOTAS_MANAGE, AGENTS_MANAGE}),
    "member": frozenset(_WORK | {PROJECT_CREATE}),
    "viewer": frozenset(_READ),
}

#: project role -> actions allowed on that project only (highest first)
PROJECT_ROLES: Mapping[str, frozenset[str]] = {
    "owner": frozenset(_MANAGE_PROJECT | {PROJECT_DELETE}),
    "admin": frozenset(_MANAGE_PROJECT),
    "member": frozenset(_WORK),
    "viewer": frozenset(_READ),
}


def highest_project_role(roles: Iterable[str | None]) -> str | None:
    """The role granting the most of ``roles`` (a user's own and their teams' on a project)."""
    given = [role for role in roles if role is not None]
    return min(given, key=list(PROJECT_ROLES).index) if given else None


def covers(granted: frozenset[str], role_actions: frozenset[str]) -> bool:
    """Whether someone allowed ``granted`` stands at or above a role allowed ``role_actions``.

    This is the roles' hierarchy: a role is above yours when it allows something you may
    not do. Nobody gives, changes or removes a role above their own.
    """
    return role_actions <= granted


def allowed_actions(organization_role: str | None, project_role: str | None) -> frozenset[str]:
    granted: set[str] = set()
    if organization_role is not None:
        granted |= ORGANIZATION_ROLES[organization_role]
    if project_role is not None:
        granted |= PROJECT_ROLES[project_role]
    return frozenset(granted)


def is_allowed(organization_role: str | None, project_role: str | None, action: str) -> bool:
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; known: {', '.join(sorted(ACTIONS))}")
    return action in allowed_actions(organization_role, project_role)
