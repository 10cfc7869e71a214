"""`GET /auth-request/v1/services`: where a gateway passes a service's request on. Only a
caller who may read a running service's run learns its address; every other request is
left to the server (no `X-Polyaxon-Upstream`), which answers it as its own proxy does."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient

from polyaxon_core import accounts
from polyaxon_core.config import Settings
from polyaxon_core.db.session import session_scope
from polyaxon_core.domain.listing import get_run
from tests.api.conftest import Account, MakeUser, create_run

UPSTREAM = "/auth-request/v1/services"


def _serve(settings: Settings, uuid: str, status: str = "running") -> str:
    """Make run ``uuid`` a service of port 8888 listening on 127.0.0.1:45678; its base."""
    base = f"/services/v1/local/default/p/runs/{uuid}/8888"
    with session_scope(settings.db_url) as session:
        run = get_run(session, uuid)
        run.kind, run.runtime, run.status = "service", "service", status
        run.meta_info = {"service": {"base_urls": [base], "ports": [8888]}}
        run.scheduler_handle = {"service": {"host": "127.0.0.1", "ports": {"8888": 45678}}}
    return base


def _upstream(client: FlaskClient, uri: str, headers: dict[str, str] | None = None) -> str | None:
    answer = client.get(UPSTREAM, headers={"X-Original-URI": uri, **(headers or {})})
    assert answer.status_code == 200 and answer.data == b""
    assert answer.headers["Cache-Control"] == "private, no-store"
    return answer.headers.get("X-Polyaxon-Upstream")


def test_only_a_reader_of_a_running_service_learns_where_it_listens(
    client: FlaskClient, settings: Settings, make_user: MakeUser,
    new_token: Callable[[str], Account], owner: Account, project: str,
) -> None:
    uuid = create_run(client, owner)["uuid"]
    base = _serve(settings, uuid)
    make_user("viewer", organization_role=None, projects={"p": "viewer"})
    make_user("outsider", organization_role=None)
    with session_scope(settings.db_url) as session:
        run = get_run(session, uuid)
        _, run_key = accounts.issue_token(session, run.user, name=f"run {uuid}", run_id=run.id)
    job = create_run(client, owner)["uuid"]

    assert _upstream(client, base + "/lab?x=1", owner.headers) == "127.0.0.1:45678"
    assert _upstream(client, base, new_token("viewer").headers) == "127.0.0.1:45678"
    assert _upstream(client, base.replace("/services/", "/rewrite-services/") + "/a",
                     owner.headers) is None  # the service is not at that path
    for uri, headers in [
        (base + "/lab", {}),                                               # nobody
        (base + "/lab", {"Authorization": "Token not-a-token"}),            # a wrong token
        (base + "/lab", new_token("outsider").headers),                    # may not read it
        (base + "/lab", {"Authorization": f"Token {run_key}"}),            # a run's own token
        (base + "/%2e%2e/8889/lab", owner.headers),                        # leaves the prefix
        (base.replace("/8888", "/8889") + "/lab", owner.headers),           # a port not declared
        (f"/services/v1/local/default/p/runs/{job}/8888/", owner.headers),  # not a service
        (f"/services/v1/local/default/q/runs/{uuid}/8888/", owner.headers),  # another project
        ("/api/v1/default/p", owner.headers),                              # not a service's path
        ("", owner.headers),
    ]:
        assert _upstream(client, uri, headers) is None, uri
    _serve(settings, uuid, status="stopped")
    assert _upstream(client, base + "/lab", owner.headers) is None
