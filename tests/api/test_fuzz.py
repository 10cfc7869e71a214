"""Fuzzing the OpenAPI document with schemathesis and all its checks: no server error,
no answer the document does not describe (status, content type, headers, body), valid
input accepted and invalid input refused, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import hypothesis
import pytest
import schemathesis
import schemathesis.specs.openapi.checks  # registers the OpenAPI checks
from flask import Flask
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from schemathesis.checks import CHECKS as REGISTERED_CHECKS
from schemathesis.generation import GenerationMode

from polyaxon_core import accounts
from polyaxon_core.api.app import create_app
from polyaxon_core.config import Settings
from polyaxon_core.db.session import migrate, session_scope
from polyaxon_core.domain.projects import create_project
from tests.api.conftest import JOB, Account, create_run, finish
from tests.conftest import _empty_postgres

#: every check schemathesis has: server errors, conformance of statuses, content types,
#: headers and bodies to the document, and whether valid input is accepted, invalid input
#: refused, authentication enforced, deleted resources gone
CHECKS = REGISTERED_CHECKS.get_all()
EXAMPLES_PER_OPERATION = 25

# the languages the document names as formats: what valid texts of them look like
schemathesis.openapi.format("polyaxon-query", st.sampled_from([
    "status:succeeded", "status:running|queued, metrics.loss:<0.1", "name:%job%",
    "(tags:api OR inputs.sleep:>1) AND created_at:>=2026-01-01", "status:~failed"]))
schemathesis.openapi.format("polyaxon-sort", st.sampled_from([
    "-created_at", "name,-metrics.accuracy", "-updated_at,inputs.sleep"]))
schemathesis.openapi.format("polyaxonfile", st.just(JOB))


@dataclasses.dataclass
class Backend:
    """One server application on one database, with what the cases may aim at."""

    name: str
    settings: Settings
    app: Flask
    known: dict[str, str]

    def fresh_headers(self) -> dict[str, str]:
        """A new token of the owner: a fuzzed DELETE /users/token revokes the one used."""
        with session_scope(self.settings.db_url) as session:
            _, key = accounts.issue_token(session, accounts.get_user(session, "olivia"))
        return {"Authorization": f"Token {key}"}


def _backend(name: str, db_url: str, home: Path) -> Backend:
    """An application on ``db_url`` with owner olivia, project p and two runs of it (one
    finished, which the cases that use known values aim at)."""
    home.mkdir()
    settings = Settings(home=home, db_url=db_url, scheduler="local", store="local",
                        poll_interval=0.05, stop_grace_period=1.0)
    with session_scope(db_url) as session:
        create_project(session, "p")
        user = accounts.create_user(session, "olivia", "long enough password",
                                    organization_role="owner")
        owner = Account("olivia", accounts.issue_token(session, user)[1])
    app = create_app(settings, max_upload_bytes=4096)
    client = app.test_client()
    create_run(client, owner)
    finished = create_run(client, owner)
    finish(settings, finished["uuid"])
    return Backend(name, settings, app, {"owner": "default", "project": "p",
                                         "uuid": finished["uuid"], "namespace": "local",
                                         "user": "olivia"})


@pytest.mark.slow
@pytest.mark.postgres
def test_fuzzing_finds_no_server_error_and_no_answer_outside_the_document(
    postgres_database: str, tmp_path: Path
) -> None:
    # each case is generated once (generating is most of the work) and sent to both
    _empty_postgres(postgres_database)
    sqlite_url = f"sqlite:///{tmp_path / 'polyaxon.db'}"
    migrate(sqlite_url)
    backends = [_backend("sqlite", sqlite_url, tmp_path / "sqlite"),
                _backend("postgresql", postgres_database, tmp_path / "postgresql")]
    app = backends[0].app
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    # no text may hold NUL (PostgreSQL cannot store it; test_malformed_input checks the
    # 400), which JSON Schema cannot say of free-form objects such as `meta_info`;
    # credentials are ours to send (a fresh token each time, below)
    schema.config.generation.update(allow_x00=False, with_security_parameters=False)
    # texts of the query language (formats above) cannot be described by JSON Schema, so
    # no strings taken from the source code are put in them as "valid"
    schema.config.analysis.constants.enabled = False
    # a polyaxonfile's rules and a password's are beyond JSON Schema: a valid document may
    # still be an invalid polyaxonfile or a refused password, which is a 422
    acceptance = schema.config.checks.positive_data_acceptance
    acceptance.expected_statuses = [*acceptance.expected_statuses, "422"]
    failures: list[str] = []
    operations = 0
    answered: Counter[int] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @hypothesis.settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                                 derandomize=True, suppress_health_check=list(HealthCheck),
                                 phases=[hypothesis.Phase.generate])
            @given(case=operation.as_strategy(generation_mode=mode), use_known=st.booleans())
            def call(case: schemathesis.Case, use_known: bool) -> None:
                generated = dict(case.path_parameters or {})
                for backend in backends:
                    if use_known:  # half of the cases aim at resources that exist
                        case.path_parameters = {name: backend.known.get(name, value)
                                                for name, value in generated.items()}
                    try:
                        response = case.call_and_validate(headers=backend.fresh_headers(),
                                                          checks=CHECKS, app=backend.app)
                    except (Exception, BaseExceptionGroup) as failure:
                        failure.add_note(f"on {backend.name}")
                        raise
                    answered[response.status_code] += 1

            try:
                call()
            except hypothesis.errors.Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to get wrong: no parameters
            except (Exception, BaseExceptionGroup) as failure:  # collect all, then report
                where = " ".join(getattr(failure, "__notes__", []))
                failures.append(f"{operation.label} ({mode}, {where}): {failure}")
    assert not failures, "\n\n".join(failures)
    assert operations >= 30 and len(CHECKS) >= 14, CHECKS
    # the requests reached the views, not only the input checks
    assert {200, 201, 204, 400, 404, 409} <= set(answered), answered
