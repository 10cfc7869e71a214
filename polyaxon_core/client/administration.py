"""Users, roles, tokens, teams and the audit log, wherever they are kept.

:class:`LocalAdministration` works on the database directly, as the local administrator
(whoever can open the database file can do anything to it; the audit log records them as
actor null). :class:`RemoteAdministration` goes through a server's API as the logged-in
user, so the server applies the roles' hierarchy. Both apply the rules that hold for
everyone: the password rules, and the last owner stays.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from polyaxon_core.client.api import ApiClient


class Administration(ABC):
    """What ``polyaxon admin``, ``polyaxon teams`` and ``polyaxon project members`` do;
    answers are JSON-like dicts."""

    where: str

    @abstractmethod
    def list_users(self) -> list[dict[str, Any]]:
        """Every user with ``username``, ``email``, ``role``, ``is_active``, ``created_at``."""

    @abstractmethod
    def create_user(self, username: str, password: str, email: str | None,
                    role: str | None) -> dict[str, Any]: ...

    @abstractmethod
    def update_user(self, username: str, **changes: Any) -> dict[str, Any]:
        """``role`` (None: outsider), ``is_active``, ``password``."""

    @abstractmethod
    def list_tokens(self, username: str | None, include_inactive: bool,
                    limit: int) -> tuple[int, list[dict[str, Any]]]: ...

    @abstractmethod
    def revoke_token(self, token_id: int) -> None: ...

    @abstractmethod
    def audit(self, events: Sequence[str], actor: str | None, since: datetime | None,
              limit: int) -> tuple[int, list[dict[str, Any]]]:
        """The newest ``limit`` matching events (newest first) and how many match."""

    @abstractmethod
    def project_members(self, project: str) -> list[dict[str, Any]]:
        """The users added to ``project``: ``user``, ``role``, ``created_at``."""

    @abstractmethod
    def set_project_member(self, project: str, username: str, role: str | None) -> None:
        """Give ``username`` ``role`` on ``project`` (None removes them)."""

    @abstractmethod
    def dashboards(self, project: str) -> list[dict[str, Any]]:
        """The dashboards of ``project`` you see (the local administrator: all of them)."""

    @abstractmethod
    def list_queues(self) -> list[dict[str, Any]]:
        """The queues, highest priority first, with ``running``, ``waiting`` and ``next``."""

    @abstractmethod
    def set_queue(self, name: str, priority: int | None, concurrency: int | None) -> dict[str, Any]:
        """Create queue ``name`` or change its priority and / or concurrency."""

    @abstractmethod
    def delete_queue(self, name: str) -> None: ...

    @abstractmethod
    def list_quotas(self) -> list[dict[str, Any]]:
        """The quotas by name, each with its subject, caps, ``used`` and ``waiting``."""

    @abstractmethod
    def create_quota(self, name: str, subject: dict[str, str], caps: dict[str, Any]) -> dict[str, Any]:
        """A new quota of ``subject`` (one of ``project``, ``team``, ``user``) with ``caps``."""

    @abstractmethod
    def update_quota(self, name: str, caps: dict[str, Any]) -> dict[str, Any]:
        """Change quota ``name``'s caps (a cap given as None is removed)."""

    @abstractmethod
    def delete_quota(self, name: str) -> None: ...

    @abstractmethod
    def list_agents(self) -> list[dict[str, Any]]: ...

    @abstractmethod
    def create_agent(self, name: str, namespace: str, description: str | None,
                     username: str | None) -> dict[str, Any]:
        """Register an agent; the answer's ``token`` is its token, shown once (issued for
        ``username`` locally, else the first organization owner; for you through a server)."""

    @abstractmethod
    def delete_agent(self, name: str) -> None: ...

    @abstractmethod
    def list_teams(self) -> list[dict[str, Any]]: ...

    @abstractmethod
    def get_team(self, name: str) -> dict[str, Any]: ...

    @abstractmethod
    def create_team(self, name: str, description: str | None) -> dict[str, Any]: ...

    @abstractmethod
    def delete_team(self, name: str) -> None: ...

    @abstractmethod
    def set_team_member(self, team: str, username: str, member: bool) -> None: ...

    @abstractmethod
    def set_team_role(self, team: str, project: str, role: str | None) -> None:
        """Give ``team`` ``role`` on ``project`` (None takes its role away)."""


class LocalAdministration(Administration):
    def __init__(self, db_url: str, database: Callable[[], AbstractContextManager[Session]],
                 default_concurrency: int) -> None:
        self.database = database
        self.where = f"database {db_url}"
        self.default_concurrency = default_concurrency

    def list_users(self) -> list[dict[str, Any]]:
        from polyaxon_core.domain.users import list_members

        with self.database() as session:
            return [asdict(member) for member in list_members(session)]

    def create_user(self, username: str, password: str, email: str | None,
                    role: str | None) -> dict[str, Any]:
        from polyaxon_core.accounts import create_user
        from polyaxon_core.domain.audit import record
        from polyaxon_core.domain.users import member

        with self.database() as session:
            create_user(session, username, password, email=email, organization_role=role)
            record(session, "user.created", target=f"user:{username}", role=role)
            return asdict(member(session, username))

    def update_user(self, username: str, **changes: Any) -> dict[str, Any]:
        from polyaxon_core.accounts import get_user, organization_role, set_organization_role
        from polyaxon_core.domain import users
        from polyaxon_core.domain.audit import record

        target = f"user:{username}"
        with self.database() as session:
            user = get_user(session, username)
            if "role" in changes:
                before = organization_role(session, user)
                if before != changes["role"]:
                    set_organization_role(session, user, changes["role"])
                    record(session, "organization.role_changed", target=target,
                           role_before=before, role_after=changes["role"])
            if "is_active" in changes and users.set_active(session, user, changes["is_active"]):
                record(session, "user.reactivated" if changes["is_active"] else "user.deactivated",
                       target=target)
            if "password" in changes:
                revoked = users.set_password(session, user, changes["password"])
                record(session, "user.password_changed", target=target, revoked_tokens=revoked)
            session.flush()
            return asdict(users.member(session, username))

    def list_tokens(self, username: str | None, include_inactive: bool,
                    limit: int) -> tuple[int, list[dict[str, Any]]]:
        from polyaxon_core.domain.users import list_tokens

        with self.database() as session:
            tokens, count = list_tokens(session, username, include_inactive=include_inactive,
                                        limit=limit)
            return count, [{**asdict(token), "state": token.state} for token in tokens]

    def revoke_token(self, token_id: int) -> None:
        from polyaxon_core.domain.audit import record
        from polyaxon_core.domain.users import revoke_token_id

        with self.database() as session:
            token = revoke_token_id(session, token_id)
            record(session, "token.revoked", target=f"token:{token.id}",
                   user=token.user.username, name=token.name, prefix=token.prefix)

    def audit(self, events: Sequence[str], actor: str | None, since: datetime | None,
              limit: int) -> tuple[int, list[dict[str, Any]]]:
        from polyaxon_core.domain.audit import list_events

        with self.database() as session:
            rows, count = list_events(session, events=events, actor=actor, since=since,
                                      limit=limit)
            return count, [{"id": row.id, "event": row.event, "actor": row.actor,
                            "address": row.address, "target": row.target,
                            "detail": row.detail, "created_at": row.created_at}
                           for row in rows]

    def project_members(self, project: str) -> list[dict[str, Any]]:
        from sqlalchemy import select

        from polyaxon_core.db.models import ProjectMember, User
        from polyaxon_core.domain.projects import get_project

        with self.database() as session:
            row = get_project(session, project)
            return [{"user": username, "role": member.role, "created_at": member.created_at}
                    for member, username in session.execute(
                        select(ProjectMember, User.username)
                        .join(User, User.id == ProjectMember.user_id)
                        .where(ProjectMember.project_id == row.id).order_by(User.username))]

    def set_project_member(self, project: str, username: str, role: str | None) -> None:
        from polyaxon_core.accounts import get_user, project_role, set_project_role
        from polyaxon_core.domain.audit import record
        from polyaxon_core.domain.projects import get_project
        from polyaxon_core.errors import NotFound

        with self.database() as session:
            row, user = get_project(session, project), get_user(session, username)
            if role is None and project_role(session, user.id, row) is None:
                raise NotFound(f"{username} is not a member of project default/{project}")
            before = set_project_role(session, row, user, role)
            record(session, "project.member_changed", target=f"project:default/{project}",
                   user=username, role_before=before, role_after=role)

    def dashboards(self, project: str) -> list[dict[str, Any]]:
        from polyaxon_core.domain import dashboards
        from polyaxon_core.domain.projects import get_project

        with self.database() as session:
            return [dashboards.dashboard_document(row) for row in
                    dashboards.list_dashboards(session, get_project(session, project), None)]

    def list_queues(self) -> list[dict[str, Any]]:
        from polyaxon_core.domain import queues

        with self.database() as session:
            return queues.queue_documents(session, queues.list_queues(session))

    def set_queue(self, name: str, priority: int | None, concurrency: int | None) -> dict[str, Any]:
        from polyaxon_core.domain import queues

        with self.database() as session:
            queue = queues.set_queue(session, name, priority, concurrency,
                                     self.default_concurrency)
            session.flush()
            return queues.queue_documents(session, [queue])[0]

    def delete_queue(self, name: str) -> None:
        from polyaxon_core.domain import queues

        with self.database() as session:
            queues.delete_queue(session, name)

    def list_quotas(self) -> list[dict[str, Any]]:
        from polyaxon_core.domain import quotas

        with self.database() as session:
            return quotas.quota_documents(session, quotas.list_quotas(session))

    def create_quota(self, name: str, subject: dict[str, str], caps: dict[str, Any]) -> dict[str, Any]:
        from polyaxon_core.domain import quotas
        from polyaxon_core.domain.projects import DEFAULT_OWNER

        with self.database() as session:
            quota = quotas.create_quota(session, DEFAULT_OWNER, name, **subject, **caps)
            return quotas.quota_documents(session, [quota])[0]

    def update_quota(self, name: str, caps: dict[str, Any]) -> dict[str, Any]:
        from polyaxon_core.domain import quotas

        with self.database() as session:
            quota = quotas.update_quota(quotas.get_quota(session, name), **caps)
            session.flush()
            return quotas.quota_documents(session, [quota])[0]

    def delete_quota(self, name: str) -> None:
        from polyaxon_core.domain import quotas

        with self.database() as session:
            quotas.delete_quota(session, name)

    def list_agents(self) -> list[dict[str, Any]]:
        from sqlalchemy import select

        from polyaxon_core.db.models import Agent
        from polyaxon_core.domain import agents

        with self.database() as session:
            return [agents.agent_document(session, row)
                    for row in session.scalars(select(Agent).order_by(Agent.name))]

    def create_agent(self, name: str, namespace: str, description: str | None,
                     username: str | None) -> dict[str, Any]:
        from sqlalchemy import select

        from polyaxon_core.db.models import OrganizationMember, User
        from polyaxon_core.domain import agents
        from polyaxon_core.errors import NotFound

        with self.database() as session:
            if username is not None:
                user = session.scalar(select(User).where(User.username == username))
                if user is None:
                    raise NotFound(f"no user is called {username!r}; list them with "
                                   "`polyaxon admin users`")
            else:  # the token acts as the agent only, whoever it is issued for
                user = session.scalar(select(User).join(
                    OrganizationMember, OrganizationMember.user_id == User.id).where(
                    OrganizationMember.role == "owner").order_by(User.id).limit(1))
            agent, key = agents.create_agent(session, name, namespace, user, description)
            session.flush()
            return {**agents.agent_document(session, agent), "token": key}

    def delete_agent(self, name: str) -> None:
        from polyaxon_core.domain import agents

        with self.database() as session:
            agents.delete_agent(session, agents.get_agent(session, name))

    def list_teams(self) -> list[dict[str, Any]]:
        from polyaxon_core.domain import teams

        with self.database() as session:
            return [asdict(teams.describe_team(session, team))
                    for team in teams.list_teams(session)]

    def get_team(self, name: str) -> dict[str, Any]:
        from polyaxon_core.domain import teams

        with self.database() as session:
            return asdict(teams.describe_team(session, teams.get_team(session, name)))

    def create_team(self, name: str, description: str | None) -> dict[str, Any]:
        from polyaxon_core.domain import teams
        from polyaxon_core.domain.audit import record

        with self.database() as session:
            team = teams.create_team(session, name, description)
            record(session, "team.created", target=f"team:default/{name}")
            return asdict(teams.describe_team(session, team))

    def delete_team(self, name: str) -> None:
        from polyaxon_core.domain import teams
        from polyaxon_core.domain.audit import record

        with self.database() as session:
            team = teams.get_team(session, name)
            info = teams.describe_team(session, team)
            teams.delete_team(session, team)
            record(session, "team.deleted", target=f"team:default/{name}",
                   members=list(info.members), projects=info.projects)

    def set_team_member(self, team: str, username: str, member: bool) -> None:
        from polyaxon_core.domain import teams
        from polyaxon_core.domain.audit import record

        with self.database() as session:
            if teams.set_team_member(session, teams.get_team(session, team), username, member):
                record(session, "team.member_changed", target=f"team:default/{team}",
                       user=username, member=member)

    def set_team_role(self, team: str, project: str, role: str | None) -> None:
        from polyaxon_core.domain import teams
        from polyaxon_core.domain.audit import record
        from polyaxon_core.domain.projects import get_project

        with self.database() as session:
            before = teams.set_team_role(session, teams.get_team(session, team),
                                         get_project(session, project), role)
            record(session, "team.project_changed", target=f"project:default/{project}",
                   team=team, role_before=before, role_after=role)


class RemoteAdministration(Administration):
    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.where = f"server {client.host}"
        self.org = f"/api/v1/orgs/{client.owner}"

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None,
              params: dict[str, Any] | None = None) -> Any:
        from polyaxon_core.client.remote import with_datetimes

        response = self.client.transport.request(method, path, json_body=body, params=params)
        if method == "DELETE":
            return None
        return with_datetimes(response.json())

    def _all(self, path: str) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        while True:
            page = self._call("GET", path, params={"offset": len(results), "limit": 1000})
            results.extend(page["results"])
            if not page["results"] or len(results) >= page["count"]:
                return results

    def list_users(self) -> list[dict[str, Any]]:
        return self._all(f"{self.org}/members")

    def create_user(self, username: str, password: str, email: str | None,
                    role: str | None) -> dict[str, Any]:
        answer: dict[str, Any] = self._call("POST", f"{self.org}/users", {
            "username": username, "password": password, "email": email, "role": role})
        return answer

    def update_user(self, username: str, **changes: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self._call("PATCH", f"{self.org}/users/{username}", changes)
        return answer

    def list_tokens(self, username: str | None, include_inactive: bool,
                    limit: int) -> tuple[int, list[dict[str, Any]]]:
        params: dict[str, Any] = {"limit": min(limit, 1000), "all": str(include_inactive).lower()}
        if username:
            params["user"] = username
        page = self._call("GET", f"{self.org}/tokens", params=params)
        return int(page["count"]), page["results"]

    def revoke_token(self, token_id: int) -> None:
        self._call("DELETE", f"{self.org}/tokens/{token_id}")

    def audit(self, events: Sequence[str], actor: str | None, since: datetime | None,
              limit: int) -> tuple[int, list[dict[str, Any]]]:
        params: dict[str, Any] = {"limit": min(limit, 1000)}
        if events:
            params["event"] = ",".join(events)
        if actor:
            params["actor"] = actor
        if since:
            params["since"] = since.isoformat()
        page = self._call("GET", f"{self.org}/audit", params=params)
        return int(page["count"]), page["results"]

    def project_members(self, project: str) -> list[dict[str, Any]]:
        return self._all(f"/api/v1/{self.client.owner}/{project}/members")

    def set_project_member(self, project: str, username: str, role: str | None) -> None:
        path = f"/api/v1/{self.client.owner}/{project}/members"
        if role is None:
            self._call("DELETE", f"{path}/{username}")
        else:
            self._call("POST", path, {"user": username, "role": role})

    def dashboards(self, project: str) -> list[dict[str, Any]]:
        return self._all(f"/api/v1/{self.client.owner}/{project}/dashboards")

    def list_queues(self) -> list[dict[str, Any]]:
        return self._all(f"{self.org}/queues")

    def set_queue(self, name: str, priority: int | None, concurrency: int | None) -> dict[str, Any]:
        from polyaxon_core.client.errors import ResourceNotFound

        changes = {key: value for key, value in (("priority", priority),
                                                 ("concurrency", concurrency)) if value is not None}
        try:
            answer: dict[str, Any] = self._call("PATCH", f"{self.org}/queues/{name}", changes)
        except ResourceNotFound:
            answer = self._call("POST", f"{self.org}/queues", {"name": name, **changes})
        return answer

    def delete_queue(self, name: str) -> None:
        self._call("DELETE", f"{self.org}/queues/{name}")

    def list_quotas(self) -> list[dict[str, Any]]:
        return self._all(f"{self.org}/quotas")

    def create_quota(self, name: str, subject: dict[str, str], caps: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self._call("POST", f"{self.org}/quotas",
                                            {"name": name, **subject, **caps})
        return answer

    def update_quota(self, name: str, caps: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self._call("PATCH", f"{self.org}/quotas/{name}", caps)
        return answer

    def delete_quota(self, name: str) -> None:
        self._call("DELETE", f"{self.org}/quotas/{name}")

    def list_agents(self) -> list[dict[str, Any]]:
        return self._all(f"{self.org}/agents")

    def create_agent(self, name: str, namespace: str, description: str | None,
                     username: str | None) -> dict[str, Any]:
        answer: dict[str, Any] = self._call("POST", f"{self.org}/agents", {
            "name": name, "namespace": namespace, "description": description})
        return answer

    def delete_agent(self, name: str) -> None:
        self._call("DELETE", f"{self.org}/agents/{name}")

    def list_teams(self) -> list[dict[str, Any]]:
        return self._all(f"{self.org}/teams")

    def get_team(self, name: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._call("GET", f"{self.org}/teams/{name}")
        return answer

    def create_team(self, name: str, description: str | None) -> dict[str, Any]:
        answer: dict[str, Any] = self._call("POST", f"{self.org}/teams",
                                            {"name": name, "description": description})
        return answer

    def delete_team(self, name: str) -> None:
        self._call("DELETE", f"{self.org}/teams/{name}")

    def set_team_member(self, team: str, username: str, member: bool) -> None:
        if member:
            self._call("POST", f"{self.org}/teams/{team}/members", {"user": username})
        else:
            self._call("DELETE", f"{self.org}/teams/{team}/members/{username}")

    def set_team_role(self, team: str, project: str, role: str | None) -> None:
        path = f"/api/v1/{self.client.owner}/{project}/teams"
        if role is None:
            self._call("DELETE", f"{path}/{team}")
        else:
            self._call("POST", path, {"team": team, "role": role})
