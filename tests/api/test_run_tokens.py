"""A run's own token: every endpoint, on its own run, on the runs it may read, on any
other run, project or user. The expectations are written out here, independently of
polyaxon_core.run_scope, so a change to the scope has to change this table too."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from polyaxon_core import accounts
from polyaxon_core.api.extensions import EXTENSION_KEY
from polyaxon_core.api.routing import PUBLIC
from polyaxon_core.config import Settings
from polyaxon_core.db.models import ApiToken, OrganizationMember, ProjectMember, Run
from polyaxon_core.db.session import session_scope
from polyaxon_core.domain.listing import get_run
from polyaxon_core.domain.projects import create_project
from tests.api.conftest import Account, MakeUser, create_run, finish
from tests.api.test_permissions import EXAMPLES, URL_VALUES, Context, add_versions

#: what a run's token may call on its own run
OWN_RUN = {"api.run_get", "api.run_statuses", "api.run_logs", "streams.run_stream_logs",
           "api.run_metrics", "api.run_artifacts_tree", "api.run_artifact_download",
           "api.run_lineage", "api.run_update", "api.run_metrics_log", "api.run_artifact_upload",
           "api.run_lineage_record", "api.run_promote"}
#: what it may call on its sweep and on the run it was restarted, copied or resumed from
RELATED_RUN = {"api.run_get", "api.run_statuses", "api.run_logs", "streams.run_stream_logs",
               "api.run_metrics", "api.run_artifacts_tree", "api.run_artifact_download",
               "api.run_lineage"}


def _run_token(settings: Settings, uuid: str, original: str | None = None) -> str:
    """A token issued to the run ``uuid`` (as the orchestrator issues it), the run
    optionally restarted from ``original``."""
    with session_scope(settings.db_url) as session:
        run = get_run(session, uuid)
        if original is not None:
            run.original = get_run(session, original)
        _, key = accounts.issue_token(session, run.user, name=f"run {uuid}", run_id=run.id)
    return key


def _url(rule: str, uuid: str, project: str) -> str:
    values = {**URL_VALUES, "project": project, "uuid": uuid, "token_id": "1",
              "dashboard": "0" * 32, "queue": "default", "run": uuid}
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda match: values[match.group(1)], rule)


def _roles_and_tokens(settings: Settings) -> tuple[list[tuple[str, str | None, str]], int]:
    with session_scope(settings.db_url) as session:
        roles = [(m.role, None, str(m.user_id)) for m in session.scalars(select(OrganizationMember))]
        roles += [(m.role, str(m.project_id), str(m.user_id))
                  for m in session.scalars(select(ProjectMember))]
        tokens = len(session.scalars(select(ApiToken)).all())
    return sorted(roles), tokens


def test_a_run_token_reaches_its_own_run_and_what_it_reads_and_nothing_else(
    app: Flask, client: FlaskClient, settings: Settings, make_user: MakeUser, owner: Account,
    project: str,
) -> None:
    make_user("target", organization_role=None, projects={"p": "viewer"})
    with session_scope(settings.db_url) as session:
        create_project(session, "q")
    original = create_run(client, owner)["uuid"]
    finish(settings, original)
    own = create_run(client, owner)["uuid"]
    finish(settings, own, "failed")  # finished, so that a wrongly allowed delete would act
    sibling = create_run(client, owner)["uuid"]
    finish(settings, sibling)
    elsewhere = create_run(client, owner, project="q")["uuid"]
    finish(settings, elsewhere)
    add_versions(settings, sibling)
    # the creator is an organization owner: whatever the token cannot do, the scope refuses
    key = _run_token(settings, own, original=original)
    # the scope is read when the token is used; the run is running again while it logs
    with session_scope(settings.db_url) as session:
        session.scalars(select(Run).where(Run.uuid == own)).one().status = "running"
    headers = {"Authorization": f"Token {key}"}
    before = _roles_and_tokens(settings)
    routes = app.extensions[EXTENSION_KEY].routes
    targets = {own: ("p", OWN_RUN), original: ("p", RELATED_RUN), sibling: ("p", set()),
               elsewhere: ("q", set())}

    failures, context = [], Context(run=own)
    pages = app.extensions[EXTENSION_KEY].page_endpoints
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        if rule.endpoint in pages:
            continue  # the web UI's pages: a run's token never opens a session
        route = routes[rule.endpoint]
        if route.access == PUBLIC:
            continue
        cases = ([(uuid, project_name, rule.endpoint in allowed)
                  for uuid, (project_name, allowed) in targets.items()]
                 if "uuid" in rule.arguments else [(own, "p", False), (own, "q", False)])
        for uuid, project_name, allowed in cases:
            example = EXAMPLES[rule.endpoint](context)
            answer = client.open(_url(rule.rule, uuid, project_name), method=route.method,
                                 headers=headers, json=example.get("json"),
                                 query_string=example.get("query"), data=example.get("data"))
            denied = answer.status_code == 403
            if denied == allowed or answer.status_code in (401,) or answer.status_code >= 500:
                failures.append(f"{route.method} {rule.rule} on {uuid[:8]} of {project_name}: "
                                f"expected {'allow' if allowed else 403}, got {answer.status_code} "
                                f"{answer.get_data(as_text=True)[:160]}")
    assert failures == []
    assert _roles_and_tokens(settings) == before  # no role, membership or token changed


def test_a_run_token_cannot_change_meta_info_of_its_own_run(
    client: FlaskClient, settings: Settings, owner: Account, project: str,
) -> None:
    own = create_run(client, owner)["uuid"]
    headers = {"Authorization": f"Token {_run_token(settings, own)}"}
    answer = client.patch(f"/api/v1/default/p/runs/{own}", headers=headers,
                          json={"meta_info": {"matrix": {"resume_from": "0" * 32}}})
    assert answer.status_code == 403 and "meta_info" in answer.json["message"]
    logged = client.patch(f"/api/v1/default/p/runs/{own}", headers=headers,
                          json={"outputs": {"accuracy": 0.9}, "tags": ["a"]})
    assert logged.status_code == 200 and logged.json["outputs"] == {"accuracy": 0.9}


def test_the_creators_roles_never_widen_a_run_token_and_narrow_it(
    client: FlaskClient, settings: Settings, make_user: MakeUser, owner: Account, project: str,
    new_token: Callable[[str], Account],
) -> None:
    member = make_user("mia", organization_role=None, projects={"p": "member"})
    own = create_run(client, member)["uuid"]
    key = _run_token(settings, own)
    headers = {"Authorization": f"Token {key}"}
    # the member's own token may do this; the run's token may not
    assert client.get("/api/v1/default/p/runs", headers=new_token("mia").headers).status_code == 200
    assert client.get("/api/v1/default/p/runs", headers=headers).status_code == 403
    assert client.post("/api/v1/default/p/members", headers=headers,
                       json={"user": "mia", "role": "owner"}).status_code == 403
    # demoted to viewer, the creator's run may no longer log
    with session_scope(settings.db_url) as session:
        accounts.set_project_role(session, get_run(session, own).project,
                                  accounts.get_user(session, "mia"), "viewer")
    assert client.patch(f"/api/v1/default/p/runs/{own}", headers=headers,
                        json={"outputs": {"a": 1}}).status_code == 403
    assert client.get(f"/api/v1/default/p/runs/{own}", headers=headers).status_code == 200


def test_a_run_token_is_refused_once_the_run_ended(
    client: FlaskClient, settings: Settings, owner: Account, project: str,
) -> None:
    own = create_run(client, owner)["uuid"]
    headers = {"Authorization": f"Token {_run_token(settings, own)}"}
    assert client.get(f"/api/v1/default/p/runs/{own}", headers=headers).status_code == 200
    finish(settings, own)
    assert client.get(f"/api/v1/default/p/runs/{own}", headers=headers).status_code == 401
