"""What a run's own token may do: the run-token scope.

A token issued to a run (``api_tokens.run_id``, see :mod:`polyaxon_core.client.run_access`)
is what the run's tracking SDK logs with. The code in the run is not trusted the way
its creator is, so the token is scoped to the run, whatever its creator's roles:

* on **its own run**: read it (the run, its statuses, logs, metrics, artifacts) and log
  to it (inputs, outputs, tags, name, description through ``PATCH``; metrics; artifact
  uploads) — not stop, restart, copy, resume, archive, restore or delete it, and not
  change its ``meta_info`` (the orchestrator's own bookkeeping lives there);
* on **the runs it legitimately reads**: its sweep (``pipeline``), the run it was
  restarted, copied or resumed from (``original``), and the trial whose checkpoints it
  continues (``meta_info.matrix.resume_from``), all in its own project: read only;
* **nothing else**: no other run, no project (not even the run list or the members of
  its own), no user, token or membership, no plugin route. It cannot issue tokens.

The scope narrows what the creator's roles allow and never widens it: a request must
pass both this check and the ordinary authorization
(:func:`polyaxon_core.api.security.is_allowed`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from polyaxon_core.db.models import ApiToken, Run
from polyaxon_core.permissions import RUN_READ, RUN_UPDATE

#: endpoints (view names) a run's token may call on its own run, with the action each needs
OWN_RUN_ENDPOINTS: Mapping[str, str] = {
    "run_get": RUN_READ,
    "run_statuses": RUN_READ,
    "run_logs": RUN_READ,
    "run_stream_logs": RUN_READ,
    "run_metrics": RUN_READ,
    "run_artifacts_tree": RUN_READ,
    "run_artifact_download": RUN_READ,
    "run_lineage": RUN_READ,
    "run_update": RUN_UPDATE,
    "run_metrics_log": RUN_UPDATE,
    "run_artifact_upload": RUN_UPDATE,
    "run_lineage_record": RUN_UPDATE,
    "run_promote": RUN_UPDATE,
}

#: endpoints a run's token may call on the runs it reads (its sweep, its original)
RELATED_RUN_ENDPOINTS: frozenset[str] = frozenset(
    endpoint for endpoint, action in OWN_RUN_ENDPOINTS.items() if action == RUN_READ
)


@dataclass(frozen=True)
class RunScope:
    """The run a token belongs to, and the other runs of its project it may read."""

    run_uuid: str
    owner: str
    project: str
    readable_uuids: frozenset[str] = frozenset()


def run_scope_of(session: Session, token: ApiToken) -> RunScope | None:
    """The scope of ``token``: None for a user's token, a :class:`RunScope` for a run's."""
    if token.run_id is None:
        return None
    run = session.get(Run, token.run_id)
    if run is None:  # the run was deleted: the token reaches nothing
        return RunScope(run_uuid="", owner="", project="")
    related = {
        run.pipeline.uuid if run.pipeline is not None else None,
        run.original.uuid if run.original is not None else None,
        ((run.meta_info or {}).get("matrix") or {}).get("resume_from"),
    }
    return RunScope(
        run_uuid=run.uuid, owner=run.project.owner, project=run.project.name,
        readable_uuids=frozenset(str(uuid) for uuid in related if uuid),
    )


def _normalized(uuid: str) -> str:
    # the API accepts a uuid in any case and with dashes; prefixes never match a scope
    return uuid.strip().lower().replace("-", "")


def run_token_allows(scope: RunScope, endpoint: str | None, action: str,
                     resource: Mapping[str, Any]) -> bool:
    """Whether a request to ``endpoint`` (a view name; None for a check made outside a
    core route) needing ``action`` on ``resource`` stays inside ``scope``.

    Only the endpoints listed above, on a run of the token's own project, pass; the
    action must be the one the endpoint needs (a view checking a second resource with
    :func:`~polyaxon_core.api.security.require` is held to the same list).
    """
    if resource.get("kind") != "run" or endpoint is None or not scope.run_uuid:
        return False
    if (resource.get("owner"), resource.get("project")) != (scope.owner, scope.project):
        return False
    uuid = _normalized(str(resource.get("uuid", "")))
    if uuid == _normalized(scope.run_uuid):
        return OWN_RUN_ENDPOINTS.get(endpoint) == action
    if uuid in {_normalized(related) for related in scope.readable_uuids}:
        return endpoint in RELATED_RUN_ENDPOINTS and action == RUN_READ
    return False
