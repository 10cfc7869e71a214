"""Quota endpoints: everyone in the organization sees the quotas and what they hold; its
owners, managers and admins (``quotas.manage``) create, change and delete them."""

from __future__ import annotations

from typing import Any

from polyaxon_core.api.common import Answer, PageQuery, check_owner, dump, load_body, load_query, page
from polyaxon_core.api.extensions import server
from polyaxon_core.api.quotas.schemas import (
    QuotaCreateSchema,
    QuotaListSchema,
    QuotaSchema,
    QuotaUpdateSchema,
)
from polyaxon_core.api.routing import Reply, Route
from polyaxon_core.domain import quotas
from polyaxon_core.permissions import PROJECT_READ, QUOTAS_MANAGE


def _payload(session: Any, quota: Any) -> dict[str, Any]:
    return dump(QuotaSchema, quotas.quota_documents(session, [quota])[0])


def quotas_list(owner: str) -> Answer:
    """List the quotas by name, with what each has in use and holds back."""
    check_owner(owner)
    arguments = load_query(PageQuery)
    offset, limit = arguments["offset"], arguments["limit"]
    with server.session() as session:
        every = quotas.list_quotas(session)
        documents = quotas.quota_documents(session, every[offset:offset + limit])
        results = [dump(QuotaSchema, document) for document in documents]
    return page(results, len(every), offset, limit), 200


def quota_create(owner: str) -> Answer:
    """Create a quota of one project, team or user. A name in use is a 409."""
    check_owner(owner)
    body = load_body(QuotaCreateSchema)
    with server.session() as session:
        quota = quotas.create_quota(session, owner, **body)
        return _payload(session, quota), 201


def quota_get(owner: str, quota: str) -> Answer:
    """Read a quota and what it holds."""
    check_owner(owner)
    with server.session() as session:
        return _payload(session, quotas.get_quota(session, quota)), 200


def quota_update(owner: str, quota: str) -> Answer:
    """Change a quota's caps (null removes one); the next claims use them."""
    check_owner(owner)
    body = load_body(QuotaUpdateSchema)
    with server.session() as session:
        row = quotas.update_quota(quotas.get_quota(session, quota), **body)
        session.flush()
        return _payload(session, row), 200


def quota_delete(owner: str, quota: str) -> Answer:
    """Delete a quota; the runs it held start as their queues allow."""
    check_owner(owner)
    with server.session() as session:
        quotas.delete_quota(session, quota)
    return "", 204


_QUOTA = Reply("the quota", QuotaSchema)
QUOTA_PATH = "/orgs/<owner>/quotas/<quota>"

ROUTES = [
    Route("GET", "/orgs/<owner>/quotas", quotas_list, PROJECT_READ, "quotas",
          {200: Reply("a page of the quotas", QuotaListSchema)}, query=PageQuery),
    Route("POST", "/orgs/<owner>/quotas", quota_create, QUOTAS_MANAGE, "quotas",
          {201: Reply("the new quota", QuotaSchema)}, body=QuotaCreateSchema,
          errors=(404, 409, 422)),
    Route("GET", QUOTA_PATH, quota_get, PROJECT_READ, "quotas", {200: _QUOTA}),
    Route("PATCH", QUOTA_PATH, quota_update, QUOTAS_MANAGE, "quotas", {200: _QUOTA},
          body=QuotaUpdateSchema, errors=(422,)),
    Route("DELETE", QUOTA_PATH, quota_delete, QUOTAS_MANAGE, "quotas", {204: Reply("deleted")}),
]
