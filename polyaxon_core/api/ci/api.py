"""CI endpoints: a project's members read its CI, those who may change the project link it
to a repository or unlink it; the webhook is public, authenticated by its HMAC signature
alone (``X-Hub-Signature-256``), and a call whose signature does not hold is a 401 that
changes nothing."""

from __future__ import annotations

from flask import request
from marshmallow import Schema, fields, validate

from polyaxon_core.api.common import Answer, dump, load_body
from polyaxon_core.api.extensions import server
from polyaxon_core.api.routing import PUBLIC, Reply, Route
from polyaxon_core.domain import ci
from polyaxon_core.domain.projects import get_project
from polyaxon_core.errors import PolyaxonError
from polyaxon_core.permissions import PROJECT_READ, PROJECT_UPDATE

CI_PATH = "/<owner>/<project>/ci"
#: the largest webhook body read (GitHub's push payloads stay well under it)
MAX_WEBHOOK_BYTES = 1 << 20


class CISchema(Schema):
    project = fields.String(required=True)
    enabled = fields.Boolean(required=True)
    connection = fields.String(allow_none=True, metadata={"description": "the catalog's git connection"})
    branch = fields.String(allow_none=True)
    polyaxonfile = fields.String(allow_none=True, metadata={"description": "its path in the repository"})
    last_commit = fields.String(allow_none=True, metadata={"description": "the last commit run"})
    checked_at = fields.String(allow_none=True)
    last_error = fields.String(allow_none=True, metadata={"description": "why the last check failed"})


class CIEnableSchema(Schema):
    connection = fields.String(required=True, validate=validate.Length(min=1, max=150))
    branch = fields.String(load_default="main", validate=validate.Length(min=1, max=256))
    polyaxonfile = fields.String(load_default="polyaxonfile.yaml", validate=validate.Length(min=1, max=1024))


class WebhookRefusal(PolyaxonError):
    http_status = 401


def ci_get(owner: str, project: str) -> Answer:
    """The project's CI: its repository, branch, last commit run and last error."""
    with server.session() as session:
        found = get_project(session, project, owner)
        payload = dump(CISchema, ci.ci_document(found, ci.find_ci(session, found)))
    return payload, 200


def ci_enable(owner: str, project: str) -> Answer:
    """Link the project to a git connection's branch (checked at once); 400 for a
    connection that is not a git one with a url."""
    body = load_body(CIEnableSchema)
    with server.session() as session:
        found = get_project(session, project, owner)
        linked = ci.enable_ci(session, found, connection=body["connection"], branch=body["branch"],
                              polyaxonfile=body["polyaxonfile"])
        payload = dump(CISchema, ci.ci_document(found, linked))
    server.ensure_orchestrator()
    return payload, 200


def ci_disable(owner: str, project: str) -> Answer:
    """Stop running the project's new commits (its link is kept, for `enable` again)."""
    with server.session() as session:
        found = get_project(session, project, owner)
        payload = dump(CISchema, ci.ci_document(found, ci.disable_ci(session, found)))
    return payload, 200


def ci_webhook(owner: str, project: str) -> Answer:
    """A push: ask for a check of the branch now. 404 when the project has no CI enabled;
    401 unless the body is signed with the connection's ``webhook_secret``; 202 once asked."""
    body = request.get_data(cache=False)[:MAX_WEBHOOK_BYTES + 1]
    with server.session() as session:
        found = get_project(session, project, owner)
        try:
            if len(body) > MAX_WEBHOOK_BYTES:
                raise ci.WebhookRefused("the body is larger than 1 MiB")
            ci.receive_webhook(session, found, body, request.headers.get(ci.SIGNATURE_HEADER))
        except ci.WebhookRefused as exc:
            raise WebhookRefusal(f"webhook refused: {exc}") from None
    server.ensure_orchestrator()
    return {"accepted": True}, 202


ROUTES = [
    Route("GET", CI_PATH, ci_get, PROJECT_READ, "ci", {200: Reply("the project's CI", CISchema)}),
    Route("PUT", CI_PATH, ci_enable, PROJECT_UPDATE, "ci", {200: Reply("linked", CISchema)},
          body=CIEnableSchema, errors=(422,)),
    Route("DELETE", CI_PATH, ci_disable, PROJECT_UPDATE, "ci", {200: Reply("unlinked", CISchema)}),
    Route("POST", f"{CI_PATH}/webhook", ci_webhook, PUBLIC, "ci",
          {202: Reply("a check of the branch is asked for")}, raw_body="application/json",
          errors=(401,)),
]
