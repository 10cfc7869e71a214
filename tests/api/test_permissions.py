"""Every endpoint, every role: the answers follow the roles table of permissions.py.

The expectation for each request is derived, never written by hand: an endpoint's
action comes from its route (``Route.access``), what each role may do comes from
``polyaxon_core.permissions``. An endpoint served without a declared access, or without
an example request below, fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from polyaxon_core.api.extensions import EXTENSION_KEY
from polyaxon_core.api.routing import AUTHENTICATED, PUBLIC
from polyaxon_core.config import Settings
from polyaxon_core.db.models import Queue, Quota
from polyaxon_core.db.session import session_scope
from polyaxon_core.domain.agents import create_agent
from polyaxon_core.domain.dashboards import create_dashboard
from polyaxon_core.domain.projects import get_project
from polyaxon_core.domain.teams import create_team
from polyaxon_core.permissions import ACTIONS, is_allowed
from tests.api.conftest import (
    JOB,
    ORGANIZATION_ROLES,
    PROJECT_ROLES,
    Account,
    MakeUser,
    create_run,
    finish,
)


@dataclass(frozen=True)
class Role:
    label: str
    organization_role: str | None
    project_role: str | None


ROLES = [
    *(Role(f"organization {role}", role, None) for role in ORGANIZATION_ROLES),
    *(Role(f"project {role}", None, role) for role in PROJECT_ROLES),
    Role("outsider", None, None),
]


@dataclass
class Context:
    run: str
    dashboard: str = ""
    counter: int = 0

    def unique(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"


#: endpoint -> what to send besides the URL: {"json": ..., "query": ..., "data": ...}
EXAMPLES: dict[str, Callable[[Context], dict[str, Any]]] = {
    "healthz": lambda c: {},
    "openapi_document": lambda c: {},
    "swagger_ui": lambda c: {},
    "swagger_ui_asset": lambda c: {},
    "api.user_token_create": lambda c: {"json": {"username": "olivia", "password": "long enough password"}},
    "api.user_token_revoke": lambda c: {},
    "api.user_whoami": lambda c: {},
    "api.org_members_list": lambda c: {},
    "api.org_user_create": lambda c: {"json": {"username": c.unique("new"), "role": "viewer",
                                               "password": "long enough password"}},
    "api.org_user_get": lambda c: {},
    "api.org_user_update": lambda c: {"json": {"role": "viewer"}},
    "api.org_tokens_list": lambda c: {},
    "api.org_token_revoke": lambda c: {},
    "api.org_audit_list": lambda c: {"query": {"event": "login.failed,token.revoked"}},
    "api.user_password_change": lambda c: {"json": {"current_password": "wrong password",
                                                    "new_password": "a new long password"}},
    "api.teams_list": lambda c: {},
    "api.team_create": lambda c: {"json": {"name": c.unique("team")}},
    "api.team_get": lambda c: {},
    "api.team_update": lambda c: {"json": {"description": "changed"}},
    "api.team_delete": lambda c: {},
    "api.team_member_add": lambda c: {"json": {"user": "target"}},
    "api.team_member_remove": lambda c: {},
    "api.project_teams_list": lambda c: {},
    "api.project_team_set": lambda c: {"json": {"team": "crew", "role": "viewer"}},
    "api.project_team_remove": lambda c: {},
    "api.projects_list": lambda c: {},
    "api.project_create": lambda c: {"json": {"name": c.unique("new")}},
    "api.project_get": lambda c: {},
    "api.project_update": lambda c: {"json": {"description": "changed"}},
    "api.project_delete": lambda c: {},
    "api.project_members_list": lambda c: {},
    "api.project_member_add": lambda c: {"json": {"user": "target", "role": "viewer"}},
    "api.project_member_remove": lambda c: {},
    "api.runs_list": lambda c: {"query": {"query": "status:succeeded"}},
    "api.run_create": lambda c: {"json": {"content": JOB}},
    "api.run_get": lambda c: {},
    "api.run_update": lambda c: {"json": {"outputs": {"accuracy": 0.5}}},
    "api.run_delete": lambda c: {},
    "api.run_statuses": lambda c: {},
    "api.run_stop": lambda c: {},
    "api.run_restart": lambda c: {},
    "api.run_copy": lambda c: {},
    "api.run_resume": lambda c: {},
    "api.run_archive": lambda c: {},
    "api.run_restore": lambda c: {},
    "api.run_logs": lambda c: {},
    "api.run_metrics_log": lambda c: {"json": {"batch_id": c.unique("batch"),
                                               "metrics": [{"name": "loss", "value": 0.1}]}},
    "api.run_metrics": lambda c: {},
    "api.run_artifacts_tree": lambda c: {},
    "api.run_artifact_download": lambda c: {"query": {"path": "file.txt"}},
    "api.run_artifact_upload": lambda c: {"query": {"path": "file.txt"}, "data": b"content"},
    "api.run_lineage": lambda c: {},
    "api.run_lineage_record": lambda c: {"json": {"artifacts": [
        {"name": "notes", "kind": "text", "path": "notes.txt", "summary": {"size": 5}}]}},
    "api.run_status_report": lambda c: {"json": {"condition": {"type": "succeeded"}}},
    "streams.run_stream_logs": lambda c: {},
    "api.dashboards_list": lambda c: {},
    "api.dashboard_create": lambda c: {"json": {"name": c.unique("view"), "spec": {
        "query": "status:succeeded", "widgets": [{"kind": "histogram", "metric": "loss"}]}}},
    "api.dashboard_get": lambda c: {},
    "api.dashboard_update": lambda c: {"json": {"description": "changed"}},
    "api.dashboard_delete": lambda c: {},
    "api.queues_list": lambda c: {},
    "api.queue_create": lambda c: {"json": {"name": c.unique("queue")}},
    "api.queue_get": lambda c: {},
    "api.queue_update": lambda c: {"json": {"priority": 1}},
    "api.queue_delete": lambda c: {},
    "api.quotas_list": lambda c: {},
    "api.quota_create": lambda c: {"json": {"name": c.unique("quota"), "project": "p",
                                            "max_runs": 2}},
    "api.quota_get": lambda c: {},
    "api.quota_update": lambda c: {"json": {"cpu": "2"}},
    "api.quota_delete": lambda c: {},
    "api.run_notifications": lambda c: {},
    "api.ci_get": lambda c: {},
    "api.ci_enable": lambda c: {"json": {"connection": "code"}},
    "api.ci_disable": lambda c: {},
    "api.ci_webhook": lambda c: {"data": b"{}"},
    "api.agents_list": lambda c: {},
    "api.agent_create": lambda c: {"json": {"name": c.unique("agent"), "namespace": "team"}},
    "api.agent_delete": lambda c: {},
    "api.agent_claim": lambda c: {"json": {"limit": 1}},
    "api.agent_runs": lambda c: {},
    "api.agent_report": lambda c: {"json": {"status": "running"}},
    "api.versions_list": lambda c: {},
    "api.version_create": lambda c: {"json": {"name": c.unique("v"), "run": c.run}},
    "api.version_get": lambda c: {},
    "api.version_update": lambda c: {"json": {"description": "changed"}},
    "api.version_delete": lambda c: {},
    "api.version_stage": lambda c: {"json": {"stage": "staging", "message": "checked"}},
    "api.run_promote": lambda c: {"json": {"kind": "artifact", "name": c.unique("promoted")}},
    "api.hub_index": lambda c: {},
    "api.hub_component": lambda c: {},
    "services.proxy_service": lambda c: {},
    "rewrite_services.proxy_service": lambda c: {},
    "service_upstream": lambda c: {},
}

#: the values of the URLs' variables that are the same in every test
URL_VALUES = {"owner": "default", "user": "target", "username": "target", "team": "crew",
              "namespace": "local", "filename": "swagger-ui.css", "queue": "spare", "quota": "capped",
              "agent": "scout", "port": "8888", "rest": "lab", "kind": "artifact",
              "name": "stable", "component_owner": "default", "version": "1.0.yaml"}


def add_versions(settings: Settings, run: str) -> None:
    """The artifact version ``stable`` of ``run`` and the component version ``1.0`` of
    project ``p``, which the registry's examples read, change and delete."""
    from polyaxon_core.domain.listing import get_run
    from polyaxon_core.domain.versions import promote, push_component

    with session_scope(settings.db_url) as session:
        promote(session, get_run(session, run), "artifact", "stable")
        push_component(session, get_project(session, "p"), "1.0", JOB)


def _url(rule: str, context: Context) -> str:
    values = {**URL_VALUES, "project": "p", "uuid": context.run, "token_id": "999999",
              "dashboard": context.dashboard, "run": context.run}
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda match: values[match.group(1)], rule)


def _expected(access: str, role: Role | None, scoped_to_project: bool) -> str:
    """``allow``, ``deny`` (403) or ``unauthenticated`` (401)."""
    if access == PUBLIC:
        return "allow"
    if role is None:
        return "unauthenticated"
    if access == AUTHENTICATED:
        return "allow"
    project_role = role.project_role if scoped_to_project else None
    return "allow" if is_allowed(role.organization_role, project_role, access) else "deny"


def test_every_endpoint_answers_every_role_as_the_roles_table_says(
    app: Flask, client: FlaskClient, settings: Settings, make_user: MakeUser,
    new_token: Callable[[str], Account], owner: Account, project: str,
) -> None:
    make_user("target", organization_role=None, projects={"p": "viewer"})
    with session_scope(settings.db_url) as session:
        create_team(session, "crew")
        session.add(Queue(name="spare"))
        session.add(Quota(name="capped", project_id=get_project(session, "p").id, max_runs=4))
        create_agent(session, "scout", "scouts", None)
    users = {role.label: make_user(f"user{index}", organization_role=role.organization_role,
                                   projects={"p": role.project_role} if role.project_role else {})
             for index, role in enumerate(ROLES)}
    create_run(client, owner)  # unfinished: the project cannot be deleted under the test
    finished = create_run(client, owner)
    finish(settings, finished["uuid"])
    with session_scope(settings.db_url) as session:
        shared = create_dashboard(session, get_project(session, "p"), None, "shared view",
                                  {"query": "status:succeeded"}, shared=True)
        dashboard = shared.uuid
    context = Context(run=finished["uuid"], dashboard=dashboard)
    add_versions(settings, finished["uuid"])
    routes = app.extensions[EXTENSION_KEY].routes

    checked, failures = set(), []
    pages = app.extensions[EXTENSION_KEY].page_endpoints
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        if rule.endpoint in pages:
            continue  # the web UI's pages guard themselves (webapp/tests)
        route = routes.get(rule.endpoint)
        assert route is not None, f"{rule.rule} ({rule.endpoint}) is served without a Route"
        assert route.access in ACTIONS | {PUBLIC, AUTHENTICATED}, f"{rule.endpoint}: {route.access}"
        assert rule.endpoint in EXAMPLES, f"add an example request for {rule.endpoint}"
        scoped_to_project = "project" in rule.arguments
        for role in [*ROLES, None]:
            request = EXAMPLES[rule.endpoint](context)
            headers = new_token(users[role.label].username).headers if role else {}
            answer = client.open(_url(rule.rule, context), method=route.method, headers=headers,
                                 json=request.get("json"), query_string=request.get("query"),
                                 data=request.get("data"))
            expected = _expected(route.access, role, scoped_to_project)
            status = answer.status_code
            verdict = ("unauthenticated" if status == 401 else "deny" if status == 403
                       else "allow")
            checked.add(rule.endpoint)
            if verdict != expected or status >= 500:
                failures.append(f"{route.method} {rule.rule} as {role.label if role else 'anonymous'}"
                                f" ({route.access}): expected {expected}, got {status} "
                                f"{answer.get_data(as_text=True)[:200]}")
    assert failures == []
    assert checked == set(EXAMPLES)  # no example is left over from a removed endpoint
