"""The organization's pages: queues (for everyone logged in), and users, teams and
plugins (for the organization's owners and admins, like `polyaxon admin`)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask_appbuilder import BaseView, expose
from sqlalchemy import select

from polyaxon_core.api.extensions import server
from polyaxon_core.api.security import organization_resource
from polyaxon_core.db.models import Run
from polyaxon_core.domain.projects import DEFAULT_OWNER
from polyaxon_core.lifecycle import ACTIVE_STATUSES, Status
from polyaxon_core.permissions import USERS_MANAGE
from polyaxon_webapp.security import logged_in, require

ORGANIZATION = organization_resource(DEFAULT_OWNER)


class QueuesView(BaseView):  # type: ignore[misc]
    route_base = "/queues"
    default_view = "list"

    @expose("/")
    @logged_in
    def list(self) -> Any:
        from polyaxon_core.domain.queues import list_queues

        with server.session() as session:
            queues = list_queues(session)
            waiting = Counter(session.scalars(
                select(Run.queue).where(Run.status == Status.QUEUED.value, Run.kind != "matrix")))
            running = Counter(session.scalars(
                select(Run.queue).where(Run.status.in_([s.value for s in ACTIVE_STATUSES]),
                                        Run.kind != "matrix")))
            rows = [{"name": queue.name, "priority": queue.priority,
                     "concurrency": queue.concurrency, "waiting": waiting.get(queue.name, 0),
                     "running": running.get(queue.name, 0)}
                    for queue in sorted(queues, key=lambda queue: (-queue.priority, queue.name))]
        return self.render_template("polyaxon/queues.html", queues=rows, title="Queues")


class UsersView(BaseView):  # type: ignore[misc]
    route_base = "/users"
    default_view = "list"

    @expose("/")
    @logged_in
    def list(self) -> Any:
        from polyaxon_core.domain.users import list_members

        require(USERS_MANAGE, ORGANIZATION)
        with server.session() as session:
            members = list_members(session, DEFAULT_OWNER)
        return self.render_template("polyaxon/users.html", members=members, title="Users")


class TeamsView(BaseView):  # type: ignore[misc]
    route_base = "/teams"
    default_view = "list"

    @expose("/")
    @logged_in
    def list(self) -> Any:
        from polyaxon_core.domain.teams import describe_team, list_teams

        require(USERS_MANAGE, ORGANIZATION)
        with server.session() as session:
            teams = [describe_team(session, team) for team in list_teams(session, DEFAULT_OWNER)]
        return self.render_template("polyaxon/teams.html", teams=teams, title="Teams")


class PluginsView(BaseView):  # type: ignore[misc]
    route_base = "/plugins"
    default_view = "list"

    @expose("/")
    @logged_in
    def list(self) -> Any:
        from polyaxon_core.cli.plugins import describe_plugins

        require(USERS_MANAGE, ORGANIZATION)
        reports = describe_plugins(server.state.plugins)
        return self.render_template("polyaxon/plugins.html", plugins=reports, title="Plugins")
