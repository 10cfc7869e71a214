"""The organization's pages: queues and quotas (for everyone logged in), and users, teams and
plugins (for the organization's owners and admins, like `polyaxon admin`)."""

from __future__ import annotations

from typing import Any

from flask_appbuilder import BaseView, expose

from polyaxon_core.api.extensions import server
from polyaxon_core.api.security import organization_resource
from polyaxon_core.domain.projects import DEFAULT_OWNER
from polyaxon_core.permissions import QUEUES_MANAGE, USERS_MANAGE
from polyaxon_webapp.security import logged_in, may, require

ORGANIZATION = organization_resource(DEFAULT_OWNER)


class QueuesView(BaseView):  # type: ignore[misc]
    route_base = "/queues"
    default_view = "list"

    @expose("/")
    @logged_in
    def list(self) -> Any:
        from polyaxon_core.domain.queues import list_queues, queue_documents
        from polyaxon_core.domain.quotas import list_quotas, quota_documents

        with server.session() as session:
            rows = queue_documents(session, list_queues(session))
            quotas = quota_documents(session, list_quotas(session))
        return self.render_template(
            "polyaxon/queues.html", queues=rows, quotas=quotas, title="Queues", owner=DEFAULT_OWNER,
            can_manage=may(QUEUES_MANAGE, ORGANIZATION),
            default_concurrency=server.settings.default_concurrency)


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
