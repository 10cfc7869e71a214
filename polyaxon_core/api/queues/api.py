"""Queue endpoints: everyone in the organization sees the queues, what runs in them and
what waits; its owners, managers and admins (``queues.manage``) create, change and delete
them."""

from __future__ import annotations

from typing import Any

from polyaxon_core.api.common import Answer, PageQuery, check_owner, dump, load_body, load_query, page
from polyaxon_core.api.extensions import server
from polyaxon_core.api.queues.schemas import (
    QueueCreateSchema,
    QueueListSchema,
    QueueSchema,
    QueueUpdateSchema,
)
from polyaxon_core.api.routing import Reply, Route
from polyaxon_core.domain import queues
from polyaxon_core.permissions import PROJECT_READ, QUEUES_MANAGE


def _payload(session: Any, queue: Any) -> dict[str, Any]:
    return dump(QueueSchema, queues.queue_documents(session, [queue])[0])


def queues_list(owner: str) -> Answer:
    """List the queues, highest priority first, with their running and waiting runs."""
    check_owner(owner)
    arguments = load_query(PageQuery)
    offset, limit = arguments["offset"], arguments["limit"]
    with server.session() as session:
        every = queues.list_queues(session)
        documents = queues.queue_documents(session, every[offset:offset + limit])
        results = [dump(QueueSchema, document) for document in documents]
    return page(results, len(every), offset, limit), 200


def queue_create(owner: str) -> Answer:
    """Create a queue. A name in use is a 409."""
    check_owner(owner)
    body = load_body(QueueCreateSchema)
    with server.session() as session:
        queue = queues.create_queue(session, body["name"], body["priority"],
                                    body["concurrency"] or server.settings.default_concurrency)
        return _payload(session, queue), 201


def queue_get(owner: str, queue: str) -> Answer:
    """Read a queue, what runs in it and what waits."""
    check_owner(owner)
    with server.session() as session:
        return _payload(session, queues.get_queue(session, queue)), 200


def queue_update(owner: str, queue: str) -> Answer:
    """Change a queue's priority or concurrency; the next runs start by the new values."""
    check_owner(owner)
    body = load_body(QueueUpdateSchema)
    with server.session() as session:
        row = queues.update_queue(queues.get_queue(session, queue), **body)
        session.flush()
        return _payload(session, row), 200


def queue_delete(owner: str, queue: str) -> Answer:
    """Delete a queue none of whose runs is unfinished (409 otherwise)."""
    check_owner(owner)
    with server.session() as session:
        queues.delete_queue(session, queue)
    return "", 204


_QUEUE = Reply("the queue", QueueSchema)
# an agent's queue is `<agent>/<queue>`: the name may hold one '/'
QUEUE_PATH = "/orgs/<owner>/queues/<path:queue>"

ROUTES = [
    Route("GET", "/orgs/<owner>/queues", queues_list, PROJECT_READ, "queues",
          {200: Reply("a page of the queues", QueueListSchema)}, query=PageQuery),
    Route("POST", "/orgs/<owner>/queues", queue_create, QUEUES_MANAGE, "queues",
          {201: Reply("the new queue", QueueSchema)}, body=QueueCreateSchema, errors=(409,)),
    Route("GET", QUEUE_PATH, queue_get, PROJECT_READ, "queues", {200: _QUEUE}),
    Route("PATCH", QUEUE_PATH, queue_update, QUEUES_MANAGE, "queues", {200: _QUEUE},
          body=QueueUpdateSchema),
    Route("DELETE", QUEUE_PATH, queue_delete, QUEUES_MANAGE, "queues",
          {204: Reply("deleted")}, errors=(409,)),
]
