"""Agent endpoints: the organization's owners, managers and admins (``agents.manage``)
register agents and get their tokens; an agent's token (``agents.work``, which only
owners have besides) claims the runs of its queues and reports on them, and does nothing
else (see :mod:`polyaxon_core.domain.agents`)."""

from __future__ import annotations

from typing import Any

from polyaxon_core.api.agents.schemas import (
    AgentCreatedSchema,
    AgentCreateSchema,
    AgentListSchema,
    AgentRunListSchema,
    AgentSchema,
    ClaimedSchema,
    ClaimSchema,
    ReportedSchema,
    ReportSchema,
)
from polyaxon_core.api.common import Answer, PageQuery, check_owner, dump, load_body, load_query, page
from polyaxon_core.api.extensions import server
from polyaxon_core.api.routing import Reply, Route
from polyaxon_core.api.security import current_user
from polyaxon_core.db.models import Agent, User
from polyaxon_core.domain import agents
from polyaxon_core.errors import Unprocessable
from polyaxon_core.permissions import AGENTS_MANAGE, AGENTS_WORK, PROJECT_READ


def agents_list(owner: str) -> Answer:
    """List the registered agents, with their runs under way and waiting."""
    check_owner(owner)
    arguments = load_query(PageQuery)
    offset, limit = arguments["offset"], arguments["limit"]
    with server.session() as session:
        from sqlalchemy import select

        every = session.scalars(select(Agent).order_by(Agent.name)).all()
        results = [dump(AgentSchema, agents.agent_document(session, agent))
                   for agent in every[offset:offset + limit]]
    return page(results, len(every), offset, limit), 200


def agent_create(owner: str) -> Answer:
    """Register an agent; the answer carries its token, once. A name in use is a 409."""
    check_owner(owner)
    body = load_body(AgentCreateSchema)
    user = current_user()
    with server.session() as session:
        row = session.get(User, user.id) if user.id is not None else None
        agent, key = agents.create_agent(session, body["name"], body["namespace"], row,
                                         body["description"])
        session.flush()
        return dump(AgentCreatedSchema, {**agents.agent_document(session, agent), "token": key}), 201


def agent_delete(owner: str, agent: str) -> Answer:
    """Forget an agent and revoke its tokens (409 while a run of it is unfinished)."""
    check_owner(owner)
    with server.session() as session:
        agents.delete_agent(session, agents.get_agent(session, agent))
    return "", 204


def agent_claim(owner: str, agent: str) -> Answer:
    """Claim runs of the agent's queues: each comes back as its launch request."""
    from polyaxon_core.plugins import UnknownPluginError

    check_owner(owner)
    body = load_body(ClaimSchema)
    with server.session() as session:
        row = agents.get_agent(session, agent)
        try:
            scheduler: Any = server.state.plugins.get("scheduler", body["scheduler"])
        except UnknownPluginError as exc:
            raise Unprocessable(f"{exc}: the server builds the runs' launch requests for the "
                                "agent's scheduler, so it needs that plugin too") from None
        launches = agents.claim(session, server.settings, row, body["limit"],
                                scheduler.run_globals(server.settings))
    return dump(ClaimedSchema, {"results": launches}), 200


def agent_runs(owner: str, agent: str) -> Answer:
    """The agent's started runs, their handles and stop requests: what it watches."""
    check_owner(owner)
    with server.session() as session:
        results = agents.active_runs(session, agents.get_agent(session, agent))
    return dump(AgentRunListSchema, {"results": results}), 200


def agent_report(owner: str, agent: str, run: str) -> Answer:
    """Report that a run was started (its handle) and / or a status the agent saw."""
    check_owner(owner)
    body = load_body(ReportSchema)
    with server.session() as session:
        answer = agents.report(session, agents.get_agent(session, agent), run, body)
    return dump(ReportedSchema, answer), 200


AGENT_PATH = "/orgs/<owner>/agents/<agent>"

ROUTES = [
    Route("GET", "/orgs/<owner>/agents", agents_list, PROJECT_READ, "agents",
          {200: Reply("a page of the agents", AgentListSchema)}, query=PageQuery),
    Route("POST", "/orgs/<owner>/agents", agent_create, AGENTS_MANAGE, "agents",
          {201: Reply("the new agent, with its token", AgentCreatedSchema)}, body=AgentCreateSchema,
          errors=(409,)),
    Route("DELETE", AGENT_PATH, agent_delete, AGENTS_MANAGE, "agents", {204: Reply("deleted")},
          errors=(409,)),
    Route("POST", f"{AGENT_PATH}/claim", agent_claim, AGENTS_WORK, "agents",
          {200: Reply("the runs claimed", ClaimedSchema)}, body=ClaimSchema, errors=(409, 422)),
    Route("GET", f"{AGENT_PATH}/runs", agent_runs, AGENTS_WORK, "agents",
          {200: Reply("the agent's started runs", AgentRunListSchema)}),
    Route("POST", f"{AGENT_PATH}/runs/<run>/report", agent_report, AGENTS_WORK, "agents",
          {200: Reply("the run's status after the report", ReportedSchema)}, body=ReportSchema),
]
